import {createHash} from 'node:crypto';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';

import {describe, expect, it} from 'vitest';

import {readEvents} from '../../src/audit/reader.js';
import {invalidAuditEvents} from '../helpers/audit-schemas.js';
import {RawSession, directly} from '../helpers/raw-session.js';
import {tempDir} from '../helpers/tmp.js';

/**
 * thoth forwards the client's own bytes when every parser reads them as thoth did, and its
 * re-serialisation otherwise (src/proxy/single-reading.ts). Against a server that keeps the FIRST
 * of two identical keys and one that keeps the LAST, a message with a duplicate key reaches
 * either as the one reading thoth decided on.
 */

const SERVER = fileURLToPath(new URL('../../fixtures/servers/duplicate-keys-server.mjs', import.meta.url));
const readers = [
  {name: 'a server that keeps the first of duplicate keys', command: [process.execPath, SERVER]},
  {name: 'a server that keeps the last of duplicate keys', command: [process.execPath, SERVER, '--last']},
];

/** thoth read `/tmp/x` (JSON.parse keeps the last key); a first-key server reads the key file. */
const DUPLICATE_PATH =
  '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"read","arguments":{"path":"~/.ssh/id_rsa","path":"/tmp/x"}}}';
/** The same one level up: two `params`, the first naming another tool and path. */
const DUPLICATE_PARAMS =
  '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"read","arguments":{"path":"/etc/shadow"}},"params":{"name":"read","arguments":{"path":"/tmp/y"}}}';

/** Every line the server received, as bytes. */
async function rawLines(session: RawSession, id: string): Promise<Buffer[]> {
  session.send({jsonrpc: '2.0', id, method: 'debug/raw'});
  const reply = await session.nextJson();
  expect(reply['id']).toBe(id);
  return (reply['result'] as {lines: string[]}).lines.map((line) => Buffer.from(line, 'base64'));
}

const decodedPath = (reply: Record<string, unknown>): string =>
  (JSON.parse((reply['result'] as {content: Array<{text: string}>}).content[0]!.text) as {path: string}).path;

function startSession(command: string[], home: string): RawSession {
  // The defaults: built-in policy (progressive), audit on, links followed.
  return new RawSession(['--agent-id', 'single-reading'], command, {THOTH_HOME: home});
}

describe.each(readers)('duplicate keys reach $name as thoth read them', ({command}) => {
  it('the attack is real: this server alone reads the duplicates its own way', async () => {
    const replies = await directly(command, [DUPLICATE_PATH, DUPLICATE_PARAMS]);
    const first = command.length === 2;
    expect(decodedPath(replies.find((r) => r['id'] === 7)!)).toBe(first ? '~/.ssh/id_rsa' : '/tmp/x');
    expect(decodedPath(replies.find((r) => r['id'] === 8)!)).toBe(first ? '/etc/shadow' : '/tmp/y');
  });

  it('thoth re-serialises a message with a duplicate key: the server sees only the value thoth decided on', async () => {
    const home = await tempDir();
    const session = startSession(command, home);
    await session.initialize();
    session.write(`${DUPLICATE_PATH}\n`);
    expect(decodedPath(await session.nextJson())).toBe('/tmp/x');
    session.write(`${DUPLICATE_PARAMS}\n`);
    expect(decodedPath(await session.nextJson())).toBe('/tmp/y');
    const lines = (await rawLines(session, 'raw')).map((line) => line.toString('utf8'));
    const calls = lines.filter((line) => line.includes('tools/call'));
    expect(calls).toEqual([
      JSON.stringify({jsonrpc: '2.0', id: 7, method: 'tools/call', params: {name: 'read', arguments: {path: '/tmp/x'}}}),
      JSON.stringify({jsonrpc: '2.0', id: 8, method: 'tools/call', params: {name: 'read', arguments: {path: '/tmp/y'}}}),
    ]);
    session.closeStdin();
    expect((await session.exited).code).toBe(0);
    const events = (await readEvents(join(home, 'audit'))).map((stored) => stored.event);
    const pre = events.filter((event) => event.type === 'TOOL_CALL_PRE');
    expect(pre.map((event) => event['content'])).toEqual(['{"path":"/tmp/x"}', '{"path":"/tmp/y"}']);
    expect(await invalidAuditEvents(join(home, 'audit'))).toEqual([]);
  });
});

describe('what thoth forwards as the client wrote it, and what it writes itself', () => {
  it('a message with one reading goes out byte for byte; its arguments are recorded and hashed as sent', async () => {
    const home = await tempDir();
    const session = startSession([process.execPath, SERVER], home);
    await session.initialize();
    const args = '{ "path" : "\\/tmp\\/z" , "big" : 123456789012345678901234567890, "n": -7, "f": 0.5, "t": [true, null, "a\\u00e9"] }';
    const line = `{"params": {"arguments": ${args}, "name": "read"}, "method": "tools/call", "id": "c\\u00e9", "jsonrpc": "2.0"}`;
    session.write(`${line}\n`);
    const reply = await session.nextJson();
    expect(reply['id']).toBe('c\u00e9');
    expect(decodedPath(reply)).toBe('/tmp/z');
    const lines = await rawLines(session, 'raw');
    expect(lines.find((bytes) => bytes.includes('tools/call'))?.toString('utf8')).toBe(line);
    session.closeStdin();
    expect((await session.exited).code).toBe(0);
    const events = (await readEvents(join(home, 'audit'))).map((stored) => stored.event);
    const pre = events.find((event) => event.type === 'TOOL_CALL_PRE')!;
    expect(pre['content']).toBe(args);
    expect(pre['contentBytes']).toBe(Buffer.byteLength(args));
    expect(pre['contentSha256']).toBe(createHash('sha256').update(args).digest('hex'));
    expect(await invalidAuditEvents(join(home, 'audit'))).toEqual([]);
  });

  it('numbers other parsers may read differently (1.0, 1e2, -0, 1e400) reach the server as thoth read them', async () => {
    const session = startSession([process.execPath, SERVER], await tempDir());
    await session.initialize();
    session.write(
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read","arguments":{"path":"/tmp/n","a":1.0,"b":1e2,"c":-0,"d":1e400}}}\n',
    );
    expect(decodedPath(await session.nextJson())).toBe('/tmp/n');
    const call = (await rawLines(session, 'raw')).find((bytes) => bytes.includes('tools/call'))!.toString('utf8');
    expect(call).toBe(
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read","arguments":{"path":"/tmp/n","a":1,"b":100,"c":0,"d":null}}}',
    );
    session.closeStdin();
    expect((await session.exited).code).toBe(0);
  });

  it('bytes that are not UTF-8 reach the server as the characters thoth read (U+FFFD), never as sent', async () => {
    const session = startSession([process.execPath, SERVER], await tempDir());
    await session.initialize();
    // C0 AE is an overlong encoding of "." that a lenient decoder reads as a dot: /tmp/../x.
    const line = Buffer.concat([
      Buffer.from('{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"read","arguments":{"path":"/tmp/'),
      Buffer.from([0xc0, 0xae, 0xc0, 0xae]),
      Buffer.from('/x"}}}\n'),
    ]);
    session.write(line);
    expect(decodedPath(await session.nextJson())).toBe('/tmp/\ufffd\ufffd\ufffd\ufffd/x');
    const call = (await rawLines(session, 'raw')).find((bytes) => bytes.includes('tools/call'))!;
    expect(call.includes(Buffer.from([0xc0]))).toBe(false);
    expect(call.toString('utf8')).toContain('"path":"/tmp/\ufffd\ufffd\ufffd\ufffd/x"');
    session.closeStdin();
    expect((await session.exited).code).toBe(0);
  });
});
