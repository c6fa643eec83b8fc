import Anthropic from '@anthropic-ai/sdk';
import {betaTool} from '@anthropic-ai/sdk/helpers/beta/json-schema';
import {describe, expect, it} from 'vitest';

import {instrumentAnthropic} from '../../src/sdk/index.js';
import {anthropicToolResults, startScriptedModel, type ScriptedModel} from '../helpers/scripted-model.js';
import {tempDir} from '../helpers/tmp.js';
import {approveThePendingCall, expectTrailVerifies, LOOP_POLICY, sdkEnv, expectProviderScenarioRecords, toolCallEvents} from './helpers.js';

const PATH_SCHEMA = {type: 'object', properties: {path: {type: 'string'}}, required: ['path']} as const;
const WRITE_SCHEMA = {type: 'object', properties: {path: {type: 'string'}, text: {type: 'string'}}, required: ['path', 'text']} as const;

/** The tools of the agent, and what each was asked to do. */
function agentTools() {
  const ran: string[] = [];
  return {
    ran,
    fns: {
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
  };
}

/**
 * The scripted model: reads and deletes in one turn, then writes; the write needs approval, which
 * a person gives (from this test process, with `thoth approve`) before the model retries it.
 */
function script(
  home: string,
  seen: {afterFirst?: ReturnType<typeof anthropicToolResults>; afterWrite?: ReturnType<typeof anthropicToolResults>},
) {
  return [
    () => ({
      calls: [
        {name: 'read_file', input: {path: 'notes.txt'}},
        {name: 'delete_file', input: {path: 'notes.txt'}},
      ],
    }),
    (request: Record<string, unknown>) => {
      seen.afterFirst = anthropicToolResults(request);
      return {calls: [{name: 'write_file', input: {path: 'out.txt', text: 'hello'}}]};
    },
    async (request: Record<string, unknown>) => {
      seen.afterWrite = anthropicToolResults(request);
      await approveThePendingCall(home, 'write_file');
      return {calls: [{name: 'write_file', input: {path: 'out.txt', text: 'hello'}}]};
    },
    () => ({text: 'done'}),
  ];
}

function client(model: ScriptedModel): Anthropic {
  return new Anthropic({apiKey: 'test-key', baseURL: model.anthropicBaseUrl, maxRetries: 0});
}

describe('instrumentAnthropic with the real @anthropic-ai/sdk against a scripted model', () => {
  it("the SDK's tool runner: allowed calls run, a blocked one reaches the model as is_error, a step-up approved with thoth approve passes on retry, the trail verifies", async () => {
    const home = await tempDir();
    const seen: Parameters<typeof script>[1] = {};
    const model = await startScriptedModel(script(home, seen));
    const {ran, fns} = agentTools();
    const warnings: string[] = [];
    const tools = instrumentAnthropic(fns, {
      agentId: 'sdk-e2e',
      policy: LOOP_POLICY,
      env: sdkEnv(home),
      onWarning: (m) => warnings.push(m),
    });
    try {
      const final = await client(model).beta.messages.toolRunner({
        model: 'scripted-model',
        max_tokens: 256,
        messages: [{role: 'user', content: 'tidy up notes.txt'}],
        tools: [
          betaTool({name: 'read_file', description: 'Read a file', inputSchema: PATH_SCHEMA, run: tools.run.read_file}),
          betaTool({name: 'write_file', description: 'Write a file', inputSchema: WRITE_SCHEMA, run: tools.run.write_file}),
          betaTool({name: 'delete_file', description: 'Delete a file', inputSchema: PATH_SCHEMA, run: tools.run.delete_file}),
        ],
      });
      expect(final.content).toEqual([{type: 'text', text: 'done'}]);
    } finally {
      await tools.session.close();
      await model.close();
    }

    // Only what policy allowed ran; the write ran once, after the approval.
    expect(ran).toEqual(['read notes.txt', 'write out.txt']);
    expect(seen.afterFirst).toEqual([
      {toolUseId: expect.any(String), text: 'contents of notes.txt', isError: false},
      {toolUseId: expect.any(String), text: expect.stringContaining('thoth: tool "delete_file" was blocked:'), isError: true},
    ]);
    const stepUp = seen.afterWrite?.[0];
    expect(stepUp?.isError).toBe(true);
    expect(stepUp?.text).toMatch(
      /needs approval: writes need a person's approval\. A person must approve it outside this session: .*review approval [a-z0-9]+ \(`thoth approvals list`\)/,
    );
    // The model is never told the command that approves (an agent with a shell would run it); the operator is.
    expect(stepUp?.text).not.toContain('thoth approve ');
    expect(warnings.some((w) => /run in your own terminal: thoth approve [a-z0-9]+/.test(w))).toBe(true);

    const events = await expectTrailVerifies(home);
    // The runner runs the calls of one turn concurrently: their records may interleave.
    expectProviderScenarioRecords(events);
    const read = events.find((event) => event.type === 'TOOL_CALL_PRE' && event['toolName'] === 'read_file')!;
    expect(read).toMatchObject({
      sourceType: 'agent_tool_call',
      agentId: 'sdk-e2e',
      content: '{"path":"notes.txt"}',
      sessionToolCalls: [],
      requestId: expect.stringMatching(/^"toolu_/),
    });
    const lastPost = events.filter((event) => event.type === 'TOOL_CALL_POST').at(-1)!;
    expect(lastPost).toMatchObject({outcome: 'result', content: '"{\\"written\\":5}"', sessionToolCalls: ['read_file', 'write_file']});
    expect(events.map((event) => event.type)).toEqual(
      expect.arrayContaining(['SESSION_START', 'POLICY_LOADED', 'APPROVAL_REQUESTED', 'APPROVAL_USED', 'SESSION_END']),
    );
    expect(events.find((event) => event.type === 'SESSION_START')).toMatchObject({sdk: {program: expect.any(String)}});
  });

  it('a hand-written Messages loop with toolResults: the same decisions, tool_result blocks with is_error for refusals and for a tool that throws', async () => {
    const home = await tempDir();
    const model = await startScriptedModel([
      () => ({
        calls: [
          {name: 'read_file', input: {path: 'a.txt'}},
          {name: 'delete_file', input: {path: 'a.txt'}},
          {name: 'read_file', input: {path: 'missing.txt'}},
          {name: 'no_such_tool', input: {}},
        ],
      }),
      () => ({text: 'finished'}),
    ]);
    const tools = instrumentAnthropic(
      {
        read_file: async ({path}: {path: string}) => {
          if (path === 'missing.txt') throw new Error(`ENOENT: ${path}`);
          return [{type: 'text' as const, text: `contents of ${path}`}];
        },
        delete_file: async () => 'deleted',
      },
      {agentId: 'sdk-e2e', policy: LOOP_POLICY, env: sdkEnv(home), onWarning: () => undefined},
    );
    const anthropic = client(model);
    const messages: Anthropic.MessageParam[] = [{role: 'user', content: 'go'}];
    try {
      for (;;) {
        const message = await anthropic.messages.create({model: 'scripted-model', max_tokens: 256, messages});
        if (message.stop_reason !== 'tool_use') break;
        messages.push({role: 'assistant', content: message.content});
        messages.push({role: 'user', content: await tools.toolResults(message)});
      }
    } finally {
      await tools.session.close();
      await model.close();
    }
    expect(anthropicToolResults(model.requests[1]!)).toEqual([
      {toolUseId: expect.any(String), text: '[{"type":"text","text":"contents of a.txt"}]', isError: false},
      {toolUseId: expect.any(String), text: expect.stringContaining('Error: thoth: tool "delete_file" was blocked:'), isError: true},
      {toolUseId: expect.any(String), text: 'Error: ENOENT: missing.txt', isError: true},
      {toolUseId: expect.any(String), text: 'Error: there is no tool named "no_such_tool"', isError: true},
    ]);
    const events = await expectTrailVerifies(home);
    expect(toolCallEvents(events)).toEqual([
      ['TOOL_CALL_PRE', 'read_file', 'allow'],
      ['TOOL_CALL_POST', 'read_file', 'allow'],
      ['TOOL_CALL_PRE', 'delete_file', 'block'],
      ['TOOL_CALL_POST', 'delete_file', 'block'],
      ['TOOL_CALL_PRE', 'read_file', 'allow'],
      ['TOOL_CALL_POST', 'read_file', 'allow'],
    ]);
    expect(events.filter((event) => event.type === 'TOOL_CALL_POST').at(-1)).toMatchObject({
      outcome: 'error',
      content: expect.stringContaining('ENOENT'),
    });
  });
});
