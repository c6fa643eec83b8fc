import {spawn} from 'node:child_process';
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const THOTH_BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url));

let sharedProfile: string | undefined;

/** A profile for calls that name none, so that no test ever touches the real ~/.thoth. */
function fallbackProfile(): string {
  if (sharedProfile === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'thoth-cli-'));
    sharedProfile = dir;
    process.once('exit', () => rmSync(dir, {recursive: true, force: true}));
  }
  return sharedProfile;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the built CLI (`npm run build` first) as a real child process. `env` is merged over a
 * minimal environment; THOTH_HOME should point at a temporary directory in every test.
 */
export function runThoth(
  args: string[],
  options: {env?: Record<string, string | undefined>; input?: string; cwd?: string; timeoutMs?: number} = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [THOTH_BIN, ...args], {
      cwd: options.cwd ?? REPO_ROOT,
      env: {PATH: process.env['PATH'], HOME: process.env['HOME'], THOTH_HOME: fallbackProfile(), ...options.env},
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({code, signal, stdout, stderr});
    });
    child.stdin.end(options.input ?? '');
  });
}

/** Parses the `--json` envelope printed on stdout. */
export function parseEnvelope<T = unknown>(
  stdout: string,
): {
  ok: boolean;
  status: number;
  command: string;
  result?: T;
  error?: {code: string; message: string; suggestions: string[]};
  warnings: string[];
} {
  return JSON.parse(stdout) as never;
}
