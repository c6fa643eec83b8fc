import {readFile, rm, writeFile} from 'node:fs/promises';
import {join} from 'node:path';

import {McpError} from '@modelcontextprotocol/sdk/types.js';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {runThoth} from '../helpers/cli.js';
import {SERVER_EVERYTHING, connect, throughThoth} from '../helpers/mcp.js';
import {tempDir} from '../helpers/tmp.js';
import {stores, type TestPostgres} from './postgres.js';
import {admin, call, createTenant, endpointEnv, startServerOn, until, type Json, type ServerProcess} from './helpers.js';

const POLICY = {
  version: 'central-approvals',
  rules: [{id: 'review-echo', tool: 'echo', decision: 'step_up', reason: 'echoes are reviewed'}],
};

/** Logs in through the admin API: the session cookie and the CSRF token. */
async function loginAs(server: ServerProcess, username: string, password: string): Promise<{cookie: string; csrf: string}> {
  const answer = await call(server, 'POST', '/api/admin/v1/session', {body: {username, password}});
  expect(answer.status).toBe(200);
  const setCookie = answer.headers.get('set-cookie')!;
  expect(setCookie).toMatch(/HttpOnly/);
  expect(setCookie).toMatch(/Secure/);
  expect(setCookie).toMatch(/SameSite=Strict/);
  return {cookie: setCookie.split(';')[0]!, csrf: answer.body.csrfToken as string};
}

describe.each(stores())('held calls are approved by people in the control plane, with signed grants (%s store)', (store) => {
  let dataDir: string;
  let server: ServerProcess;
  let apiKey: string;
  let postgres: TestPostgres | undefined;

  beforeAll(async () => {
    ({dataDir, server, postgres} = await startServerOn(store));
    apiKey = (await createTenant(server, 'acme')).apiKey;
    expect((await admin(server, 'PUT', '/tenants/acme/policy', {source: JSON.stringify(POLICY)})).status).toBe(200);
    for (const [user, role] of <Array<[string, string]>>[
      ['grace', 'approver'],
      ['vic', 'viewer'],
    ]) {
      const made = await runThoth(['server', 'user', 'create', user, '--role', role, '--data-dir', dataDir, '--json'], {
        input: `${user}-correct-horse\n`,
      });
      expect(made.code, made.stderr).toBe(0);
    }
  });

  afterAll(async () => {
    await server.stop();
    expect(server.stderr()).not.toContain('correct-horse');
    await rm(dataDir, {recursive: true, force: true});
    postgres?.stop();
  });

  it('an approver approves a held call in the queue (arguments redacted), the call continues with a grant the endpoint verified against the key pinned at enrollment', async () => {
    const home = await tempDir();
    const connection = await connect(throughThoth(SERVER_EVERYTHING, ['--agent-id', 'everything']), {
      env: {...endpointEnv(server, apiKey), THOTH_HOME: home, THOTH_USER_ID: 'ada@acme.test', THOTH_CLI_APPROVALS: 'off'},
    });
    // The heartbeat registers the endpoint (and pins the server key) within a second of the start.
    await until(
      async () => (await readFile(join(home, 'control-plane', 'enrollment.json'), 'utf8').catch(() => undefined))?.includes('serverKey'),
      20_000,
      'enrollment',
    );
    const enrollment = JSON.parse(await readFile(join(home, 'control-plane', 'enrollment.json'), 'utf8')) as {
      serverKey: {publicKey: string};
    };
    expect(enrollment.serverKey.publicKey).toBe(server.publicKey);

    const held = connection.client.callTool({name: 'echo', arguments: {message: 'deploy now, password=hunter2'}});
    const pending = await until(
      async () => {
        const listed = (await admin(server, 'GET', '/approvals?state=pending')).body.approvals as Json[];
        return listed.find((approval) => approval.tool === 'echo');
      },
      20_000,
      'the held call in the queue',
    );
    expect(pending).toMatchObject({
      agentId: 'everything',
      endpointId: 'ep-server-1',
      userId: 'ada@acme.test',
      ruleId: 'rule:review-echo',
      reason: 'echoes are reviewed',
    });
    expect(JSON.stringify(pending.arguments)).not.toContain('hunter2');
    expect(JSON.stringify(pending.arguments)).toContain('REDACTED');

    const vic = await loginAs(server, 'vic', 'vic-correct-horse');
    const asViewer = await call(server, 'POST', `/api/admin/v1/approvals/${pending.id}/decision`, {
      body: {decision: 'approve'},
      headers: {cookie: vic.cookie, 'x-csrf-token': vic.csrf},
    });
    expect([asViewer.status, asViewer.body.error.code]).toEqual([403, 'FORBIDDEN']);
    const grace = await loginAs(server, 'grace', 'grace-correct-horse');
    const withoutCsrf = await call(server, 'POST', `/api/admin/v1/approvals/${pending.id}/decision`, {
      body: {decision: 'approve'},
      headers: {cookie: grace.cookie},
    });
    expect([withoutCsrf.status, withoutCsrf.body.error.code]).toEqual([403, 'FORBIDDEN']);
    const approved = await call(server, 'POST', `/api/admin/v1/approvals/${pending.id}/decision`, {
      body: {decision: 'approve', comment: 'release window'},
      headers: {cookie: grace.cookie, 'x-csrf-token': grace.csrf},
    });
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({state: 'approved', decidedBy: 'grace', comment: 'release window'});
    const result = await held;
    expect(JSON.stringify(result)).toContain('deploy now');

    // Denied: refused with the approver's comment; a second decision is a conflict.
    const denied = connection.client.callTool({name: 'echo', arguments: {message: 'second'}}).catch((error: unknown) => error);
    const second = await until(
      async () => ((await admin(server, 'GET', '/approvals?state=pending')).body.approvals as Json[])[0],
      20_000,
      'the second hold',
    );
    expect(
      (
        await call(server, 'POST', `/api/admin/v1/approvals/${second.id}/decision`, {
          body: {decision: 'deny', comment: 'not today'},
          headers: {cookie: grace.cookie, 'x-csrf-token': grace.csrf},
        })
      ).status,
    ).toBe(200);
    const refusal = await denied;
    expect(refusal).toBeInstanceOf(McpError);
    expect((refusal as McpError).code).toBe(-32001);
    expect(String(((refusal as McpError).data as {reason: string}).reason)).toContain('not today');
    expect(
      (
        await call(server, 'POST', `/api/admin/v1/approvals/${second.id}/decision`, {
          body: {decision: 'approve'},
          headers: {cookie: grace.cookie, 'x-csrf-token': grace.csrf},
        })
      ).body.error.code,
    ).toBe('CONFLICT');
    await connection.close();

    // History is searchable; the server's own audit log has every decision and the refusals, never a password.
    const history = (await admin(server, 'GET', '/approvals?q=release%20window')).body.approvals as Json[];
    expect(history.map((approval) => approval.id)).toEqual([pending.id]);
    const log = (await admin(server, 'GET', '/audit')).body.entries as Json[];
    const decisions = log.filter((entry) => entry.action === 'approval.decide').map((entry) => [entry.actor, entry.outcome]);
    expect(decisions).toEqual(
      expect.arrayContaining([
        ['grace', 'ok'],
        ['grace', 'refused'],
        ['vic', 'refused'],
      ]),
    );
    expect(JSON.stringify(log)).not.toContain('correct-horse');

    // The shipped chains of this session are anchored without a violation.
    const endpoint = await until(
      async () => {
        const listed = (await admin(server, 'GET', '/endpoints')).body.endpoints as Json[];
        const found = listed.find((e) => e.endpointId === 'ep-server-1');
        return found?.audit.chains > 0 && found.audit.events > 5 ? found : undefined;
      },
      30_000,
      'anchored events',
    );
    expect(endpoint.audit).toMatchObject({state: 'ok', violations: 0});
  });

  it('a logged-out or disabled admin is refused; login attempts are rate-limited', async () => {
    const grace = await loginAs(server, 'grace', 'grace-correct-horse');
    expect((await call(server, 'GET', '/api/admin/v1/approvals', {headers: {cookie: grace.cookie}})).status).toBe(200);
    const disabled = await runThoth(['server', 'user', 'update', 'grace', '--disable', '--data-dir', dataDir, '--json']);
    expect(disabled.code).toBe(0);
    expect((await call(server, 'GET', '/api/admin/v1/approvals', {headers: {cookie: grace.cookie}})).status).toBe(401);
    const attempts = [];
    for (let i = 0; i < 8; i++)
      attempts.push((await call(server, 'POST', '/api/admin/v1/session', {body: {username: 'mallory', password: `guess-${i}`}})).status);
    // A burst of five, then one attempt per five seconds: a slow machine may earn one more while the five are checked.
    expect(attempts.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(attempts.slice(-2)).toEqual([429, 429]);
  });

  it('events can be searched and exported as JSON Lines and OCSF', async () => {
    const lines = await call(server, 'GET', '/api/admin/v1/events?type=TOOL_CALL_PRE&format=jsonl', {
      headers: {authorization: `Bearer ${server.token}`},
    });
    const events = lines.text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Json);
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((event) => event.type === 'TOOL_CALL_PRE')).toBe(true);
    const ocsf = await call(server, 'GET', '/api/admin/v1/events?type=TOOL_CALL_PRE&format=ocsf', {
      headers: {authorization: `Bearer ${server.token}`},
    });
    const first = JSON.parse(ocsf.text.split('\n')[0]!) as Json;
    expect(first).toMatchObject({class_uid: 6003, metadata: {product: {name: 'thoth'}}});
    const found = (await admin(server, 'GET', '/events?q=deploy%20now')).body.events as Json[];
    expect(found.length).toBeGreaterThan(0);
  });

  it('the policy file can be validated without uploading it', async () => {
    const file = join(dataDir, 'p.json');
    await writeFile(file, JSON.stringify(POLICY));
    const checked = await admin(server, 'POST', '/policy/validate', {source: '{"rules": [{"decision": "nope"}]}'});
    expect(checked.body).toMatchObject({valid: false});
  });
});
