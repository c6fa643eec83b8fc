import {mkdtemp, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {SERVER_EVERYTHING, connect, throughThoth} from '../helpers/mcp.js';
import {tempDir} from '../helpers/tmp.js';
import {POSTGRES_BIN, REQUIRE_POSTGRES, startPostgres, type TestPostgres} from './postgres.js';
import {admin, call, createTenant, endpointEnv, startServerProcess, until, type Json, type ServerProcess} from './helpers.js';

/** Two `thoth server` instances on one PostgreSQL database, with no instance-local state that matters. */
describe.skipIf(POSTGRES_BIN === undefined && !REQUIRE_POSTGRES)('two thoth server instances share one PostgreSQL database', () => {
  let postgres: TestPostgres;
  let first: ServerProcess;
  let second: ServerProcess;
  const dirs: string[] = [];

  beforeAll(async () => {
    postgres = await startPostgres();
    for (let i = 0; i < 2; i++) dirs.push(await mkdtemp(join(tmpdir(), 'thoth-server-')));
    // Started together: the migrations take turns under the advisory lock.
    const started = await Promise.all(dirs.map((dir) => startServerProcess(dir, {databaseUrl: postgres.url})));
    first = started[0]!;
    second = started[1]!;
  });
  afterAll(async () => {
    await Promise.all([first?.stop(), second?.stop()]);
    postgres?.stop();
    for (const dir of dirs) await rm(dir, {recursive: true, force: true});
  });

  /** The second instance, called with the admin token (kept in the database) that the first printed. */
  const viaSecond = (method: string, path: string, body?: unknown) =>
    call(second, method, `/api/admin/v1${path}`, {body, headers: {authorization: `Bearer ${first.token || second.token}`}});

  it('a hold opened through one instance is approved through the other; both sign with the same key; a key revoked through one is refused by the other', async () => {
    expect(first.publicKey).toBe(second.publicKey);
    const {apiKey} = await createTenant(first.token ? first : second, 'acme');
    await admin(first.token ? first : second, 'PUT', '/tenants/acme/policy', {
      source: JSON.stringify({version: 'two', rules: [{id: 'review', tool: 'echo', decision: 'step_up'}]}),
    });
    const home = await tempDir();
    const connection = await connect(throughThoth(SERVER_EVERYTHING, ['--agent-id', 'everything']), {
      env: {...endpointEnv(first, apiKey), THOTH_HOME: home},
    });
    const held = connection.client.callTool({name: 'echo', arguments: {message: 'across instances'}});
    const pending = await until(
      async () => ((await viaSecond('GET', '/approvals?state=pending')).body.approvals as Json[])[0],
      20_000,
      'the hold, seen by the second instance',
    );
    expect((await viaSecond('POST', `/approvals/${pending.id}/decision`, {decision: 'approve'})).status).toBe(200);
    expect(JSON.stringify(await held)).toContain('across instances');
    await connection.close();

    const ping = (server: ServerProcess) =>
      call(server, 'POST', '/v1/enforce/holds/wait', {
        body: {holdToken: 'thh_xxxxxxxxxxxxxxxxxxxx', approvalId: 'apr_none', waitMs: 0},
        headers: {authorization: `Bearer ${apiKey}`},
      });
    expect((await ping(first)).status).toBe(404);
    expect((await viaSecond('POST', '/tenants/acme/keys/revoke', {})).status).toBe(200);
    expect((await ping(first)).status).toBe(401);
  });
});
