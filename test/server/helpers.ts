import {spawn, type ChildProcess} from 'node:child_process';
import {mkdtemp, readFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';

import {Agent, fetch} from 'undici';

import {THOTH_BIN, REPO_ROOT, runThoth, parseEnvelope} from '../helpers/cli.js';
import {startPostgres, type TestPostgres} from './postgres.js';

/**
 * A real `thoth server start` process (the built CLI) on 127.0.0.1 with an ephemeral port, and
 * what tests need to talk to it: its ready line, HTTPS with its CA, the admin token.
 */
export interface ServerProcess {
  child: ChildProcess;
  url: string;
  caFile: string;
  caPem: string;
  tokenFile: string;
  token: string;
  publicKey: string;
  dataDir: string;
  stderr(): string;
  stop(): Promise<number | null>;
}

/** A fresh data directory and `thoth server start` on `store` (a PostgreSQL started for it). */
export async function startServerOn(
  store: 'embedded' | 'postgres',
): Promise<{dataDir: string; server: ServerProcess; postgres: TestPostgres | undefined}> {
  const dataDir = await mkdtemp(join(tmpdir(), 'thoth-server-'));
  const postgres = store === 'postgres' ? await startPostgres() : undefined;
  const server = await startServerProcess(dataDir, postgres ? {databaseUrl: postgres.url} : {});
  return {dataDir, server, postgres};
}

export async function startServerProcess(
  dataDir: string,
  options: {databaseUrl?: string; extraArgs?: string[]; env?: Record<string, string>; timeoutMs?: number} = {},
): Promise<ServerProcess> {
  const args = [THOTH_BIN, 'server', 'start', '--json', '--listen', '127.0.0.1:0', '--data-dir', dataDir, ...(options.extraArgs ?? [])];
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env['PATH'],
      HOME: process.env['HOME'],
      THOTH_HOME: dataDir,
      ...(options.databaseUrl ? {THOTH_SERVER_DATABASE_URL: options.databaseUrl} : {}),
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + (options.timeoutMs ?? 90_000);
  while (!stdout.includes('\n')) {
    if (child.exitCode !== null) throw new Error(`thoth server start exited ${child.exitCode}: ${stderr}${stdout}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`thoth server start printed no ready line: ${stderr}`);
    }
    await sleep(50);
  }
  // A failed start prints its error envelope over several lines: show it whole.
  const firstLine = stdout.split('\n')[0]!;
  if (!firstLine.startsWith('{"')) throw new Error(`thoth server start did not print a ready line: ${stdout}${stderr}`);
  const ready = JSON.parse(firstLine) as {
    ok: boolean;
    result: {url: string; caFile: string; tokenFile: string | null; publicKey: string};
  };
  if (!ready.ok) throw new Error(`not ready: ${stdout}`);
  const tokenFile = ready.result.tokenFile ?? `${dataDir}/admin-token`;
  return {
    child,
    url: ready.result.url,
    caFile: ready.result.caFile,
    caPem: await readFile(ready.result.caFile, 'utf8'),
    tokenFile,
    token: (await readFile(tokenFile, 'utf8').catch(() => '')).trim(),
    publicKey: ready.result.publicKey.replace(/^ed25519:/, ''),
    dataDir,
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** A parsed answer, read loosely by tests (they assert its shape). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are asserted field by field
export type Json = any;

const agents = new Map<string, Agent>();

/** HTTPS to the server with its CA (undici, as thoth itself). */
export async function call(
  server: Pick<ServerProcess, 'url' | 'caPem'>,
  method: string,
  path: string,
  options: {body?: unknown; raw?: string; headers?: Record<string, string>; redirect?: 'follow' | 'manual'} = {},
): Promise<{status: number; body: Json; headers: Headers; text: string}> {
  let agent = agents.get(server.caPem);
  if (!agent) agents.set(server.caPem, (agent = new Agent({connect: {ca: server.caPem}})));
  const text = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const response = await fetch(`${server.url}${path}`, {
    method,
    dispatcher: agent,
    redirect: options.redirect ?? 'follow',
    headers: {...(text === undefined ? {} : {'content-type': 'application/json'}), ...options.headers},
    ...(text === undefined ? {} : {body: text}),
  });
  const answer = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(answer);
  } catch {
    body = undefined;
  }
  return {status: response.status, body, headers: response.headers as unknown as Headers, text: answer};
}

/** An admin API call with the bootstrap token. */
export function admin(server: ServerProcess, method: string, path: string, body?: unknown) {
  return call(server, method, `/api/admin/v1${path}`, {body, headers: {authorization: `Bearer ${server.token}`}});
}

/** `thoth server tenant create NAME --json` against this server: the API key. */
export async function createTenant(server: ServerProcess, name: string): Promise<{apiKey: string; keyId: string}> {
  const result = await runThoth(['server', 'tenant', 'create', name, '--data-dir', server.dataDir, '--json']);
  const envelope = parseEnvelope<{apiKey: string; keyId: string}>(result.stdout);
  if (!envelope.ok) throw new Error(`tenant create failed: ${result.stdout}${result.stderr}`);
  return envelope.result!;
}

/** The environment of a `thoth run` endpoint pointed at this server. */
export function endpointEnv(server: ServerProcess, apiKey: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    THOTH_TENANT_ID: 'acme',
    THOTH_ENFORCER_URL: server.url,
    THOTH_GOVAPI_URL: server.url,
    THOTH_API_KEY: apiKey,
    THOTH_TLS_CA_BUNDLE: server.caFile,
    THOTH_ENDPOINT_ID: 'ep-server-1',
    THOTH_REQUIRE_NON_ROOT: 'false',
    THOTH_ENDPOINT_CHECKIN_INTERVAL_SEC: '5',
    ...extra,
  };
}

export async function until<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not met within ${timeoutMs} ms`);
    await sleep(100);
  }
}
