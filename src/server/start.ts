import {createServer, type Server} from 'node:https';
import {mkdir, open, readFile, rm, stat, writeFile} from 'node:fs/promises';
import type {Socket} from 'node:net';
import {join, resolve} from 'node:path';

import {ROUTES, ERROR_SCHEMA} from '../control-plane/contract.js';
import {ThothError, errnoCode} from '../core/errors.js';
import {ExitCode} from '../core/exit-codes.js';
import {loadValidator, type CompiledValidator} from '../util/validators.js';
import {writeFileAtomic} from '../util/atomic-write.js';
import {SERVER_INFO_FILE} from './admin-client.js';
import {requestHandler} from './app.js';
import {ApprovalWaiters} from './approvals.js';
import {PolicyCache} from './central-policy.js';
import type {ServerContext} from './context.js';
import {ensureServerPki} from './pki.js';
import {RateLimiter} from './rate-limit.js';
import {hashSecret, newSecret} from './secrets.js';
import {loadSigningKey} from './signing.js';
import type {Database} from './store/database.js';
import {migrate} from './store/migrations.js';

export interface ServerOptions {
  dataDir: string;
  host: string;
  port: number;
  /** PostgreSQL (postgres://…); undefined: the embedded store in <dataDir>/db. */
  databaseUrl?: string | undefined;
  /** The URL approvers and endpoints use (default https://<host>:<port>). */
  publicUrl?: string | undefined;
  /** More names for the server certificate (a load balancer's, a DNS name). */
  tlsNames?: readonly string[];
  checkinIntervalSeconds?: number | undefined;
  /** Requests per second per endpoint API key, per instance (default 1000, burst twice that). */
  keyRatePerSecond?: number | undefined;
  log?: (line: string) => void;
}

export interface RunningServer {
  url: string;
  caFile: string;
  certSha256: string;
  /** The file holding the admin bootstrap token (0600), when this instance's data directory has it. */
  tokenFile: string | undefined;
  /** The bootstrap token when this start created it (to print once), else undefined. */
  newToken: string | undefined;
  /** The server's Ed25519 public key (endpoints pin it). */
  publicKey: string;
  store: 'embedded' | 'postgres';
  migrated: number[];
  close(): Promise<void>;
}

const SERVER_SCHEMAS = [
  'login',
  'tenant-create',
  'key-rotate',
  'key-revoke',
  'policy-upload',
  'approval-decision',
  'pin-decision',
  'user-create',
  'user-update',
];

/**
 * `thoth server start`: opens (and migrates) the store, makes the TLS material, the signing key
 * and the admin bootstrap token on first start, and serves the contract, the admin API and the
 * web app over HTTPS (TLS 1.2 and later only).
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const dataDir = resolve(options.dataDir);
  await mkdir(dataDir, {recursive: true, mode: 0o700});
  const releaseLock = options.databaseUrl === undefined ? await lockDataDir(dataDir) : async () => undefined;
  let db: Database | undefined;
  try {
    db =
      options.databaseUrl === undefined
        ? await (await import('./store/pglite.js')).openEmbedded(join(dataDir, 'db'))
        : await (await import('./store/postgres.js')).openPostgres(options.databaseUrl);
    const migrated = await migrate(db);
    const key = await loadSigningKey(db);
    const {tokenFile, newToken} = await ensureAdminToken(db, dataDir);
    const pki = await ensureServerPki(dataDir, {names: [options.host, ...(options.tlsNames ?? []), ...hostOf(options.publicUrl)]});
    const validators = await loadValidators();
    const waiters = new ApprovalWaiters(db);
    const rate = options.keyRatePerSecond ?? 1000;
    const displayHost = options.host.includes(':') ? `[${options.host}]` : options.host === '0.0.0.0' ? '127.0.0.1' : options.host;
    const context: ServerContext = {
      db,
      key,
      policies: new PolicyCache(db),
      waiters,
      publicUrl: (options.publicUrl ?? `https://${displayHost}:${options.port}`).replace(/\/+$/, ''),
      checkinIntervalSeconds: options.checkinIntervalSeconds,
      keyLimiter: new RateLimiter(rate, rate * 2),
      adminLimiter: new RateLimiter(50, 200),
      loginLimiter: new RateLimiter(0.2, 5),
      addressLimiter: new RateLimiter(1, 30),
      validators,
      log,
    };
    const server = createServer(
      {key: pki.keyPem, cert: pki.certPem, minVersion: 'TLSv1.2', keepAliveTimeout: 65_000, requestTimeout: 60_000, headersTimeout: 20_000},
      requestHandler(context),
    );
    const sockets = new Set<Socket>();
    server.on('secureConnection', (socket: Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    // A failed handshake or a reset connection is the client's business, not a crash.
    server.on('tlsClientError', () => undefined);
    const port = await listen(server, options.host, options.port);
    if (options.publicUrl === undefined) context.publicUrl = `https://${displayHost}:${port}`;
    const url = `https://${displayHost}:${port}`;
    // Where the `thoth server …` commands find this instance (no secret in it).
    await writeFileAtomic(
      join(dataDir, SERVER_INFO_FILE),
      `${JSON.stringify({url, caFile: pki.caCertPath, pid: process.pid, store: db.kind}, null, 2)}\n`,
      {mode: 0o600},
    );
    const opened = db;
    return {
      url,
      caFile: pki.caCertPath,
      certSha256: pki.certSha256,
      tokenFile,
      newToken,
      publicKey: key.publicKey,
      store: opened.kind,
      migrated,
      close: async () => {
        await new Promise<void>((done) => {
          server.close(() => done());
          for (const socket of sockets) socket.destroy();
        });
        await waiters.close();
        await opened.close();
        await releaseLock();
      },
    };
  } catch (error) {
    await db?.close().catch(() => undefined);
    await releaseLock();
    throw error;
  }
}

async function loadValidators(): Promise<Map<string, CompiledValidator>> {
  const names = [
    ...Object.values(ROUTES).flatMap((route) => [route.request, route.response]),
    ERROR_SCHEMA,
    ...SERVER_SCHEMAS.map((name) => `server/${name}`),
  ];
  return new Map(await Promise.all(names.map(async (name) => [name, await loadValidator(name)] as const)));
}

/**
 * The admin bootstrap token: made once per database (its hash in the database, the token in
 * `<data dir>/admin-token`, mode 0600) and returned to be printed that once.
 */
async function ensureAdminToken(db: Database, dataDir: string): Promise<{tokenFile: string | undefined; newToken: string | undefined}> {
  const tokenFile = join(dataDir, 'admin-token');
  const token = newSecret('admin-token');
  const inserted = await db.query(
    `insert into server_secrets (name, value_hash) values ('admin-token', $1) on conflict (name) do nothing returning name`,
    [hashSecret(token)],
  );
  if (inserted.length > 0) {
    await rm(tokenFile, {force: true});
    await writeFile(tokenFile, `${token}\n`, {mode: 0o600, flag: 'wx'});
    return {tokenFile, newToken: token};
  }
  return {tokenFile: (await exists(tokenFile)) ? tokenFile : undefined, newToken: undefined};
}

/** One server process per embedded store: PGlite must not be opened twice. */
async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const lockFile = join(dataDir, 'server.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(lockFile, 'wx', 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return async () => {
        await rm(lockFile, {force: true});
      };
    } catch (error) {
      if (errnoCode(error) !== 'EEXIST') throw error;
      const pid = Number((await readFile(lockFile, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
        throw new ThothError('SERVER_DATA_DIR_IN_USE', `${dataDir} is used by another thoth server (pid ${pid})`, {
          exitCode: ExitCode.CONFLICT,
          suggestions: [
            'Stop that server, or give this one its own --data-dir (several instances share a PostgreSQL database, not an embedded store).',
          ],
        });
      }
      // Left behind by a server that died: take it over.
      await rm(lockFile, {force: true});
    }
  }
  throw new ThothError('SERVER_DATA_DIR_IN_USE', `${dataDir}: the lock file could not be taken`, {exitCode: ExitCode.CONFLICT});
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoCode(error) === 'EPERM';
  }
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((done, fail) => {
    server.once('error', (error) => {
      fail(
        errnoCode(error) === 'EADDRINUSE'
          ? new ThothError('SERVER_ADDRESS_IN_USE', `${host}:${port} is in use`, {
              exitCode: ExitCode.CONFLICT,
              suggestions: ['Choose another --listen HOST:PORT.'],
            })
          : error,
      );
    });
    server.listen(port, host, () => {
      const address = server.address();
      done(typeof address === 'object' && address ? address.port : port);
    });
  });
}

function hostOf(url: string | undefined): string[] {
  if (url === undefined) return [];
  try {
    return [new URL(url).hostname.replace(/^\[|\]$/g, '')];
  } catch {
    return [];
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
