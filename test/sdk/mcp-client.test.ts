import {CallToolResultSchema} from '@modelcontextprotocol/sdk/types.js';
import {describe, expect, it} from 'vitest';

import {governClient, ToolCallRefusedError} from '../../src/sdk/index.js';
import {connect, SERVER_EVERYTHING, type Connection} from '../helpers/mcp.js';
import {tempDir} from '../helpers/tmp.js';
import {E2E_POLICY, RUG_PULL_SERVER} from '../policy/session.js';
import {approveThePendingCall, expectTrailVerifies, sdkEnv, toolCallEvents} from './helpers.js';

/** Every tools/call the client put on the wire to the server: what the server was asked to run. */
function wireCalls(connection: Connection): string[] {
  const sent: string[] = [];
  const send = connection.transport.send.bind(connection.transport);
  connection.transport.send = (...args: Parameters<typeof send>) => {
    const candidate = args[0] as {method?: string; params?: {name?: string}};
    if (candidate.method === 'tools/call') sent.push(String(candidate.params?.name));
    return send(...args);
  };
  return sent;
}

async function refusal(work: Promise<unknown>): Promise<ToolCallRefusedError> {
  try {
    const result = await work;
    throw new Error(`expected a refusal, got ${JSON.stringify(result).slice(0, 200)}`);
  } catch (error) {
    if (!(error instanceof ToolCallRefusedError)) throw error;
    return error;
  }
}

function text(result: unknown): string {
  return ((result as {content: Array<{text?: string}>}).content[0]?.text ?? '').trim();
}

describe('governClient over a real MCP session (official SDK Client, server-everything over stdio)', () => {
  it('filters listTools by policy, allows, blocks and steps up callTool (and raw tools/call requests) as thoth run does; refused calls never reach the server', async () => {
    const home = await tempDir();
    const connection = await connect(SERVER_EVERYTHING);
    const sent = wireCalls(connection);
    const client = governClient(connection.client, {
      agentId: 'everything',
      policy: E2E_POLICY,
      env: sdkEnv(home),
      onWarning: () => undefined,
    });
    try {
      // Block mode: what the policy can never allow is not even listed.
      expect((await client.listTools()).tools.map((tool) => tool.name).sort()).toEqual(['echo', 'get-sum', 'get-tiny-image']);
      expect(text(await client.callTool({name: 'echo', arguments: {message: 'hello'}}))).toBe('Echo: hello');

      const blocked = await refusal(client.callTool({name: 'get-env', arguments: {}}));
      expect(blocked.code).toBe(-32001);
      expect(blocked.data).toMatchObject({
        decision: 'block',
        ruleId: 'rule:never-env',
        agentId: 'everything',
        tool: 'get-env',
        mode: 'block',
      });
      // The same call through the Client's generic request method is governed too.
      const raw = await refusal(client.request({method: 'tools/call', params: {name: 'get-env', arguments: {}}}, CallToolResultSchema));
      expect(raw.data['ruleId']).toBe('rule:never-env');
      // Keys that a case-insensitive server would read as one are refused before any decision.
      const ambiguous = await refusal(client.callTool({name: 'echo', arguments: {message: 'hi', MESSAGE: 'password'}}));
      expect(ambiguous.code).toBe(-32600);

      const stepped = await refusal(client.callTool({name: 'get-sum', arguments: {a: 5000, b: 1}}));
      expect(stepped.code).toBe(-32002);
      expect(stepped.data).toMatchObject({decision: 'step_up', ruleId: 'rule:big-sums', approvalChannel: 'local'});
      expect(await approveThePendingCall(home, 'get-sum')).toBe(stepped.approvalId);
      expect(text(await client.callTool({name: 'get-sum', arguments: {a: 5000, b: 1}}))).toBe('The sum of 5000 and 1 is 5001.');

      // The experimental task API has no governed path: refused, not sent.
      const stream = client.experimental.tasks.callToolStream({name: 'echo', arguments: {message: 'streamed'}});
      const first = (await stream.next()).value as {type: string; error?: unknown};
      expect(first.type).toBe('error');
      expect(first.error).toBeInstanceOf(ToolCallRefusedError);
    } finally {
      await client.close();
    }
    expect(sent).toEqual(['echo', 'get-sum']);

    const {sessionOf} = await import('../../src/sdk/index.js');
    await sessionOf(client)!.close();
    const events = await expectTrailVerifies(home);
    expect(toolCallEvents(events)).toEqual([
      ['TOOL_CALL_PRE', 'echo', 'allow'],
      ['TOOL_CALL_POST', 'echo', 'allow'],
      ['TOOL_CALL_PRE', 'get-env', 'block'],
      ['TOOL_CALL_POST', 'get-env', 'block'],
      ['TOOL_CALL_PRE', 'get-env', 'block'],
      ['TOOL_CALL_POST', 'get-env', 'block'],
      ['TOOL_CALL_PRE', 'get-sum', 'step_up'],
      ['TOOL_CALL_POST', 'get-sum', 'step_up'],
      ['TOOL_CALL_PRE', 'get-sum', 'allow'],
      ['TOOL_CALL_POST', 'get-sum', 'allow'],
    ]);
    expect(events.find((event) => event.type === 'TOOL_CALL_POST' && event['toolName'] === 'echo')).toMatchObject({
      outcome: 'result',
      content: expect.stringContaining('Echo: hello'),
    });
    expect(events.map((event) => event.type)).toEqual(
      expect.arrayContaining(['TOOLS_HIDDEN', 'PIN_RECORDED', 'MESSAGE_REFUSED', 'APPROVAL_REQUESTED', 'APPROVAL_USED']),
    );
    expect(events.find((event) => event.type === 'SESSION_START')).toMatchObject({
      sdk: {server: {name: connection.client.getServerVersion()?.name}},
    });
  });

  it('names the agent after the server by default', async () => {
    const home = await tempDir();
    const connection = await connect(SERVER_EVERYTHING);
    const client = governClient(connection.client, {env: sdkEnv(home), onWarning: () => undefined});
    const {sessionOf} = await import('../../src/sdk/index.js');
    try {
      expect((await sessionOf(client)!.ready()).agentId).toBe(connection.client.getServerVersion()?.name);
    } finally {
      await sessionOf(client)!.close();
      await client.close();
    }
  });

  it('a tool definition swapped by a hostile server is shown as it was pinned and its calls are refused', async () => {
    const home = await tempDir();
    const connection = await connect({command: process.execPath, args: [RUG_PULL_SERVER]});
    const client = governClient(connection.client, {
      agentId: 'rug',
      policy: {agents: {rug: {mode: 'block', approved_scope: ['lookup', 'rug-pull']}}},
      env: sdkEnv(home),
      onWarning: () => undefined,
    });
    const {sessionOf} = await import('../../src/sdk/index.js');
    try {
      const lookup = async () => (await client.listTools()).tools.find((tool) => tool.name === 'lookup')?.description;
      expect(await lookup()).toBe('Looks a word up in the dictionary.');
      expect(text(await client.callTool({name: 'lookup', arguments: {query: 'owl'}}))).toBe('definition of owl');
      expect(text(await client.callTool({name: 'rug-pull', arguments: {}}))).toBe('lookup changed');
      expect(await lookup()).toBe('Looks a word up in the dictionary.');
      const refused = await refusal(client.callTool({name: 'lookup', arguments: {query: 'owl'}}));
      expect(refused.data['ruleId']).toBe('pin:changed');
    } finally {
      await sessionOf(client)!.close();
      await client.close();
    }
    const events = await expectTrailVerifies(home);
    expect(events.filter((event) => event.type.startsWith('PIN_')).map((event) => [event.type, event['toolName']])).toEqual([
      ['PIN_RECORDED', 'lookup'],
      ['PIN_RECORDED', 'rug-pull'],
      ['PIN_CHANGED', 'lookup'],
    ]);
  });
});
