import {spawn as nodeSpawn, type ChildProcessByStdio} from 'node:child_process';
import {constants} from 'node:os';
import type {Readable, Writable} from 'node:stream';
import {setTimeout as sleep} from 'node:timers/promises';

import type {SpawnPlan} from './resolve-executable.js';

export interface UpstreamExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all. */
  spawnError?: Error;
}

export interface Upstream {
  readonly pid: number | undefined;
  readonly stdin: Writable;
  readonly stdout: Readable;
  /** Resolves when the process has exited (or failed to start). */
  readonly exited: Promise<UpstreamExit>;
  /** After stdin was closed: wait, then SIGTERM, wait, then SIGKILL (the whole process group). */
  shutdown(graceMs: number): Promise<UpstreamExit>;
  /** Passes a signal thoth received on to the server. */
  forwardSignal(signal: NodeJS.Signals): void;
  /** Waits until the server's stdout is drained and closed, at most `timeoutMs`. */
  outputClosed(timeoutMs: number): Promise<void>;
}

export interface StartOptions {
  env: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  spawn?: typeof nodeSpawn;
}

/**
 * Starts the server without a shell. On POSIX it leads its own process group, so that `npx` and
 * the node it starts are signalled together and nothing is left behind.
 */
export function startUpstream(plan: SpawnPlan, options: StartOptions): Upstream {
  const platform = options.platform ?? process.platform;
  const spawn = options.spawn ?? nodeSpawn;
  const ownGroup = platform !== 'win32';
  const child = spawn(plan.file, plan.args, {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: options.env,
    shell: false,
    windowsHide: true,
    detached: ownGroup,
    windowsVerbatimArguments: plan.verbatimArguments ?? false,
  }) as ChildProcessByStdio<Writable, Readable, null>;

  let exitInfo: UpstreamExit | undefined;
  const exited = new Promise<UpstreamExit>((resolve) => {
    child.once('error', (error) => {
      if (exitInfo) return;
      exitInfo = {code: null, signal: null, spawnError: error};
      resolve(exitInfo);
    });
    child.once('exit', (code, signal) => {
      exitInfo = {code, signal};
      resolve(exitInfo);
    });
  });
  let stdoutClosed = false;
  child.stdout.once('close', () => (stdoutClosed = true));

  const signalGroup = (signal: NodeJS.Signals): void => {
    if (child.pid === undefined) return;
    try {
      if (ownGroup) process.kill(-child.pid, signal);
      else child.kill(signal);
    } catch {
      // Already gone.
    }
  };

  // When the server exits, anything it started in its group goes too.
  void exited.then(async () => {
    if (!ownGroup || child.pid === undefined) return;
    signalGroup('SIGTERM');
    await sleep(1000, undefined, {ref: false});
    signalGroup('SIGKILL');
  });

  return {
    pid: child.pid,
    stdin: child.stdin,
    stdout: child.stdout,
    exited,
    async shutdown(graceMs) {
      const timedOut = Symbol('timeout');
      const wait = async (): Promise<UpstreamExit | typeof timedOut> => Promise.race([exited, sleep(graceMs, timedOut, {ref: false})]);
      let result = await wait();
      if (result !== timedOut) return result;
      signalGroup('SIGTERM');
      result = await wait();
      if (result !== timedOut) return result;
      signalGroup('SIGKILL');
      return exited;
    },
    forwardSignal: signalGroup,
    async outputClosed(timeoutMs) {
      if (stdoutClosed) return;
      await Promise.race([new Promise((resolve) => child.stdout.once('close', resolve)), sleep(timeoutMs, undefined, {ref: false})]);
    },
  };
}

/** The shell convention: the exit code, or 128 + the signal number. */
export function exitCodeOf(exit: UpstreamExit): number {
  if (exit.spawnError) return (exit.spawnError as NodeJS.ErrnoException).code === 'EACCES' ? 126 : 127;
  if (exit.code !== null) return exit.code;
  if (exit.signal !== null) return 128 + (constants.signals[exit.signal] ?? 0);
  return 1;
}

export function describeExit(exit: UpstreamExit): string {
  if (exit.spawnError) return `it could not be started: ${exit.spawnError.message}`;
  if (exit.signal !== null) return `killed by ${exit.signal}`;
  return `exit code ${exit.code ?? 'unknown'}`;
}
