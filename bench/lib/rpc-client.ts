import {spawn, type ChildProcessWithoutNullStreams} from 'node:child_process';
import {readFileSync} from 'node:fs';

/** USER_HZ: 100 on every Linux architecture Node supports. */
const CLOCK_TICKS_PER_SECOND = 100;

interface Waiter {
  method: string;
  resolve: (message: Record<string, unknown>) => void;
  reject: (error: Error) => void;
}

/**
 * A minimal JSON-RPC client over a child's stdio: no SDK validation in the loop, so the bench
 * measures the transport and the proxy, not the client library.
 *
 * It is honest about failures: a request answered with a JSON-RPC error rejects (a call thoth
 * refused is not a round trip), and `echo` also checks that the result is the echo of what was
 * sent. A bench run therefore fails on the first call that did not do what it was timed doing.
 */
export class RpcClient {
  readonly child: ChildProcessWithoutNullStreams;
  private buffer: Buffer[] = [];
  private nextId = 1;
  private readonly pending = new Map<number, Waiter>();
  readonly exited: Promise<number | null>;

  constructor(command: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
    this.child = spawn(command, args, {stdio: ['pipe', 'pipe', 'pipe'], env});
    this.child.stderr.resume();
    this.child.stdout.on('data', (chunk: Buffer) => this.onData(chunk));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    void this.exited.then((code) => {
      for (const [id, waiter] of this.pending) {
        this.pending.delete(id);
        waiter.reject(new Error(`${command} exited (code ${code}) before answering ${waiter.method} #${id}`));
      }
    });
  }

  private onData(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(0x0a, start);
      if (newline === -1) {
        if (start < chunk.length) this.buffer.push(chunk.subarray(start));
        return;
      }
      const piece = chunk.subarray(start, newline);
      const line = this.buffer.length > 0 ? Buffer.concat([...this.buffer, piece]) : piece;
      this.buffer = [];
      start = newline + 1;
      const message = JSON.parse(line.toString('utf8')) as Record<string, unknown>;
      if (typeof message['id'] === 'number' && !('method' in message)) {
        const waiter = this.pending.get(message['id']);
        if (!waiter) throw new Error(`an answer to no request: ${line.toString('utf8').slice(0, 200)}`);
        this.pending.delete(message['id']);
        if ('error' in message || !('result' in message)) {
          waiter.reject(new Error(`${waiter.method} #${message['id']} failed: ${JSON.stringify(message['error']).slice(0, 300)}`));
        } else waiter.resolve(message);
      }
    }
  }

  /** Resolves with the whole response; rejects on an error response (or the child exiting first). */
  request(method: string, params: unknown): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    const promise = new Promise<Record<string, unknown>>((resolve, reject) => this.pending.set(id, {method, resolve, reject}));
    this.child.stdin.write(`${JSON.stringify({jsonrpc: '2.0', id, method, params})}\n`);
    return promise;
  }

  notify(method: string, params?: unknown): void {
    this.child.stdin.write(`${JSON.stringify({jsonrpc: '2.0', method, ...(params === undefined ? {} : {params})})}\n`);
  }

  async initialize(): Promise<Record<string, unknown>> {
    const result = await this.request('initialize', {
      protocolVersion: '2025-06-18',
      capabilities: {},
      clientInfo: {name: 'bench', version: '1'},
    });
    this.notify('notifications/initialized');
    return result;
  }

  callTool(name: string, args: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.request('tools/call', {name, arguments: args});
  }

  /** server-everything's `echo`, checked: the result must be the text `Echo: <message>`. */
  async echo(message: string): Promise<void> {
    const response = await this.callTool('echo', {message});
    checkEcho(response['result'], message);
  }

  /** CPU time (user + system) the child process has used so far, in microseconds (Linux). */
  cpuMicros(): number | undefined {
    return cpuMicrosOf(this.child.pid);
  }

  /** Peak resident set size of the child process (Linux VmHWM), in bytes. */
  peakRss(): number | undefined {
    return peakRssOf(this.child.pid);
  }

  async close(): Promise<void> {
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Throws unless `result` is a successful echo of `message` (server-everything's `echo` tool). */
export function checkEcho(result: unknown, message: string): void {
  const content = (result as {content?: unknown; isError?: unknown} | undefined)?.content;
  const first = Array.isArray(content) ? (content[0] as {type?: unknown; text?: unknown} | undefined) : undefined;
  if ((result as {isError?: unknown}).isError === true || first?.type !== 'text' || first.text !== `Echo: ${message}`) {
    const shown = JSON.stringify(result)?.slice(0, 300);
    throw new Error(`echo of a ${message.length}-character message did not come back as sent: ${shown}`);
  }
}

export function cpuMicrosOf(pid: number | undefined | null): number | undefined {
  if (!pid) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1_000_000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

export function peakRssOf(pid: number | undefined | null): number | undefined {
  if (!pid) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /VmHWM:\s+(\d+) kB/.exec(status);
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
