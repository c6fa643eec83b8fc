import {readFile, readdir, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {setTimeout as sleep} from 'node:timers/promises';

import {McpError} from '@modelcontextprotocol/sdk/types.js';
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest';

import {readEvents} from '../../src/audit/reader.js';
import type {EnforceRequest, EventBatchRequest} from '../../src/control-plane/contract.js';
import {errorBody, type TestControlPlane} from '../helpers/control-plane-server.js';
import {SERVER_EVERYTHING, connect, throughThoth} from '../helpers/mcp.js';
import {RawSession} from '../helpers/raw-session.js';
import {tempDir} from '../helpers/tmp.js';
import {API_KEY, fleetEnv, makePki, startPlane, type Pki} from './fixtures.js';

const PROBE = fileURLToPath(new URL('../../fixtures/network/probe.mjs', import.meta.url));

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what}: not met within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** The response to request `id` (server-everything sends notifications in between). */
async function responseTo(session: RawSession, id: number): Promise<Record<string, unknown>> {
  for (;;) {
    const message = await session.nextJson();
    if (message['id'] === id) return message;
  }
}

function refusal(error: unknown): {code: number; data: Record<string, unknown>} {
  expect(error).toBeInstanceOf(McpError);
  return {code: (error as McpError).code, data: (error as McpError).data as Record<string, unknown>};
}

describe('thoth run with a control plane (real processes, the official SDK client, server-everything)', () => {
  let pki: Pki;
  let plane: TestControlPlane;

  beforeAll(async () => {
    pki = await makePki();
    plane = await startPlane(pki);
  });
  afterEach(() => {
    plane.requests.length = 0;
    plane.events.clear();
    plane.eventReceipts.clear();
    plane.endpoints.clear();
    plane.decide = () => ({decision: 'allow', reason: 'allowed by the test control plane', ruleId: 'test-allow'});
    delete plane.handlers.eventBatch;
  });
  afterAll(async () => {
    // Every request thoth sent in this file followed its schema.
    expect(plane.everInvalid.map((r) => `${r.path}: ${r.problems.join('; ')}`)).toEqual([]);
    await plane.close();
    await pki.remove();
  });

  it('asks the enforcer about every call (allow, central block, step-up approved while held), registers, heartbeats and ships the session; the key stays in the headers', async () => {
    const home = await tempDir();
    plane.decide = (request: EnforceRequest) => {
      if (request.tool === 'get-sum') return {decision: 'block', reason: 'sums are not allowed centrally', ruleId: 'central-block'};
      if (request.tool === 'get-tiny-image') {
        const token = plane.createHold('apr-e2e');
        setTimeout(() => plane.resolveHold(token, 'approved', 'grace@acme.test'), 300);
        return {
          decision: 'step_up',
          reason: 'images need approval',
          ruleId: 'central-images',
          approval: {id: 'apr-e2e', url: 'https://acme.example/approvals/apr-e2e', holdToken: token},
        };
      }
      return {decision: 'allow', reason: 'fine', ruleId: 'central-allow'};
    };
    const connection = await connect(throughThoth(SERVER_EVERYTHING, ['--agent-id', 'everything']), {
      env: {...fleetEnv(plane, pki), THOTH_HOME: home, THOTH_REQUIRE_NON_ROOT: 'false', THOTH_USER_ID: 'ada@acme.test'},
    });
    const echoed = await connection.client.callTool({name: 'echo', arguments: {message: 'hello fleet'}});
    expect(JSON.stringify(echoed)).toContain('hello fleet');
    const blocked = refusal(await connection.client.callTool({name: 'get-sum', arguments: {a: 1, b: 2}}).catch((error: unknown) => error));
    expect(blocked.code).toBe(-32001);
    expect(blocked.data).toMatchObject({
      decision: 'block',
      ruleId: 'remote:central-block',
      reason: 'sums are not allowed centrally',
      enforcer: 'remote',
    });
    const image = await connection.client.callTool({name: 'get-tiny-image', arguments: {}});
    expect(JSON.stringify(image)).toContain('image');
    // Heartbeat (with registration first), by this, the only thoth run, within a second of its start.
    await until(() => plane.of('checkin').length >= 1, 20_000, 'a check-in');
    await connection.close();
    const stderr = connection.stderr();

    const enforced = plane.of('enforce').map((r) => (r.body as EnforceRequest).tool);
    expect(enforced).toEqual(['echo', 'get-sum', 'get-tiny-image']);
    expect(plane.of('enforce')[0]!.body as EnforceRequest).toMatchObject({
      tenantId: 'acme',
      endpointId: 'ep-test-1',
      userId: 'ada@acme.test',
      agentId: 'everything',
      client: {name: 'thoth-test-client'},
    });
    expect(plane.of('holdWait').length).toBeGreaterThanOrEqual(1);

    expect(plane.of('register')).toHaveLength(1);
    expect(plane.requests.findIndex((r) => r.route === 'register')).toBeLessThan(plane.requests.findIndex((r) => r.route === 'checkin'));
    const local = (await readEvents(join(home, 'audit'))).map((stored) => stored.event);
    expect(local.map((e) => e.type)).toContain('SESSION_END');
    await until(() => local.every((event) => plane.events.has(event.eventId)), 20_000, 'every local event shipped');
    expect([...plane.eventReceipts.values()].every((count) => count === 1)).toBe(true);
    const pre = local.filter((event) => event.type === 'TOOL_CALL_PRE');
    expect(pre.map((e) => [e['toolName'], e['decision'], e['ruleId']])).toEqual([
      ['echo', 'allow', 'remote:central-allow'],
      ['get-sum', 'block', 'remote:central-block'],
      ['get-tiny-image', 'allow', 'remote-approval:apr-e2e'],
    ]);

    expect(plane.invalid()).toEqual([]);
    expect(plane.serverErrors).toEqual([]);
    for (const request of plane.requests) {
      expect(request.raw).not.toContain(API_KEY);
      expect(request.headers['authorization']).toBe(`Bearer ${API_KEY}`);
    }
    expect(stderr).not.toContain(API_KEY);
    const stateFiles = await readdir(join(home, 'control-plane'));
    for (const name of stateFiles.filter((n) => n.endsWith('.json')))
      expect(await readFile(join(home, 'control-plane', name), 'utf8')).not.toContain(API_KEY);
  });

  it('a remote step-up that nobody approves in time: -32002 with the approval reference, after the policy’s elicitation timeout', async () => {
    const home = await tempDir();
    const policy = join(home, 'policy.json');
    await writeFile(policy, JSON.stringify({version: 'e2e-1', approvals: {elicitation_timeout_seconds: 5}}));
    plane.decide = () => ({
      decision: 'step_up',
      reason: 'needs a second pair of eyes',
      ruleId: 'central-review',
      approval: {id: 'apr-slow', url: 'https://acme.example/approvals/apr-slow', holdToken: plane.createHold('apr-slow')},
    });
    const connection = await connect(throughThoth(SERVER_EVERYTHING, ['--agent-id', 'everything', '--policy', policy]), {
      env: {...fleetEnv(plane, pki, {THOTH_GOVAPI_URL: ''}), THOTH_HOME: home, THOTH_REQUIRE_NON_ROOT: 'false'},
    });
    const started = Date.now();
    const held = refusal(await connection.client.callTool({name: 'echo', arguments: {message: 'x'}}).catch((error: unknown) => error));
    const elapsed = Date.now() - started;
    await connection.close();
    expect(held.code).toBe(-32002);
    expect(held.data).toMatchObject({decision: 'step_up', approvalId: 'apr-slow', approvalUrl: 'https://acme.example/approvals/apr-slow'});
    expect(String(held.data['reason'])).toContain('not decided within 5 s');
    expect(JSON.stringify(held)).not.toContain('hold-');
    expect(elapsed).toBeGreaterThanOrEqual(4500);
    expect(elapsed).toBeLessThan(15_000);
  });

  it('an enforcer outage in prod with THOTH_ENFORCER_FAILURE_DECISION=allow: allow is ignored, calls are blocked, stderr says why', async () => {
    const home = await tempDir();
    await plane.stop();
    try {
      const connection = await connect(throughThoth(SERVER_EVERYTHING, ['--agent-id', 'everything']), {
        env: {
          ...fleetEnv(plane, pki, {THOTH_ENFORCER_FAILURE_DECISION: 'allow', THOTH_ENV: 'prod'}),
          THOTH_HOME: home,
          THOTH_REQUIRE_NON_ROOT: 'false',
        },
      });
      const blocked = refusal(await connection.client.callTool({name: 'echo', arguments: {message: 'x'}}).catch((error: unknown) => error));
      await connection.close();
      expect(blocked.code).toBe(-32001);
      expect(blocked.data).toMatchObject({ruleId: 'enforcer:unavailable'});
      expect(String(blocked.data['reason'])).toContain('THOTH_ENFORCER_FAILURE_DECISION=block applies (env prod)');
      expect(connection.stderr()).toContain(
        'THOTH_ENFORCER_FAILURE_DECISION=allow (env: THOTH_ENFORCER_FAILURE_DECISION) is ignored in prod',
      );
      expect(connection.stderr()).toContain('the remote enforcer could not decide');
    } finally {
      await plane.restart();
    }
  });

  it('the spool survives a SIGKILLed thoth run: the next session ships the killed one’s events, each once', async () => {
    const home = await tempDir();
    const env = {...fleetEnv(plane, pki, {THOTH_ENFORCER_URL: ''}), THOTH_TENANT_ID: '', THOTH_HOME: home};
    // The control plane is up but refuses event batches: nothing can be shipped yet.
    plane.handlers.eventBatch = () => ({status: 503, body: errorBody('UNAVAILABLE', 'ingest paused')});
    const first = new RawSession(['--agent-id', 'everything'], [SERVER_EVERYTHING.command, ...SERVER_EVERYTHING.args], env);
    await first.initialize();
    for (let i = 0; i < 4; i++) {
      first.send({jsonrpc: '2.0', id: i + 1, method: 'tools/call', params: {name: 'echo', arguments: {message: `before the kill ${i}`}}});
      expect(JSON.stringify(await responseTo(first, i + 1))).toContain(`before the kill ${i}`);
    }
    await until(() => plane.of('eventBatch').length >= 1, 20_000, 'a refused batch');
    first.child.kill('SIGKILL');
    await first.exited;
    const killed = (await readEvents(join(home, 'audit'))).map((stored) => stored.event);
    expect(killed.filter((e) => e.type === 'TOOL_CALL_PRE')).toHaveLength(4);
    expect(killed.some((e) => e.type === 'SESSION_END')).toBe(false);
    expect(plane.events.size).toBe(0);

    delete plane.handlers.eventBatch;
    const second = new RawSession(['--agent-id', 'everything'], [SERVER_EVERYTHING.command, ...SERVER_EVERYTHING.args], env);
    await second.initialize();
    await until(() => killed.every((event) => plane.events.has(event.eventId)), 30_000, 'the killed session shipped');
    second.closeStdin();
    await second.exited;
    const all = (await readEvents(join(home, 'audit'))).map((stored) => stored.event);
    await until(() => all.every((event) => plane.events.has(event.eventId)), 20_000, 'both sessions shipped');
    expect(plane.events.size).toBe(all.length);
    expect([...plane.eventReceipts.values()].every((count) => count === 1)).toBe(true);
    expect(plane.invalid()).toEqual([]);
    const shipped = plane
      .of('eventBatch')
      .filter((r) => r.problems.length === 0)
      .flatMap((r) => (r.body as EventBatchRequest).events);
    expect(new Set(shipped.map((e) => e.chain)).size).toBe(2);
  });

  it('of several thoth run processes on one machine exactly one sends heartbeats (the lease)', async () => {
    const home = await tempDir();
    const env = {
      ...fleetEnv(plane, pki, {THOTH_ENFORCER_URL: '', THOTH_ENDPOINT_CHECKIN_INTERVAL_SEC: '5'}),
      THOTH_TENANT_ID: '',
      THOTH_HOME: home,
    };
    const sessions = [0, 1, 2].map(
      () => new RawSession(['--agent-id', 'everything'], [SERVER_EVERYTHING.command, ...SERVER_EVERYTHING.args], env),
    );
    await Promise.all(sessions.map((session) => session.initialize()));
    await sleep(7500);
    const checkins = plane.of('checkin').length;
    for (const session of sessions) session.closeStdin();
    await Promise.all(sessions.map((session) => session.exited));
    // One holder: a check-in at start and one ~5 s later (three holders would send about six).
    expect(checkins).toBeGreaterThanOrEqual(1);
    expect(checkins).toBeLessThanOrEqual(3);
    expect(plane.of('register')).toHaveLength(1);
  });

  it('without a tenant or URL nothing is sent and undici is never loaded; with a URL it is (probe in the thoth process)', async () => {
    const probeDir = await tempDir();
    const run = async (extra: Record<string, string>) => {
      const home = await tempDir();
      const session = new RawSession(['--agent-id', 'everything'], [SERVER_EVERYTHING.command, ...SERVER_EVERYTHING.args], {
        THOTH_HOME: home,
        THOTH_API_KEY: API_KEY,
        THOTH_TLS_CA_BUNDLE: pki.ca.certPath,
        THOTH_PROBE_DIR: probeDir,
        NODE_OPTIONS: `--import=${PROBE}`,
        ...extra,
      });
      await session.initialize();
      session.send({jsonrpc: '2.0', id: 1, method: 'tools/call', params: {name: 'echo', arguments: {message: 'local only'}}});
      expect(JSON.stringify(await responseTo(session, 1))).toContain('local only');
      session.closeStdin();
      await session.exited;
      const file = join(probeDir, `${session.child.pid}.json`);
      return JSON.parse(await readFile(file, 'utf8')) as {connects: unknown[]; undiciModules: number};
    };
    const local = await run({});
    expect(local).toEqual({connects: [], undiciModules: 0});
    expect(plane.requests).toHaveLength(0);

    const fleet = await run({THOTH_ENFORCER_URL: plane.url});
    expect(fleet.undiciModules).toBeGreaterThan(0);
    expect(fleet.connects).toContainEqual(expect.objectContaining({host: '127.0.0.1', port: String(plane.port)}));
    expect(plane.of('enforce')).toHaveLength(1);
  });
});
