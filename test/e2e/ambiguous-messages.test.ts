import {join} from 'node:path';

import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {readEvents} from '../../src/audit/reader.js';
import {invalidAuditEvents} from '../helpers/audit-schemas.js';
import {runThoth} from '../helpers/cli.js';
import {GO_REQUIRED, NODE_CASEFOLD_SERVER, buildGoCasefoldServer, type BuiltGoServer} from '../helpers/go-server.js';
import {MISBEHAVING_SERVER} from '../helpers/mcp.js';
import {RawSession, directly} from '../helpers/raw-session.js';
import {tempDir} from '../helpers/tmp.js';

/**
 * Class 1 and 6 of "An agent cannot get around thoth": messages that a case-insensitive server
 * (Go's encoding/json, .NET) reads differently from thoth, and shapes that took thoth down. Run
 * against a real Go server built here when Go is installed (CI installs it and requires it), and
 * always against its Node twin, which decodes keys by the same rules.
 */

let goServer: BuiltGoServer | undefined;
beforeAll(() => {
  goServer = buildGoCasefoldServer();
});
afterAll(() => goServer?.dispose());

const servers: Array<{name: string; command: () => string[] | undefined}> = [
  {name: 'Go encoding/json server', command: () => (goServer ? [goServer.binary] : undefined)},
  {name: 'Node emulation of Go key matching', command: () => [process.execPath, NODE_CASEFOLD_SERVER]},
];

async function seenBy(session: RawSession, id: string): Promise<string[]> {
  session.send({jsonrpc: '2.0', id, method: 'debug/seen'});
  const reply = await session.nextJson();
  expect(reply['id']).toBe(id);
  return (reply['result'] as {seen: string[]}).seen;
}

// Each attack: a line (raw text: escaped spellings must survive) that a case-insensitive server reads as a tools/call thoth never decided, or with other arguments.
const ATTACKS: Array<{name: string; line: string}> = [
  {
    name: 'Method after method',
    line: '{"jsonrpc":"2.0","id":11,"method":"ping","Method":"tools/call","params":{"name":"read","arguments":{"path":"/etc/hosts"}}}',
  },
  {
    name: 'an escaped spelling of Method',
    line: '{"jsonrpc":"2.0","id":12,"method":"ping","\\u004dethod":"tools/call","params":{"name":"read","arguments":{"path":"/etc/hosts"}}}',
  },
  {
    name: 'PARAMS after params',
    line: '{"jsonrpc":"2.0","id":13,"method":"tools/call","params":{"name":"read","arguments":{"path":"/tmp/x"}},"PARAMS":{"name":"read","arguments":{"path":"/etc/shadow"}}}',
  },
  {
    name: 'paramſ (U+017F) after params',
    line: '{"jsonrpc":"2.0","id":14,"method":"tools/call","params":{"name":"read","arguments":{"path":"/tmp/x"}},"param\u017f":{"name":"read","arguments":{"path":"/etc/shadow"}}}',
  },
  {
    name: 'Name after name',
    line: '{"jsonrpc":"2.0","id":15,"method":"tools/call","params":{"name":"read","Name":"delete_everything","arguments":{"path":"/tmp/x"}}}',
  },
  {
    name: 'Arguments after arguments',
    line: '{"jsonrpc":"2.0","id":16,"method":"tools/call","params":{"name":"read","arguments":{"path":"/tmp/x"},"Arguments":{"path":"/etc/shadow"}}}',
  },
  {
    name: 'Path after path inside the arguments',
    line: '{"jsonrpc":"2.0","id":17,"method":"tools/call","params":{"name":"read","arguments":{"path":"/tmp/x","Path":"~/.ssh/id_rsa"}}}',
  },
  {
    name: 'PATH after an escaped spelling of path',
    line: '{"jsonrpc":"2.0","id":18,"method":"tools/call","params":{"name":"read","arguments":{"path":"/tmp/x","pat\\u0068":"/tmp/y","PATH":"~/.ssh/id_rsa"}}}',
  },
];

describe.each(servers)('keys a case-insensitive server reads differently ($name)', ({command}) => {
  const available = (): string[] | undefined => command();

  it('the attacks are real: the server alone reads each one differently from JSON.parse', async (context) => {
    const server = available();
    if (server === undefined) return context.skip();
    const replies = await directly(server, [
      ...ATTACKS.map((attack) => attack.line),
      '{"jsonrpc":"2.0","id":"seen","method":"debug/seen"}',
    ]);
    const seen = replies.find((reply) => reply['id'] === 'seen')!['result'] as {seen: string[]};
    // The first two were pings to JSON.parse; this server ran them as tool calls.
    expect(seen.seen.slice(0, 2)).toEqual(['tools/call', 'tools/call']);
    const decodedPath = (id: number): string => {
      const reply = replies.find((r) => r['id'] === id)!;
      return (JSON.parse((reply['result'] as {content: Array<{text: string}>}).content[0]!.text) as {path: string}).path;
    };
    expect(decodedPath(13)).toBe('/etc/shadow');
    expect(decodedPath(14)).toBe('/etc/shadow');
    expect(decodedPath(16)).toBe('/etc/shadow');
    expect(decodedPath(17)).toBe('~/.ssh/id_rsa');
  });

  it('thoth refuses each with -32600 and its own id; the server never sees a tools/call', async (context) => {
    const server = available();
    if (server === undefined) return context.skip();
    const home = await tempDir();
    const auditDir = join(home, 'audit');
    const session = new RawSession(['--agent-id', 'casefold', '--enforcement-mode', 'observe'], server, {THOTH_HOME: home});
    await session.initialize();
    for (const attack of ATTACKS) {
      session.write(`${attack.line}\n`);
      const reply = await session.nextJson();
      expect(reply, attack.name).toMatchObject({
        id: JSON.parse(attack.line).id,
        error: {code: -32600, data: {reason: expect.stringMatching(/^(ambiguous-keys|envelope-key)$/)}},
      });
    }
    // A notification spelled the same way is dropped, with a warning on stderr.
    session.write('{"jsonrpc":"2.0","method":"notifications/initialized","Method":"tools/call","params":{"name":"read"}}\n');
    expect(await seenBy(session, 'seen')).toEqual(['initialize', 'notifications/initialized']);
    // The session goes on: an ordinary call is relayed (observe mode allows it).
    session.send({jsonrpc: '2.0', id: 'ok', method: 'tools/call', params: {name: 'read', arguments: {path: '/tmp/x'}}});
    expect(await session.nextJson()).toMatchObject({id: 'ok', result: {content: [{text: '{"name":"read","path":"/tmp/x"}'}]}});
    session.closeStdin();
    expect((await session.exited).code).toBe(0);
    expect(session.stderr).toMatch(
      /refused a notification \("notifications\/initialized"\) from the client: the key "Method" is read as "method"/,
    );

    const events = (await readEvents(auditDir)).map((stored) => stored.event);
    const refused = events.filter((event) => event.type === 'MESSAGE_REFUSED');
    expect(refused).toHaveLength(ATTACKS.length + 1);
    expect(refused.map((event) => event['messageKind'])).toEqual([...ATTACKS.map(() => 'request'), 'notification']);
    expect(refused[0]).toMatchObject({direction: 'client-to-server', reason: 'envelope-key', requestId: '11', method: 'ping'});
    expect(await invalidAuditEvents(auditDir)).toEqual([]);
    // The trail is sealed and verifies.
    const verify = await runThoth(['audit', 'verify', auditDir, '--thoth-home', home, '--json']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });
});

describe('the Go toolchain', () => {
  it('is present where CI requires it (THOTH_REQUIRE_GO=1); elsewhere the Go cases above are skipped', () => {
    if (goServer === undefined) {
      process.stderr.write(
        '[thoth tests] go is not installed: the Go encoding/json cases are skipped (the Node emulation still runs); CI installs golang-go and requires it\n',
      );
    }
    expect(goServer !== undefined || !GO_REQUIRED).toBe(true);
  });
});

describe('nesting and batches (class 6)', () => {
  const deepArray = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;

  it('a request nested 12,000 deep gets -32600, the session goes on, and the trail is sealed', async () => {
    const home = await tempDir();
    const auditDir = join(home, 'audit');
    const session = new RawSession(['--agent-id', 'deep'], [process.execPath, MISBEHAVING_SERVER], {THOTH_HOME: home});
    await session.initialize();
    session.write(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":${deepArray(12_000)}}}}\n`);
    expect(await session.nextJson()).toMatchObject({id: 1, error: {code: -32600, data: {reason: 'too-deep'}}});
    // Deep but within large-integer territory (the reviver path) is refused the same way.
    session.write(
      `{"jsonrpc":"2.0","id":2,"method":"ping","params":{"x":${'['.repeat(12_000)}12345678901234567890${']'.repeat(12_000)}}}\n`,
    );
    expect(await session.nextJson()).toMatchObject({id: 2, error: {code: -32600, data: {reason: 'too-deep'}}});
    session.send({jsonrpc: '2.0', id: 3, method: 'ping'});
    expect(await session.nextJson()).toMatchObject({id: 3});
    session.closeStdin();
    expect((await session.exited).code).toBe(0);
    expect(session.stderr).not.toMatch(/RangeError|Maximum call stack/);
    const verify = await runThoth(['audit', 'verify', auditDir, '--thoth-home', home, '--json']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    const events = (await readEvents(auditDir)).map((stored) => stored.event);
    expect(events.filter((event) => event.type === 'MESSAGE_REFUSED').map((event) => event['reason'])).toEqual(['too-deep', 'too-deep']);
    expect(events.some((event) => event.type === 'SESSION_END')).toBe(true);
  });

  it("a server's response nested 12,000 deep becomes -32600 for the request it answers; a deep notification is dropped", async () => {
    const home = await tempDir();
    const auditDir = join(home, 'audit');
    const session = new RawSession(['--agent-id', 'deep', '--enforcement-mode', 'observe'], [process.execPath, MISBEHAVING_SERVER], {
      THOTH_HOME: home,
    });
    await session.initialize();
    // The raw tool writes its line before its own answer: here the line is a deep answer to this very call.
    const deepAnswer = `{"jsonrpc":"2.0","id":5,"result":{"content":${deepArray(12_000)}}}`;
    session.send({jsonrpc: '2.0', id: 5, method: 'tools/call', params: {name: 'raw', arguments: {line: deepAnswer}}});
    expect(await session.nextJson()).toMatchObject({id: 5, error: {code: -32600, data: {reason: 'too-deep'}}});
    const deepNotification = `{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":${deepArray(12_000)}}}`;
    session.send({jsonrpc: '2.0', id: 6, method: 'tools/call', params: {name: 'raw', arguments: {line: deepNotification}}});
    // The notification never reaches the client: the next line is the answer to 6 (after the late real answer to 5).
    const next = [await session.nextJson(), await session.nextJson()];
    expect(next.map((message) => message['id'])).toEqual([5, 6]);
    session.send({jsonrpc: '2.0', id: 7, method: 'ping'});
    expect(await session.nextJson()).toMatchObject({id: 7});
    session.closeStdin();
    expect((await session.exited).code).toBe(0);
    for (const line of session.stdoutLines) expect(line.length).toBeLessThan(10_000);
    const events = (await readEvents(auditDir)).map((stored) => stored.event);
    const refused = events.filter((event) => event.type === 'MESSAGE_REFUSED');
    expect(refused.map((event) => [event['direction'], event['messageKind']])).toEqual([
      ['server-to-client', 'response'],
      ['server-to-client', 'notification'],
    ]);
    const verify = await runThoth(['audit', 'verify', auditDir, '--thoth-home', home, '--json']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });

  it('a batch inside a batch is refused element by element, never forwarded', async () => {
    const home = await tempDir();
    const auditDir = join(home, 'audit');
    const session = new RawSession(['--agent-id', 'batch', '--enforcement-mode', 'observe'], [process.execPath, NODE_CASEFOLD_SERVER], {
      THOTH_HOME: home,
    });
    await session.initialize();
    const call = {jsonrpc: '2.0', id: 21, method: 'tools/call', params: {name: 'read', arguments: {path: '/etc/shadow'}}};
    session.send([[call]]);
    expect(JSON.parse(await session.next())).toEqual([
      {jsonrpc: '2.0', id: null, error: expect.objectContaining({code: -32600, data: expect.objectContaining({reason: 'nested-batch'})})},
    ]);
    // A batch mixing a good request and a nested one: the good one is relayed, the nested one refused.
    session.send([{jsonrpc: '2.0', id: 22, method: 'ping'}, [call]]);
    const lines = [await session.next(), await session.next()].map((line) => JSON.parse(line) as unknown);
    expect(lines).toContainEqual([expect.objectContaining({id: null, error: expect.objectContaining({code: -32600})})]);
    expect(await seenBy(session, 'seen')).toEqual(['initialize', 'notifications/initialized', 'ping']);
    session.closeStdin();
    await session.exited;
    expect(await invalidAuditEvents(auditDir)).toEqual([]);
  });
});
