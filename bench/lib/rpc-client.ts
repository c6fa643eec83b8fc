import {spawn, type ChildProcessWithoutNullStreams} from 'node:child_process';
import {readFileSync} from 'node:fs';

/** USER_HZ: 100 on every Linux architecture Node supports. */
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * A minimal JSON-RPC client over a child's stdio: no SDK validation in the loop, so the bench
 * measures the transport and the proxy, not the client library.
 */
export class RpcClient {
  readonly child: ChildProcessWithoutNullStreams;
  private buffer: Buffer[] = [];
  private nextId = 1;
  private readonly pending = new Map<number, (message: Record<string, unknown>) => void>();
  readonly exited: Promise<number | null>;

  constructor(command: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
    this.child = spawn(command, args, {stdio: ['pipe', 'pipe', 'pipe'], env});
    this.child.stderr.resume();
    this.child.stdout.on('data', (chunk: Buffer) => this.onData(chunk));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
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
        const resolve = this.pending.get(message['id']);
        this.pending.delete(message['id']);
        resolve?.(message);
      }
    }
  }

  request(method: string, params: unknown): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    const promise = new Promise<Record<string, unknown>>((resolve) => this.pending.set(id, resolve));
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

  /** CPU time (user + system) the child process has used so far, in microseconds (Linux). */
  cpuMicros(): number | undefined {
    try {
      const stat = readFileSync(`/proc/${this.child.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]);
      return (ticks * 1_000_000) / CLOCK_TICKS_PER_SECOND;
    } catch {
      return undefined;
    }
  }

  /** Peak resident set size of the child process (Linux VmHWM), in bytes. */
  peakRss(): number | undefined {
    try {
      const status = readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
      const match = /VmHWM:\s+(\d+) kB/.exec(status);
      return match ? Number(match[1]) * 1024 : undefined;
    } catch {
      return undefined;
    }
  }

  async close(): Promise<void> {
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}
