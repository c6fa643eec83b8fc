import {PassThrough} from 'node:stream';
import {setTimeout as sleep} from 'node:timers/promises';
import {describe, expect, it} from 'vitest';

import {AllowAllEnforcer, type Decision, type DecisionContext, type Enforcer, type ToolCall} from '../../src/core/decision.js';
import {Governor} from '../../src/governance/governor.js';
import type {AuditSink, PostCallRecord, ToolsListHook} from '../../src/governance/types.js';
import type {Diagnostics} from '../../src/proxy/diagnostics.js';
import type {GovernanceHandle, SessionState} from '../../src/governance/types.js';
import {Relay} from '../../src/proxy/relay.js';
import {SwitchableGovernance} from '../../src/governance/switchable.js';

/** Reads newline-delimited messages from a stream as they arrive. */
class LineReader {
  private buffer = '';
  private readonly lines: string[] = [];
  private waiters: Array<() => void> = [];
  constructor(stream: PassThrough) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      this.buffer += chunk;
      let newline: number;
      while ((newline = this.buffer.indexOf('\n')) !== -1) {
        this.lines.push(this.buffer.slice(0, newline));
        this.buffer = this.buffer.slice(newline + 1);
      }
      for (const wake of this.waiters.splice(0)) wake();
    });
  }
  async next(timeoutMs = 2000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (Date.now() > deadline) throw new Error('no line arrived');
      await Promise.race([new Promise<void>((resolve) => this.waiters.push(resolve)), sleep(20)]);
    }
    return this.lines.shift()!;
  }
  async nextJson(): Promise<Record<string, unknown>> {
    return JSON.parse(await this.next()) as Record<string, unknown>;
  }
  /** Lines received so far without waiting. */
  drain(): string[] {
    return this.lines.splice(0);
  }
}

function memoryDiagnostics() {
  const warnings: string[] = [];
  const diverted: string[] = [];
  const diagnostics: Diagnostics = {
    warn: (m) => warnings.push(m),
    info: () => undefined,
    diverted: (line) => diverted.push(line.toString()),
    close: async () => undefined,
  };
  return {diagnostics, warnings, diverted};
}

interface HarnessOptions {
  /** Replaces the handle built from the options below. */
  governance?: GovernanceHandle;
  enforcer?: Enforcer;
  toolsListHook?: ToolsListHook;
  maxMessageBytes?: number;
  audit?: AuditSink;
  collectGarbage?: () => void;
}

function harness(options: HarnessOptions = {}) {
  const clientIn = new PassThrough();
  const clientOut = new PassThrough();
  const upstreamIn = new PassThrough();
  const upstreamOut = new PassThrough();
  const session: SessionState = {sessionId: 'session-1', sessionToolCalls: []};
  const context: DecisionContext = {
    agentId: 'test-agent',
    sessionId: session.sessionId,
    mode: 'block',
    sessionToolCalls: session.sessionToolCalls,
  };
  const governor = new Governor({enforcer: options.enforcer ?? new AllowAllEnforcer(), ...(options.audit ? {audit: options.audit} : {})});
  const {diagnostics, warnings, diverted} = memoryDiagnostics();
  const relay = new Relay({
    client: {input: clientIn, output: clientOut},
    upstream: {input: upstreamIn, output: upstreamOut},
    governance: Promise.resolve(options.governance ?? {governor, context, toolsListHook: options.toolsListHook}),
    session,
    diagnostics,
    ...(options.maxMessageBytes ? {maxMessageBytes: options.maxMessageBytes} : {}),
    ...(options.collectGarbage ? {collectGarbage: options.collectGarbage} : {}),
  });
  relay.start();
  return {
    relay,
    session,
    warnings,
    diverted,
    clientIn,
    clientOut,
    upstreamIn,
    upstreamOut,
    toClient: new LineReader(clientOut),
    toServer: new LineReader(upstreamIn),
    fromClient: (message: unknown) => clientIn.write(`${typeof message === 'string' ? message : JSON.stringify(message)}\n`),
    fromServer: (message: unknown) => upstreamOut.write(`${typeof message === 'string' ? message : JSON.stringify(message)}\n`),
  };
}

/** An enforcer that blocks tools named `danger*`, asks for `ask*`, and can be held open. */
class ScriptedEnforcer implements Enforcer {
  readonly seen: ToolCall[] = [];
  gate: Promise<void> = Promise.resolve();
  async decide(call: ToolCall): Promise<Decision> {
    this.seen.push(call);
    await this.gate;
    if (call.name.startsWith('danger')) return {decision: 'block', reason: 'dangerous tools are not allowed', ruleId: 'rule:no-danger'};
    if (call.name.startsWith('ask'))
      return {
        decision: 'step_up',
        reason: 'needs a human',
        ruleId: 'rule:ask',
        details: {approvalId: 'ap-1', approvalChannel: 'local', approveCommand: 'thoth approve ap-1'},
      };
    return {decision: 'allow', reason: 'fine', ruleId: 'rule:ok'};
  }
}

const call = (id: unknown, name: string, args: unknown = {}) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: {name, arguments: args},
});

describe('Relay: transparency', () => {
  it('passes requests, notifications and responses through unchanged, unknown methods and versions included', async () => {
    const h = harness();
    const messages = [
      {
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: {
          protocolVersion: '2026-07-28',
          capabilities: {elicitation: {}, experimental: {x: 1}},
          clientInfo: {name: 'c', version: '1'},
        },
      },
      {jsonrpc: '2.0', method: 'notifications/initialized'},
      {jsonrpc: '2.0', id: 'x-1', method: 'future/method', params: {unknownField: [1, {deep: true}]}, extra: 'top-level field'},
      {jsonrpc: '2.0', method: 'notifications/progress', params: {progressToken: 't', progress: 1}},
    ];
    for (const message of messages) h.fromClient(message);
    for (const message of messages) expect(await h.toServer.next()).toBe(JSON.stringify(message));
    const fromServer = [
      '{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":"2026-07-28","capabilities":{},"serverInfo":{"name":"s","version":"1"}}}',
      '{"jsonrpc":"2.0","id":"srv-1","method":"sampling/createMessage","params":{"messages":[]}}',
      '{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}',
      '{ "jsonrpc" : "2.0" , "id" : "x-1" , "result" : { "spacing" : "kept" } }',
    ];
    for (const line of fromServer) h.fromServer(line);
    for (const line of fromServer) expect(await h.toClient.next()).toBe(line);
    expect(h.session.client).toEqual({
      name: 'c',
      version: '1',
      protocolVersion: '2026-07-28',
      capabilities: {elicitation: {}, experimental: {x: 1}},
    });
  });

  it('relays the client answer to a server request back to the server', async () => {
    const h = harness();
    h.fromServer({jsonrpc: '2.0', id: 5, method: 'roots/list'});
    await h.toClient.next();
    h.fromClient({jsonrpc: '2.0', id: 5, result: {roots: [{uri: 'file:///tmp'}]}});
    expect(JSON.parse(await h.toServer.next())).toEqual({jsonrpc: '2.0', id: 5, result: {roots: [{uri: 'file:///tmp'}]}});
  });

  it('keeps ids exact: strings, zero, negative and integers beyond 2^53', async () => {
    const h = harness();
    for (const id of ['"abc"', '0', '-7', '12345678901234567890']) {
      h.fromClient(`{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"echo","arguments":{"n":98765432109876543210}}}`);
      expect(await h.toServer.next()).toBe(
        `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"echo","arguments":{"n":98765432109876543210}}}`,
      );
      h.fromServer(`{"jsonrpc":"2.0","id":${id},"result":{"content":[]}}`);
      expect(await h.toClient.next()).toBe(`{"jsonrpc":"2.0","id":${id},"result":{"content":[]}}`);
    }
  });
});

describe('Relay: governing tools/call', () => {
  it('refuses a blocked call with -32001, the same id and an explanatory data object, and the session goes on', async () => {
    const enforcer = new ScriptedEnforcer();
    const h = harness({enforcer});
    h.fromClient(call(41, 'danger-delete', {path: '/'}));
    const reply = await h.toClient.nextJson();
    expect(reply).toMatchObject({
      jsonrpc: '2.0',
      id: 41,
      error: {
        code: -32001,
        data: {
          decision: 'block',
          reason: 'dangerous tools are not allowed',
          ruleId: 'rule:no-danger',
          agentId: 'test-agent',
          tool: 'danger-delete',
          mode: 'block',
        },
      },
    });
    expect(h.toServer.drain()).toEqual([]);
    h.fromClient(call(42, 'echo'));
    expect(JSON.parse(await h.toServer.next())).toEqual(call(42, 'echo'));
    expect(h.session.sessionToolCalls).toEqual(['echo']);
  });

  it('keeps the latest tool names of a long session and counts them all (bounded memory)', async () => {
    const h = harness();
    for (let i = 0; i < 600; i++) h.fromClient(call(i, `tool-${i}`));
    for (let i = 0; i < 600; i++) await h.toServer.next();
    expect(h.session.sessionToolCallCount).toBe(600);
    expect(h.session.sessionToolCalls.length).toBeLessThanOrEqual(512);
    expect(h.session.sessionToolCalls.at(-1)).toBe('tool-599');
    expect(h.session.sessionToolCalls.slice(-3)).toEqual(['tool-597', 'tool-598', 'tool-599']);
  });

  it('answers a step-up with -32002 carrying the approval reference, never a command that approves it', async () => {
    const h = harness({enforcer: new ScriptedEnforcer()});
    h.fromClient(call('s1', 'ask-payment'));
    const reply = await h.toClient.nextJson();
    expect(reply).toMatchObject({id: 's1', error: {code: -32002, data: {decision: 'step_up', approvalId: 'ap-1'}}});
    const error = reply['error'] as {message: string; data: Record<string, unknown>};
    expect(error.message).toContain('ask the person at this computer to review approval ap-1');
    // Even an enforcer that hands one over: the model must not read a command it could run.
    expect(error.data).not.toHaveProperty('approveCommand');
    expect(JSON.stringify(error)).not.toContain('thoth approve ap-1');
  });

  it('forwards exactly what the enforcer evaluated: duplicate keys and odd method casing', async () => {
    const enforcer = new ScriptedEnforcer();
    const h = harness({enforcer});
    h.fromClient(
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"path":"/safe"}},"params":{"name":"echo","arguments":{"path":"/etc/shadow"}}}',
    );
    const forwarded = JSON.parse(await h.toServer.next()) as {params: {arguments: {path: string}}};
    expect(enforcer.seen[0]!.arguments).toEqual({path: '/etc/shadow'});
    expect(forwarded.params.arguments.path).toBe('/etc/shadow');
    h.fromClient({jsonrpc: '2.0', id: 2, method: 'Tools/Call', params: {name: 'danger-x'}});
    expect(await h.toClient.nextJson()).toMatchObject({id: 2, error: {code: -32001}});
    h.fromClient({jsonrpc: '2.0', id: 3, method: 'TOOLS/CALL', params: {name: 'echo'}});
    expect(JSON.parse(await h.toServer.next())).toMatchObject({id: 3, method: 'tools/call'});
  });

  it('keeps other traffic flowing while a decision is pending, and honours cancellation of the pending call', async () => {
    const enforcer = new ScriptedEnforcer();
    let open!: () => void;
    enforcer.gate = new Promise((resolve) => (open = resolve));
    const h = harness({enforcer});
    h.fromClient(call(7, 'slow-decision'));
    h.fromClient({jsonrpc: '2.0', id: 8, method: 'ping'});
    expect(JSON.parse(await h.toServer.next())).toEqual({jsonrpc: '2.0', id: 8, method: 'ping'});
    h.fromClient({jsonrpc: '2.0', method: 'notifications/cancelled', params: {requestId: 7, reason: 'user'}});
    await sleep(50);
    open();
    await sleep(50);
    expect(h.toServer.drain()).toEqual([]);
    expect(h.toClient.drain()).toEqual([]);
  });

  it('refuses malformed tools/call and tools/call sent as a notification', async () => {
    const h = harness();
    h.fromClient({jsonrpc: '2.0', id: 9, method: 'tools/call', params: {arguments: {}}});
    expect(await h.toClient.nextJson()).toMatchObject({id: 9, error: {code: -32001}});
    h.fromClient({jsonrpc: '2.0', method: 'tools/call', params: {name: 'echo'}});
    await sleep(50);
    expect(h.toServer.drain()).toEqual([]);
    expect(h.warnings.join('\n')).toMatch(/notification/);
  });

  it('fails closed when the enforcer throws', async () => {
    const h = harness({enforcer: {decide: async () => Promise.reject(new Error('boom'))}});
    h.fromClient(call(1, 'echo'));
    expect(await h.toClient.nextJson()).toMatchObject({id: 1, error: {code: -32001, data: {ruleId: 'enforcer-error'}}});
    expect(h.toServer.drain()).toEqual([]);
  });

  it('governs batches element by element and answers every request', async () => {
    const h = harness({enforcer: new ScriptedEnforcer()});
    h.fromClient([
      call(1, 'echo'),
      call(2, 'danger'),
      {jsonrpc: '2.0', method: 'notifications/x'},
      {jsonrpc: '2.0', id: 3, method: 'ping'},
    ]);
    expect(JSON.parse(await h.toServer.next())).toEqual([
      call(1, 'echo'),
      {jsonrpc: '2.0', method: 'notifications/x'},
      {jsonrpc: '2.0', id: 3, method: 'ping'},
    ]);
    const errors = JSON.parse(await h.toClient.next()) as Array<{id: number; error: {code: number}}>;
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({id: 2, error: {code: -32001}});
  });

  it('records TOOL_CALL_POST with the raw result bytes the client received', async () => {
    const posts: PostCallRecord[] = [];
    const audit: AuditSink = {
      toolCallPre: async () => 'evt-1',
      toolCallPost: (r) => posts.push(r),
      event: () => undefined,
      close: async () => undefined,
    };
    const h = harness({audit});
    h.fromClient(call(1, 'echo', {text: 'hi'}));
    await h.toServer.next();
    h.fromServer('{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"hi"}]}}');
    await h.toClient.next();
    expect(posts).toHaveLength(1);
    expect(posts[0]!.preEventId).toBe('evt-1');
    expect(posts[0]!.outcome).toMatchObject({kind: 'result'});
    expect((posts[0]!.outcome as {resultJson: Buffer}).resultJson.toString()).toBe('{"content":[{"type":"text","text":"hi"}]}');
  });
});

describe('Relay: bad input', () => {
  it('answers a non-JSON client line with -32700 and does not forward it', async () => {
    const h = harness();
    h.fromClient('this is not json');
    expect(await h.toClient.nextJson()).toMatchObject({id: null, error: {code: -32700}});
    h.fromClient({jsonrpc: '2.0', id: 1, method: 'ping'});
    expect(JSON.parse(await h.toServer.next())).toMatchObject({id: 1});
  });

  it('diverts non-JSON server output (banners) to stderr, never to the client', async () => {
    const h = harness();
    h.fromServer('Server v1.2 listening on stdio');
    h.fromServer('{"half": ');
    h.fromServer('42');
    h.fromServer({jsonrpc: '2.0', method: 'notifications/message', params: {}});
    expect(JSON.parse(await h.toClient.next())).toMatchObject({method: 'notifications/message'});
    expect(h.toClient.drain()).toEqual([]);
    expect(h.diverted).toEqual(['Server v1.2 listening on stdio', '{"half": ', '42']);
  });

  it('canonicalises a server message with duplicate top-level keys to the reading thoth acted on', async () => {
    const h = harness();
    h.fromClient({jsonrpc: '2.0', id: 1, method: 'ping'});
    await h.toServer.next();
    h.fromServer('{"jsonrpc":"2.0","id":99,"result":{},"id":1}');
    expect(await h.toClient.next()).toBe('{"jsonrpc":"2.0","id":1,"result":{}}');
  });

  it('answers an oversized request with an error naming the limit, and the session goes on', async () => {
    const h = harness({maxMessageBytes: 4096});
    h.fromClient(call(77, 'echo', {text: 'x'.repeat(10_000)}));
    const reply = await h.toClient.nextJson();
    expect(reply).toMatchObject({id: 77, error: {code: -32004, data: {limit: 4096}}});
    expect(h.warnings.join('\n')).toMatch(/over the 4096-byte limit/);
    h.fromClient(call(78, 'echo'));
    expect(JSON.parse(await h.toServer.next())).toMatchObject({id: 78});
  });

  it('turns an oversized server response into an error for the waiting request', async () => {
    const h = harness({maxMessageBytes: 4096});
    h.fromClient(call(5, 'big'));
    await h.toServer.next();
    h.fromServer({result: {content: [{type: 'text', text: 'y'.repeat(10_000)}]}, jsonrpc: '2.0', id: 5});
    expect(await h.toClient.nextJson()).toMatchObject({id: 5, error: {code: -32004}});
  });
});

describe('Relay: lifecycle and thoth-initiated requests', () => {
  it('answers every pending request when the server exits', async () => {
    const h = harness();
    h.fromClient(call(1, 'echo'));
    h.fromClient({jsonrpc: '2.0', id: 2, method: 'resources/list'});
    await h.toServer.next();
    await h.toServer.next();
    h.relay.upstreamExited('exit code 7');
    const replies = [await h.toClient.nextJson(), await h.toClient.nextJson()];
    expect(replies.map((r) => r['id']).sort()).toEqual([1, 2]);
    for (const reply of replies) expect(reply).toMatchObject({error: {code: -32003, message: expect.stringContaining('exit code 7')}});
  });

  it('sends its own requests to the client in a separate id space and consumes the answers', async () => {
    const h = harness();
    h.fromClient({jsonrpc: '2.0', id: 0, method: 'initialize', params: {capabilities: {elicitation: {}}}});
    await h.toServer.next();
    expect(h.relay.channel.capabilities).toEqual({elicitation: {}});
    const answer = h.relay.channel.request('elicitation/create', {message: 'Allow?'}, {timeoutMs: 2000});
    const request = await h.toClient.nextJson();
    expect(request['method']).toBe('elicitation/create');
    expect(String(request['id'])).toMatch(/^thoth:session-1:/);
    h.fromClient({jsonrpc: '2.0', id: request['id'], result: {action: 'accept', content: {approve: true}}});
    await expect(answer).resolves.toEqual({action: 'accept', content: {approve: true}});
    await sleep(30);
    expect(h.toServer.drain()).toEqual([]);
  });

  it('times out its own request and tells the client it was cancelled', async () => {
    const h = harness();
    const answer = h.relay.channel.request('elicitation/create', {message: 'Allow?'}, {timeoutMs: 50});
    await h.toClient.next();
    await expect(answer).rejects.toThrow(/within 50 ms/);
    expect(await h.toClient.nextJson()).toMatchObject({method: 'notifications/cancelled'});
  });

  it('lets a tools/list hook rewrite the result', async () => {
    const hook: ToolsListHook = {
      onToolsList: async (result) => ({...result, tools: (result['tools'] as Array<{name: string}>).filter((t) => t.name !== 'hidden')}),
    };
    const h = harness({toolsListHook: hook});
    h.fromClient({jsonrpc: '2.0', id: 3, method: 'tools/list'});
    await h.toServer.next();
    h.fromServer({jsonrpc: '2.0', id: 3, result: {tools: [{name: 'shown'}, {name: 'hidden'}], nextCursor: 'c'}});
    expect(await h.toClient.nextJson()).toEqual({jsonrpc: '2.0', id: 3, result: {tools: [{name: 'shown'}], nextCursor: 'c'}});
  });

  it('a tools/list hook that fails leaves the result as it is and says so, alone or in a batch', async () => {
    const hook: ToolsListHook = {
      onToolsList: async () => {
        throw new Error('pin file unreadable');
      },
    };
    const h = harness({toolsListHook: hook});
    h.fromClient({jsonrpc: '2.0', id: 3, method: 'tools/list'});
    await h.toServer.next();
    const single = '{"jsonrpc":"2.0","id":3,"result":{"tools":[{"name":"a"}]}}';
    h.fromServer(single);
    expect(await h.toClient.next()).toBe(single);
    h.fromClient([{jsonrpc: '2.0', id: 4, method: 'tools/list'}]);
    await h.toServer.next();
    const batch = '[{"jsonrpc":"2.0","id":4,"result":{"tools":[{"name":"b"}]}}]';
    h.fromServer(batch);
    expect(await h.toClient.next()).toBe(batch);
    expect(h.warnings.filter((warning) => warning.includes('tools/list could not be checked (pin file unreadable)'))).toHaveLength(2);
  });

  it('stops reading the server while the client is not reading (bounded memory)', async () => {
    const h = harness();
    h.clientOut.removeAllListeners('data');
    h.clientOut.pause();
    const line = `${JSON.stringify({jsonrpc: '2.0', method: 'notifications/message', params: {data: 'z'.repeat(64 * 1024)}})}\n`;
    for (let i = 0; i < 50; i++) h.upstreamOut.write(line);
    await sleep(100);
    expect(h.upstreamOut.isPaused()).toBe(true);
    // Everything the relay accepted sits in the client stream's buffer; the rest waits in the pipe.
    expect(h.clientOut.writableLength).toBeLessThan(50 * line.length);
    expect(h.upstreamOut.readableLength).toBeGreaterThan(0);
  });

  it('leaves no listener behind after many backpressure episodes (a long session must not leak)', async () => {
    const h = harness();
    h.clientOut.removeAllListeners('data');
    h.upstreamIn.removeAllListeners('data');
    const before = {client: h.clientOut.listenerCount('close'), upstream: h.upstreamIn.listenerCount('close')};
    const big = 'y'.repeat(64 * 1024);
    for (let episode = 0; episode < 20; episode++) {
      // Each direction's writable fills up (the relay pauses its reader), then is read dry (drain).
      for (let i = 0; i < 4; i++)
        h.upstreamOut.write(`${JSON.stringify({jsonrpc: '2.0', method: 'notifications/message', params: {data: big}})}\n`);
      for (let i = 0; i < 4; i++)
        h.fromClient({jsonrpc: '2.0', method: 'notifications/progress', params: {progressToken: episode, progress: i, message: big}});
      await sleep(5);
      while (h.clientOut.read() !== null || h.upstreamIn.read() !== null) await sleep(1);
      await sleep(5);
    }
    expect(h.clientOut.listenerCount('close')).toBe(before.client);
    expect(h.upstreamIn.listenerCount('close')).toBe(before.upstream);
    expect(h.clientOut.listenerCount('drain')).toBeLessThanOrEqual(1);
    expect(h.upstreamIn.listenerCount('drain')).toBeLessThanOrEqual(1);
    expect(h.warnings).toEqual([]);
  });
});

describe('Relay: policy reloads', () => {
  const recordingAudit = () => {
    const posts: PostCallRecord[] = [];
    const audit: AuditSink = {
      toolCallPre: async () => 'pre-1',
      toolCallPost: (record) => void posts.push(record),
      event: () => undefined,
      close: async () => undefined,
    };
    return {audit, posts};
  };
  const contextIn = (mode: 'block' | 'observe'): DecisionContext => ({
    agentId: 'test-agent',
    sessionId: 'session-1',
    mode,
    sessionToolCalls: [],
  });

  it('a call being decided when the policy is swapped finishes with the policy and mode it started with; the next call gets the new ones', async () => {
    const {audit, posts} = recordingAudit();
    const before = new ScriptedEnforcer();
    let release!: () => void;
    before.gate = new Promise((resolve) => (release = resolve));
    const blockEverything: Enforcer = {decide: async () => ({decision: 'block', reason: 'the new policy blocks it', ruleId: 'rule:new'})};
    const oldContext = contextIn('observe');
    const governance = new SwitchableGovernance({governor: new Governor({enforcer: before, audit}), context: oldContext});
    const h = harness({governance});

    h.fromClient(call(1, 'echo'));
    await sleep(20);
    expect(before.seen).toHaveLength(1);
    governance.swap({governor: new Governor({enforcer: blockEverything, audit}), context: contextIn('block')}, false);
    release();
    expect(JSON.parse(await h.toServer.next())).toEqual(call(1, 'echo'));
    h.fromServer({jsonrpc: '2.0', id: 1, result: {content: []}});
    await h.toClient.next();
    expect(posts[0]).toMatchObject({decision: {ruleId: 'rule:ok'}, context: {mode: 'observe'}});

    h.fromClient(call(2, 'echo'));
    expect(await h.toClient.nextJson()).toMatchObject({id: 2, error: {code: -32001, data: {ruleId: 'rule:new', mode: 'block'}}});
    expect(before.seen).toHaveLength(1);
  });

  const initialize = async (h: ReturnType<typeof harness>, serverCapabilities: Record<string, unknown>) => {
    h.fromClient({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: {protocolVersion: '2025-06-18', capabilities: {}, clientInfo: {name: 'c', version: '1'}},
    });
    await h.toServer.next();
    const response = {
      jsonrpc: '2.0',
      id: 0,
      result: {protocolVersion: '2025-06-18', capabilities: serverCapabilities, serverInfo: {name: 's', version: '1'}},
    };
    h.fromServer(response);
    // The initialize response still reaches the client byte for byte.
    expect(await h.toClient.next()).toBe(JSON.stringify(response));
  };

  it('tells the client to list tools again when the hidden tools changed and the server declared tools.listChanged', async () => {
    const governance = new SwitchableGovernance({governor: new Governor({enforcer: new AllowAllEnforcer()}), context: contextIn('block')});
    const h = harness({governance});
    await sleep(10); // the relay has subscribed once governance is ready
    // Before initialize the client has not listed anything: nothing to say.
    governance.swap({governor: new Governor({enforcer: new AllowAllEnforcer()}), context: contextIn('block')}, true);
    await sleep(20);
    expect(h.toClient.drain()).toEqual([]);
    expect(h.warnings).toEqual([]);

    await initialize(h, {tools: {listChanged: true}});
    governance.swap({governor: new Governor({enforcer: new AllowAllEnforcer()}), context: contextIn('block')}, false);
    await sleep(20);
    expect(h.toClient.drain()).toEqual([]);
    governance.swap({governor: new Governor({enforcer: new AllowAllEnforcer()}), context: contextIn('block')}, true);
    expect(await h.toClient.nextJson()).toEqual({jsonrpc: '2.0', method: 'notifications/tools/list_changed'});
    expect(h.warnings).toEqual([]);
  });

  it('does not send tools/list_changed for a server that did not declare it, and says so on stderr', async () => {
    const governance = new SwitchableGovernance({governor: new Governor({enforcer: new AllowAllEnforcer()}), context: contextIn('block')});
    const h = harness({governance});
    await initialize(h, {tools: {}});
    governance.swap({governor: new Governor({enforcer: new AllowAllEnforcer()}), context: contextIn('block')}, true);
    await sleep(20);
    expect(h.toClient.drain()).toEqual([]);
    expect(h.warnings).toEqual([
      expect.stringMatching(/did not declare tools\.listChanged, so the client sees the new list when it next lists tools/),
    ]);
  });
});

describe('Relay: roots the client declares', () => {
  it("keeps the file roots of the client's answers to roots/list in the session (a union), and forwards the answers unchanged", async () => {
    const h = harness();
    h.fromServer({jsonrpc: '2.0', id: 'r1', method: 'roots/list'});
    expect(await h.toClient.nextJson()).toMatchObject({id: 'r1', method: 'roots/list'});
    const answer = {
      jsonrpc: '2.0',
      id: 'r1',
      result: {roots: [{uri: 'file:///home/u/project', name: 'p'}, {uri: 'https://example.com/x'}, {uri: 'file://otherhost/share'}]},
    };
    h.fromClient(answer);
    expect(await h.toServer.next()).toBe(JSON.stringify(answer));
    expect(h.session.clientRoots).toEqual(['/home/u/project']);
    h.fromServer({jsonrpc: '2.0', id: 'r2', method: 'roots/list'});
    await h.toClient.next();
    h.fromClient({jsonrpc: '2.0', id: 'r2', result: {roots: [{uri: 'file:///srv/data%20set'}]}});
    await h.toServer.next();
    expect(h.session.clientRoots).toEqual(['/home/u/project', '/srv/data set']);
    // An answer to something else that happens to carry roots is not a declaration.
    h.fromClient({jsonrpc: '2.0', id: 'other', result: {roots: [{uri: 'file:///etc'}]}});
    await h.toServer.next();
    expect(h.session.clientRoots).toEqual(['/home/u/project', '/srv/data set']);
  });

  it('answers the server with an error when the client answer to its request is refused, so it does not wait for ever', async () => {
    const h = harness();
    h.fromServer({jsonrpc: '2.0', id: 'r1', method: 'roots/list'});
    await h.toClient.next();
    h.fromClient({jsonrpc: '2.0', id: 'r1', result: {roots: [], Roots: [{uri: 'file:///'}]}});
    expect(await h.toServer.nextJson()).toMatchObject({id: 'r1', error: {code: -32600}});
    expect(h.session.clientRoots).toBeUndefined();
    expect(h.warnings.join('\n')).toMatch(/refused a response from the client: the keys "roots" and "Roots"/);
  });
});

describe('Relay: memory after large messages', () => {
  it('collects garbage once a message of 4 MiB or more has been written out, once per turn, and never for small ones', async () => {
    let collections = 0;
    const h = harness({collectGarbage: () => collections++});
    const settled = async (count: number): Promise<void> => {
      for (let i = 0; i < 200 && collections < count; i++) await sleep(5);
      await sleep(20);
      expect(collections).toBe(count);
    };
    for (let i = 0; i < 20; i++) {
      h.fromClient(call(i, 'echo', {text: 'small'}));
      await h.toServer.next();
      h.fromServer({jsonrpc: '2.0', id: i, result: {content: [{type: 'text', text: 'small'}]}});
      await h.toClient.next();
    }
    await settled(0);

    const big = 'b'.repeat(4 * 1024 * 1024);
    h.fromClient(call(100, 'echo', {text: big}));
    expect((await h.toServer.next(10_000)).length).toBeGreaterThan(big.length);
    // After the server has taken it: its chunks, text and parsed value are garbage.
    await settled(1);
    h.fromServer({jsonrpc: '2.0', id: 100, result: {content: [{type: 'text', text: big}]}});
    expect((await h.toClient.next(10_000)).length).toBeGreaterThan(big.length);
    await settled(2);
    // Just under the size: no collection.
    const under = 'u'.repeat(4 * 1024 * 1024 - 200);
    h.fromClient(call(101, 'echo', {text: under}));
    expect((await h.toServer.next(10_000)).length).toBeLessThan(4 * 1024 * 1024);
    await settled(2);
  });

  it('a server flooding large messages gets at most one collection per turn, not one per message', async () => {
    let collections = 0;
    const h = harness({collectGarbage: () => collections++});
    const big = 'x'.repeat(4 * 1024 * 1024);
    // Eight large notifications in one write: a collection each would stall the relay for every one of them.
    const line = JSON.stringify({jsonrpc: '2.0', method: 'notifications/message', params: {level: 'info', data: big}});
    h.upstreamOut.write(`${Array.from({length: 8}, () => line).join('\n')}\n`);
    for (let i = 0; i < 8; i++) expect((await h.toClient.next(10_000)).length).toBe(line.length);
    for (let i = 0; i < 100 && collections === 0; i++) await sleep(5);
    await sleep(50);
    expect(collections).toBeGreaterThanOrEqual(1);
    expect(collections).toBeLessThan(8);
  });

  it('garbageCollector() gives a working full collection on this runtime', async () => {
    const {garbageCollector} = await import('../../src/util/garbage-collector.js');
    const collect = garbageCollector();
    expect(collect).toBeTypeOf('function');
    let held: Buffer[] | undefined = Array.from({length: 8}, () => Buffer.alloc(4 * 1024 * 1024, 1));
    const before = process.memoryUsage().arrayBuffers;
    expect(held.length).toBe(8);
    held = undefined;
    collect!();
    // Array buffers are released by a sweeper shortly after the collection.
    await sleep(100);
    expect(process.memoryUsage().arrayBuffers).toBeLessThan(before - 16 * 1024 * 1024);
    expect((globalThis as {gc?: unknown}).gc).toBeUndefined();
  });
});
