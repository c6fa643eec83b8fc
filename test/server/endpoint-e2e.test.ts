import {writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {connect as tlsConnect} from 'node:tls';

import {McpError} from '@modelcontextprotocol/sdk/types.js';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {loadValidator} from '../../src/util/validators.js';
import {parseEnvelope, runThoth} from '../helpers/cli.js';
import {SERVER_EVERYTHING, connect, throughThoth} from '../helpers/mcp.js';
import {tempDir} from '../helpers/tmp.js';
import {rm} from 'node:fs/promises';
import {stores, type TestPostgres} from './postgres.js';
import {admin, call, type Json, createTenant, endpointEnv, startServerOn, until, type ServerProcess} from './helpers.js';

const CENTRAL_POLICY = {
  version: 'central-1',
  rules: [{id: 'no-sums', tool: 'get-sum', decision: 'block', reason: 'sums are decided centrally: no'}],
};

function registerBody(endpointId: string, tenantId: string | null = 'acme') {
  return {
    endpointId,
    identitySource: 'endpoint-id',
    tenantId,
    fleetId: null,
    hostname: 'test-host',
    os: {platform: 'linux', release: '6.1', arch: 'x64'},
    thothVersion: '0.1.0',
    enrollmentSource: 'manual',
    userId: null,
    governedServers: null,
    sentAt: new Date().toISOString(),
  };
}

describe.each(stores())('thoth server start with a real thoth run endpoint (%s store)', (store) => {
  let dataDir: string;
  let server: ServerProcess;
  let apiKey: string;
  let postgres: TestPostgres | undefined;

  beforeAll(async () => {
    ({dataDir, server, postgres} = await startServerOn(store));
    apiKey = (await createTenant(server, 'acme')).apiKey;
    const policyFile = join(dataDir, 'central.json');
    await writeFile(policyFile, JSON.stringify(CENTRAL_POLICY));
    const uploaded = await runThoth(['server', 'policy', 'upload', 'acme', policyFile, '--data-dir', dataDir, '--json']);
    expect(parseEnvelope(uploaded.stdout).ok).toBe(true);
  });

  afterAll(async () => {
    expect(await server.stop()).toBe(0);
    expect(server.stderr()).not.toContain(apiKey);
    expect(server.stderr()).not.toContain(server.token);
    await rm(dataDir, {recursive: true, force: true});
    postgres?.stop();
  });

  it('enrolls the endpoint, takes its heartbeats and events, and blocks centrally what the central policy blocks', async () => {
    const home = await tempDir();
    const connection = await connect(throughThoth(SERVER_EVERYTHING, ['--agent-id', 'everything']), {
      env: {...endpointEnv(server, apiKey), THOTH_HOME: home, THOTH_USER_ID: 'ada@acme.test'},
    });
    const echoed = await connection.client.callTool({name: 'echo', arguments: {message: 'hello server'}});
    expect(JSON.stringify(echoed)).toContain('hello server');
    const blocked = await connection.client.callTool({name: 'get-sum', arguments: {a: 1, b: 2}}).catch((error: unknown) => error);
    expect(blocked).toBeInstanceOf(McpError);
    expect((blocked as McpError).code).toBe(-32001);
    expect((blocked as McpError).data).toMatchObject({
      decision: 'block',
      ruleId: 'remote:rule:no-sums',
      reason: 'sums are decided centrally: no',
    });

    // Enrollment and heartbeats: the fleet view shows the endpoint, its user and the policy version it was told.
    const endpoint = await until(
      async () => {
        const listed = (await admin(server, 'GET', '/endpoints')).body.endpoints as Array<Record<string, Json>>;
        return listed.find((e) => e.endpointId === 'ep-server-1' && e.lastSeenAt !== null);
      },
      30_000,
      'a heartbeat',
    );
    expect(endpoint).toMatchObject({tenant: 'acme', userId: 'ada@acme.test', policyVersion: expect.stringMatching(/^central-1@sha256:/)});
    await connection.close();
    expect(connection.stderr()).not.toContain(apiKey);

    // The session's events arrive (the shipper makes a last attempt at SESSION_END).
    const events = await until(
      async () => {
        const found = (await admin(server, 'GET', '/events?endpoint=ep-server-1&limit=500')).body.events as Array<{
          event: Record<string, unknown>;
        }>;
        return found.some((e) => e.event['type'] === 'SESSION_END') ? found : undefined;
      },
      30_000,
      'the session shipped',
    );
    const pre = events.filter((e) => e.event['type'] === 'TOOL_CALL_PRE').map((e) => [e.event['toolName'], e.event['decision']]);
    expect(pre).toEqual(
      expect.arrayContaining([
        ['echo', 'allow'],
        ['get-sum', 'block'],
      ]),
    );
  });

  it('every contract route answers in the contract: unauthenticated, invalid, wrong tenant, oversized and unknown requests get the error schema', async () => {
    const errorSchema = await loadValidator('control-plane/error');
    const bearer = {authorization: `Bearer ${apiKey}`};
    const answers = [
      await call(server, 'POST', '/v1/endpoints/register', {body: registerBody('ep-x')}),
      await call(server, 'POST', '/v1/endpoints/register', {body: {...registerBody('ep-x'), hostname: 7}, headers: bearer}),
      await call(server, 'POST', '/v1/endpoints/register', {raw: '{not json', headers: bearer}),
      await call(server, 'POST', '/v1/endpoints/register', {body: registerBody('ep-x', 'other-tenant'), headers: bearer}),
      await call(server, 'POST', '/v1/endpoints/checkin', {
        body: {
          endpointId: 'never-registered',
          tenantId: null,
          fleetId: null,
          thothVersion: '0.1.0',
          sequence: 1,
          sentAt: new Date().toISOString(),
          governedServers: null,
        },
        headers: bearer,
      }),
      await call(server, 'POST', '/v1/events/batch', {raw: `{"pad":"${'x'.repeat(9 * 1024 * 1024)}"}`, headers: bearer}),
      await call(server, 'POST', '/v1/enforce/holds/wait', {
        body: {holdToken: 'thh_aaaaaaaaaaaaaaaaaaaa', approvalId: 'apr_nope', waitMs: 0},
        headers: bearer,
      }),
      await call(server, 'GET', '/v1/nothing-here'),
      await call(server, 'GET', '/api/admin/v1/tenants'),
      await call(server, 'GET', '/api/admin/v1/tenants', {headers: {authorization: 'Bearer tha_wrong'}}),
    ];
    expect(answers.map((answer) => [answer.status, answer.body?.error?.code])).toEqual([
      [401, 'UNAUTHENTICATED'],
      [400, 'INVALID_REQUEST'],
      [400, 'INVALID_REQUEST'],
      [403, 'FORBIDDEN'],
      [404, 'ENDPOINT_NOT_REGISTERED'],
      [413, 'PAYLOAD_TOO_LARGE'],
      [404, 'NOT_FOUND'],
      [404, 'NOT_FOUND'],
      [401, 'UNAUTHENTICATED'],
      [401, 'UNAUTHENTICATED'],
    ]);
    for (const answer of answers) expect(errorSchema(answer.body), JSON.stringify(answer.body)).toBe(true);
    const registered = await call(server, 'POST', '/v1/endpoints/register', {body: registerBody('ep-x'), headers: {'x-api-key': apiKey}});
    expect(registered.status).toBe(200);
    expect(registered.body).toMatchObject({
      endpointId: 'ep-x',
      status: 'enrolled',
      created: true,
      serverKey: {algorithm: 'ed25519', publicKey: server.publicKey},
    });
    expect((await loadValidator('control-plane/register-response'))(registered.body)).toBe(true);
  });

  it('a rotated key keeps working for its grace period only, and a revoked key is refused at the next call', async () => {
    const other = await createTenant(server, 'keys-test');
    const ping = (key: string) =>
      call(server, 'POST', '/v1/endpoints/register', {
        body: registerBody('ep-keys', 'keys-test'),
        headers: {authorization: `Bearer ${key}`},
      });
    expect((await ping(other.apiKey)).status).toBe(200);
    const rotated = parseEnvelope<{apiKey: string; keyId: string; retired: number}>(
      (await runThoth(['server', 'tenant', 'rotate', 'keys-test', '--grace-seconds', '0', '--data-dir', dataDir, '--json'])).stdout,
    );
    expect(rotated.result).toMatchObject({retired: 1});
    expect((await ping(other.apiKey)).status).toBe(401);
    expect((await ping(rotated.result!.apiKey)).status).toBe(200);
    const revoked = await runThoth([
      'server',
      'tenant',
      'revoke',
      'keys-test',
      '--key-id',
      rotated.result!.keyId,
      '--data-dir',
      dataDir,
      '--json',
    ]);
    expect(parseEnvelope<{revoked: string[]}>(revoked.stdout).result!.revoked).toEqual([rotated.result!.keyId]);
    const refused = await ping(rotated.result!.apiKey);
    expect([refused.status, refused.body.error.code]).toEqual([401, 'UNAUTHENTICATED']);
    const listed = parseEnvelope<{tenants: Array<{name: string; keys: Array<{state: string}>}>}>(
      (await runThoth(['server', 'tenant', 'list', '--data-dir', dataDir, '--json'])).stdout,
    );
    const keys = listed.result!.tenants.find((tenant) => tenant.name === 'keys-test')!.keys.map((key) => key.state);
    expect(keys.sort()).toEqual(['expired', 'revoked']);
    expect(JSON.stringify(listed)).not.toContain('thk_');
  });

  it('an invalid central policy is refused with the errors of thoth policy validate, and changes nothing', async () => {
    const bad = join(dataDir, 'bad-policy.json');
    await writeFile(bad, '{"version": "x", "rules": [{"id": "r", "decision": "maybe"}]}');
    const uploaded = await runThoth(['server', 'policy', 'upload', 'acme', bad, '--data-dir', dataDir, '--json']);
    const validated = await runThoth(['policy', 'validate', bad, '--json']);
    expect(uploaded.code).toBe(3);
    const problem = parseEnvelope<{problems: Array<{text: string}>}>(validated.stdout).result!.problems[0]!.text.replace(
      bad,
      'bad-policy.json',
    );
    expect(parseEnvelope(uploaded.stdout).error!.message).toContain(problem);
    const current = await admin(server, 'GET', '/tenants/acme/policy');
    expect(current.body.current.version).toMatch(/^central-1@/);
  });

  it('refuses TLS below 1.2', async () => {
    const port = Number(new URL(server.url).port);
    const outcome = await new Promise<string>((resolve) => {
      const socket = tlsConnect({host: '127.0.0.1', port, ca: server.caPem, maxVersion: 'TLSv1.1', minVersion: 'TLSv1'}, () =>
        resolve('connected'),
      );
      socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    });
    expect(outcome).not.toBe('connected');
  });
});
