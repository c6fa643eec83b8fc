import {spawn, type ChildProcessWithoutNullStreams} from 'node:child_process';
import {readFileSync} from 'node:fs';
import {setTimeout as sleep} from 'node:timers/promises';

import {THOTH_BIN} from './cli.js';
import {tempDirSync} from './tmp.js';

/**
 * `thoth run` as a raw child process: write any bytes to its stdin, read its stdout line by line.
 * For protocol tests the SDK client cannot express (fragments, batches, odd ids, bad input).
 */
export class RawSession {
  readonly child: ChildProcessWithoutNullStreams;
  readonly stdoutLines: string[] = [];
  stdoutBytes = 0;
  stderr = '';
  readonly exited: Promise<{code: number | null; signal: NodeJS.Signals | null}>;
  private partial = '';
  private consumed = 0;

  constructor(thothArgs: string[], serverCommand: string[], env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [THOTH_BIN, 'run', ...thothArgs, '--', ...serverCommand], {
      // A profile of its own unless the test gives one: tests never touch the real ~/.thoth.
      env: {
        PATH: process.env['PATH'] ?? '',
        HOME: process.env['HOME'] ?? '',
        THOTH_HOME: tempDirSync(),
        THOTH_REQUIRE_NON_ROOT: 'false',
        ...env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdoutBytes += Buffer.byteLength(chunk);
      this.partial += chunk;
      let newline: number;
      while ((newline = this.partial.indexOf('\n')) !== -1) {
        this.stdoutLines.push(this.partial.slice(0, newline));
        this.partial = this.partial.slice(newline + 1);
      }
    });
    this.child.stderr.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({code, signal})));
  }

  write(text: string | Buffer): void {
    this.child.stdin.write(text);
  }

  send(message: unknown): void {
    this.write(`${JSON.stringify(message)}\n`);
  }

  /** The next stdout line not yet returned. */
  async next(timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.stdoutLines.length <= this.consumed) {
      if (Date.now() > deadline) throw new Error(`no stdout line within ${timeoutMs} ms; stderr:\n${this.stderr}`);
      await sleep(10);
    }
    return this.stdoutLines[this.consumed++]!;
  }

  async nextJson(timeoutMs?: number): Promise<Record<string, unknown>> {
    return JSON.parse(await this.next(timeoutMs)) as Record<string, unknown>;
  }

  async initialize(): Promise<Record<string, unknown>> {
    this.send({
      jsonrpc: '2.0',
      id: 'init',
      method: 'initialize',
      params: {protocolVersion: '2025-06-18', capabilities: {}, clientInfo: {name: 'raw', version: '1'}},
    });
    const response = await this.nextJson();
    this.send({jsonrpc: '2.0', method: 'notifications/initialized'});
    return response;
  }

  closeStdin(): void {
    this.child.stdin.end();
  }
}

/** True while the process runs; a zombie (exited, waiting for its parent to reap it) counts as gone. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

export async function waitUntilDead(pid: number, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(20);
  }
  return !isAlive(pid);
}

/** One exchange with the server alone, no thoth in between: what it makes of each line. */
export async function directly(command: string[], lines: string[]): Promise<Array<Record<string, unknown>>> {
  const child = spawn(command[0]!, command.slice(1), {stdio: ['pipe', 'pipe', 'inherit']});
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stdin.end(`${lines.join('\n')}\n`);
  await new Promise((resolve) => child.once('exit', resolve));
  return out
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
