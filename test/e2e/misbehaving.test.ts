import {describe, expect, it} from 'vitest';

import {MISBEHAVING_SERVER} from '../helpers/mcp.js';
import {RawSession, waitUntilDead} from '../helpers/raw-session.js';

const server = (...switches: string[]) => [process.execPath, MISBEHAVING_SERVER, ...switches];
const callTool = (id: unknown, name: string, args: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: {name, arguments: args},
});

function textOf(response: Record<string, unknown>): string {
  return (response['result'] as {content: Array<{text: string}>}).content[0]!.text;
}

describe('thoth run with a misbehaving server (raw protocol)', () => {
  it('keeps a startup banner off stdout: it goes to stderr with a warning', async () => {
    const session = new RawSession(['--agent-id', 'm'], server('--banner'));
    const init = await session.initialize();
    expect(init).toMatchObject({id: 'init', result: {serverInfo: {name: 'misbehaving-server'}}});
    session.send(callTool(1, 'raw', {line: 'DEBUG: a stray print() in the middle of a session'}));
    expect(await session.nextJson()).toMatchObject({id: 1});
    session.closeStdin();
    expect((await session.exited).code).toBe(0);
    for (const line of session.stdoutLines) expect(() => JSON.parse(line)).not.toThrow();
    expect(session.stderr).toContain('this banner is not JSON');
    expect(session.stderr).toContain('a stray print()');
    expect(session.stderr).toMatch(/\[thoth\] warning: the server wrote a non-JSON-RPC line/);
  });

  it('answers a request pending when the server exits mid-call, then exits with the server code (7)', async () => {
    const session = new RawSession(['--agent-id', 'm'], server());
    await session.initialize();
    session.send(callTool(2, 'sleep', {ms: 5000}));
    session.send(callTool(3, 'crash', {code: 7}));
    const replies = [await session.nextJson(), await session.nextJson()];
    expect(replies.map((r) => r['id']).sort()).toEqual([2, 3]);
    for (const reply of replies) expect(reply).toMatchObject({error: {code: -32003, message: expect.stringContaining('exit code 7')}});
    expect((await session.exited).code).toBe(7);
  });

  it('stops a server that ignores stdin closing and SIGTERM with SIGKILL, and leaves no process behind', async () => {
    const session = new RawSession(['--agent-id', 'm', '--shutdown-grace-ms', '300'], server('--ignore-sigterm', '--ignore-stdin-close'));
    await session.initialize();
    session.send(callTool(1, 'pid'));
    const serverPid = Number(textOf(await session.nextJson()));
    session.send(callTool(2, 'spawn-child'));
    const grandchildPid = Number(textOf(await session.nextJson()));
    const started = Date.now();
    session.closeStdin();
    const exit = await session.exited;
    expect(exit.code).toBe(128 + 9);
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    expect(await waitUntilDead(serverPid)).toBe(true);
    expect(await waitUntilDead(grandchildPid)).toBe(true);
    expect(session.stderr).toContain('ignoring SIGTERM');
  });

  it('passes SIGTERM on to the server and exits with 128+15 when it dies of it', async () => {
    const session = new RawSession(['--agent-id', 'm'], server());
    await session.initialize();
    session.send(callTool(1, 'pid'));
    const serverPid = Number(textOf(await session.nextJson()));
    session.child.kill('SIGTERM');
    expect((await session.exited).code).toBe(128 + 15);
    expect(await waitUntilDead(serverPid)).toBe(true);
  });

  it('relays a 20 MiB response intact', async () => {
    const session = new RawSession(['--agent-id', 'm'], server());
    await session.initialize();
    session.send(callTool(1, 'big', {mebibytes: 20}));
    const text = textOf(await session.nextJson(60_000));
    expect(text.length).toBe(20 * 1024 * 1024);
    expect(/^x+$/.test(text)).toBe(true);
    session.closeStdin();
    await session.exited;
  });

  it('buffers the client while a slow server starts', async () => {
    const session = new RawSession(['--agent-id', 'm'], server('--slow-start=1500'));
    const init = await session.initialize();
    expect(init).toMatchObject({result: {serverInfo: {name: 'misbehaving-server'}}});
    session.closeStdin();
    expect((await session.exited).code).toBe(0);
  });

  it('reassembles messages written one byte at a time and many per write', async () => {
    const session = new RawSession(['--agent-id', 'm'], server());
    await session.initialize();
    const text = `${JSON.stringify(callTool(1, 'echo', {text: 'fragmented ✓'}))}\r\n`;
    for (const byte of Buffer.from(text)) session.write(Buffer.from([byte]));
    expect(textOf(await session.nextJson())).toBe('fragmented ✓');
    session.write([2, 3, 4].map((id) => JSON.stringify(callTool(id, 'echo', {text: `n${id}`}))).join('\n') + '\n');
    const replies = [await session.nextJson(), await session.nextJson(), await session.nextJson()];
    expect(replies.map((r) => textOf(r)).sort()).toEqual(['n2', 'n3', 'n4']);
    session.closeStdin();
    await session.exited;
  });

  it('relays JSON-RPC batches and keeps every id exact (strings, negatives, integers beyond 2^53)', async () => {
    const session = new RawSession(['--agent-id', 'm'], server());
    await session.initialize();
    session.write(
      '[{"jsonrpc":"2.0","id":"a-1","method":"ping"},{"jsonrpc":"2.0","method":"notifications/x"},{"jsonrpc":"2.0","id":-3,"method":"tools/call","params":{"name":"echo","arguments":{"text":"batched"}}}]\n',
    );
    const batch = JSON.parse(await session.next()) as Array<Record<string, unknown>>;
    expect(batch.map((r) => r['id'])).toEqual(['a-1', -3]);
    expect(textOf(batch[1]!)).toBe('batched');
    // The fixture server echoes the exact line it received (its own JSON.parse would round the id).
    const exact =
      '{"jsonrpc":"2.0","id":12345678901234567890,"method":"custom/echo","params":{"big":98765432109876543210,"nested":{"keep":[1,2,3]}}}';
    session.write(`${exact}\n`);
    const echoed = await session.nextJson();
    expect((echoed['result'] as {rawLine: string}).rawLine).toBe(exact);
    session.closeStdin();
    await session.exited;
  });

  it('answers a line that is not JSON with -32700 and goes on', async () => {
    const session = new RawSession(['--agent-id', 'm'], server());
    await session.initialize();
    session.write('{"jsonrpc": "2.0", oops\n');
    expect(await session.nextJson()).toMatchObject({id: null, error: {code: -32700}});
    session.send(callTool(9, 'echo', {text: 'still here'}));
    expect(textOf(await session.nextJson())).toBe('still here');
    session.closeStdin();
    await session.exited;
  });

  it('refuses an oversized request with an error and a stderr message, and the session goes on', async () => {
    const session = new RawSession(['--agent-id', 'm', '--max-message-bytes', '65536'], server());
    await session.initialize();
    session.send(callTool(5, 'echo', {text: 'z'.repeat(100_000)}));
    expect(await session.nextJson()).toMatchObject({id: 5, error: {code: -32004}});
    session.send(callTool(6, 'echo', {text: 'small'}));
    expect(textOf(await session.nextJson())).toBe('small');
    expect(session.stderr).toMatch(/over the 65536-byte limit/);
    session.closeStdin();
    await session.exited;
  });

  it('fails fast with exit 127 and the places it searched when the server executable does not exist', async () => {
    // A PATH of its own: the message shows the first 12 places, and the test's PATH can be longer.
    const session = new RawSession(['--agent-id', 'm'], ['definitely-not-a-real-mcp-server'], {PATH: '/usr/bin:/bin'});
    const exit = await session.exited;
    expect(exit.code).toBe(127);
    expect(session.stdoutBytes).toBe(0);
    expect(session.stderr).toMatch(/cannot find the server executable "definitely-not-a-real-mcp-server"; searched: /);
    // PATH, then the places a minimal client PATH misses.
    expect(session.stderr).toContain('/usr/bin/definitely-not-a-real-mcp-server');
    expect(session.stderr).toContain('/usr/local/bin/definitely-not-a-real-mcp-server');
    expect(session.stderr).toMatch(/Try this:/);
  });

  it('rejects bad flags with exit 2 and a usage hint, before starting anything', async () => {
    const session = new RawSession(['--enforcement-mode', 'lenient'], server());
    const exit = await session.exited;
    expect(exit.code).toBe(2);
    expect(session.stderr).toMatch(/--enforcement-mode must be one of progressive, step_up, block, observe/);
    expect(session.stdoutBytes).toBe(0);
  });
});
