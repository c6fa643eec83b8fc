import {spawnSync} from 'node:child_process';
import {chownSync, existsSync, mkdtempSync, readdirSync, rmSync} from 'node:fs';
import {createServer} from 'node:net';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

/**
 * A real PostgreSQL for the tests, started by the tests: initdb in a temporary directory and
 * pg_ctl on a free port on 127.0.0.1 (fsync off: a test cluster). As root (CI), initdb refuses to
 * run, so the cluster belongs to `nobody` and the binaries run through runuser. Without the
 * binaries the PostgreSQL variants are skipped, and say so; with THOTH_REQUIRE_POSTGRES=1 (as
 * .ci/run sets) they fail instead.
 */
export interface TestPostgres {
  url: string;
  stop(): void;
}

function binDir(): string | undefined {
  const candidates = [
    process.env['THOTH_PG_BIN'],
    ...listVersions('/usr/lib/postgresql').map((v) => `/usr/lib/postgresql/${v}/bin`),
    '/usr/local/bin',
    '/usr/bin',
  ];
  return candidates.find((dir): dir is string => dir !== undefined && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl')));
}

function listVersions(dir: string): string[] {
  try {
    return readdirSync(dir).sort((a, b) => Number(b) - Number(a));
  } catch {
    return [];
  }
}

export const POSTGRES_BIN = binDir();
export const REQUIRE_POSTGRES = process.env['THOTH_REQUIRE_POSTGRES'] === '1';

/** The stores the server tests run on: always the embedded one, and PostgreSQL where it can be started. */
export function stores(): Array<'embedded' | 'postgres'> {
  if (POSTGRES_BIN === undefined) {
    if (REQUIRE_POSTGRES) throw new Error('THOTH_REQUIRE_POSTGRES=1 but initdb/pg_ctl were not found (Debian: apt-get install postgresql)');
    console.warn(
      'thoth server tests: PostgreSQL binaries not found; the PostgreSQL variants are skipped (set THOTH_PG_BIN or install postgresql)',
    );
    return ['embedded'];
  }
  return ['embedded', 'postgres'];
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = POSTGRES_BIN;
  if (bin === undefined) throw new Error('no PostgreSQL binaries');
  const dir = mkdtempSync(join(tmpdir(), 'thoth-pg-'));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) chownSync(dir, 65534, 65534);
  const run = (program: string, args: string[]): void => {
    const command = asRoot ? '/usr/sbin/runuser' : join(bin, program);
    const argv = asRoot ? ['-u', 'nobody', '--', join(bin, program), ...args] : args;
    const result = spawnSync(command, argv, {encoding: 'utf8', timeout: 60_000});
    if (result.status !== 0) throw new Error(`${program} failed: ${result.stderr || result.stdout}`);
  };
  const data = join(dir, 'data');
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'thoth', '--no-sync', '-E', 'UTF8']);
  const port = await freePort();
  run('pg_ctl', [
    'start',
    '-D',
    data,
    '-w',
    '-l',
    join(dir, 'log'),
    '-o',
    `-k ${dir} -p ${port} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`,
  ]);
  return {
    url: `postgres://thoth@127.0.0.1:${port}/postgres`,
    stop: () => {
      try {
        run('pg_ctl', ['stop', '-D', data, '-m', 'fast', '-w']);
      } finally {
        rmSync(dir, {recursive: true, force: true});
      }
    },
  };
}
