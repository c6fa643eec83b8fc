import OpenAI from 'openai';
import {describe, expect, it} from 'vitest';

import {instrumentOpenAI} from '../../src/sdk/index.js';
import {openaiToolMessages, startScriptedModel, type ScriptedModel} from '../helpers/scripted-model.js';
import {tempDir} from '../helpers/tmp.js';
import {approveThePendingCall, expectTrailVerifies, LOOP_POLICY, sdkEnv, expectProviderScenarioRecords, toolCallEvents} from './helpers.js';

const PATH_PARAMETERS = {type: 'object', properties: {path: {type: 'string'}}, required: ['path']};
const WRITE_PARAMETERS = {type: 'object', properties: {path: {type: 'string'}, text: {type: 'string'}}, required: ['path', 'text']};

function client(model: ScriptedModel): OpenAI {
  return new OpenAI({apiKey: 'test-key', baseURL: model.openaiBaseUrl, maxRetries: 0});
}

describe('instrumentOpenAI with the real openai package against a scripted model', () => {
  it('runTools: allowed calls run, a blocked one reaches the model as the tool message, a step-up approved with thoth approve passes on retry, the trail verifies', async () => {
    const home = await tempDir();
    const seen: {afterFirst?: ReturnType<typeof openaiToolMessages>; afterWrite?: ReturnType<typeof openaiToolMessages>} = {};
    const model = await startScriptedModel([
      () => ({
        calls: [
          {name: 'read_file', input: {path: 'notes.txt'}},
          {name: 'delete_file', input: {path: 'notes.txt'}},
        ],
      }),
      (request) => {
        seen.afterFirst = openaiToolMessages(request);
        return {calls: [{name: 'write_file', input: {path: 'out.txt', text: 'hello'}}]};
      },
      async (request) => {
        seen.afterWrite = openaiToolMessages(request);
        await approveThePendingCall(home, 'write_file');
        return {calls: [{name: 'write_file', input: {path: 'out.txt', text: 'hello'}}]};
      },
      () => ({text: 'done'}),
    ]);
    const ran: string[] = [];
    const tools = instrumentOpenAI(
      {
        read_file: async ({path}: {path: string}) => {
          ran.push(`read ${path}`);
          return `contents of ${path}`;
        },
        write_file: async ({path, text}: {path: string; text: string}) => {
          ran.push(`write ${path}`);
          return {written: text.length};
        },
        delete_file: async ({path}: {path: string}) => {
          ran.push(`delete ${path}`);
          return 'deleted';
        },
      },
      {agentId: 'sdk-e2e', policy: LOOP_POLICY, env: sdkEnv(home), onWarning: () => undefined},
    );
    try {
      const runner = client(model).chat.completions.runTools({
        model: 'scripted-model',
        messages: [{role: 'user', content: 'tidy up notes.txt'}],
        tools: [
          // One with `parse` (the function gets an object), two without (it gets the model's JSON text).
          {
            type: 'function',
            function: {
              name: 'read_file',
              description: 'Read a file',
              parameters: PATH_PARAMETERS,
              function: tools.functions.read_file,
              parse: JSON.parse,
            },
          },
          {
            type: 'function',
            function: {name: 'write_file', description: 'Write a file', parameters: WRITE_PARAMETERS, function: tools.functions.write_file},
          },
          {
            type: 'function',
            function: {
              name: 'delete_file',
              description: 'Delete a file',
              parameters: PATH_PARAMETERS,
              function: tools.functions.delete_file,
            },
          },
        ],
      });
      expect(await runner.finalContent()).toBe('done');
    } finally {
      await tools.session.close();
      await model.close();
    }

    expect(ran).toEqual(['read notes.txt', 'write out.txt']);
    expect(seen.afterFirst).toEqual([
      {toolCallId: expect.any(String), content: 'contents of notes.txt'},
      {toolCallId: expect.any(String), content: expect.stringMatching(/^Error: thoth: tool "delete_file" was blocked: /)},
    ]);
    const stepUp = seen.afterWrite?.[0]?.content ?? '';
    expect(stepUp).toMatch(/^Error: thoth: tool "write_file" needs approval: .*review approval [a-z0-9]+ \(`thoth approvals list`\)/);
    expect(stepUp).not.toContain('thoth approve ');

    const events = await expectTrailVerifies(home);
    expectProviderScenarioRecords(events);
    expect(events.find((event) => event.type === 'TOOL_CALL_PRE' && event['toolName'] === 'write_file')).toMatchObject({
      sourceType: 'agent_tool_call',
      content: '{"path":"out.txt","text":"hello"}',
    });
    expect(events.map((event) => event.type)).toEqual(expect.arrayContaining(['APPROVAL_REQUESTED', 'APPROVAL_USED']));
  });

  it('a hand-written Chat Completions loop with toolMessages; arguments that are not JSON are answered without running anything', async () => {
    const home = await tempDir();
    const model = await startScriptedModel([() => ({calls: [{name: 'read_file', input: {path: 'a.txt'}}]}), () => ({text: 'finished'})]);
    const tools = instrumentOpenAI(
      {read_file: async ({path}: {path: string}) => ({path, size: 3})},
      {agentId: 'sdk-e2e', policy: LOOP_POLICY, env: sdkEnv(home), onWarning: () => undefined},
    );
    const openai = client(model);
    const messages: OpenAI.ChatCompletionMessageParam[] = [{role: 'user', content: 'go'}];
    try {
      for (;;) {
        const completion = await openai.chat.completions.create({model: 'scripted-model', messages});
        const message = completion.choices[0]!.message;
        if (!message.tool_calls?.length) break;
        messages.push(message);
        messages.push(...(await tools.toolMessages(message)));
      }
      expect(await tools.toolMessage({id: 'call_x', type: 'function', function: {name: 'read_file', arguments: '{"path": '}})).toEqual({
        role: 'tool',
        tool_call_id: 'call_x',
        content: expect.stringMatching(/^Error: the arguments of "read_file" are not valid JSON/),
      });
    } finally {
      await tools.session.close();
      await model.close();
    }
    expect(openaiToolMessages(model.requests[1]!)).toEqual([{toolCallId: expect.any(String), content: '{"path":"a.txt","size":3}'}]);
    const events = await expectTrailVerifies(home);
    expect(toolCallEvents(events)).toEqual([
      ['TOOL_CALL_PRE', 'read_file', 'allow'],
      ['TOOL_CALL_POST', 'read_file', 'allow'],
    ]);
  });
});
