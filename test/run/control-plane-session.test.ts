import {randomUUID} from 'node:crypto';
import {join} from 'node:path';

import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {startRunControlPlane} from '../../src/run/control-plane-session.js';
import type {Decision, Enforcer} from '../../src/core/decision.js';
import type {TestControlPlane} from '../helpers/control-plane-server.js';
import {tempDir} from '../helpers/tmp.js';
import {fleetEnv, makePki, settingsFrom, startPlane, type Pki} from '../control-plane/fixtures.js';

const LOCAL: Enforcer = {decide: async (): Promise<Decision> => ({decision: 'allow', reason: 'local', ruleId: 'local'})};
const CALL = {name: 'echo', arguments: {}, argumentsJson: '{}'};
const context = () => ({agentId: 'a', sessionId: randomUUID(), mode: 'progressive' as const, sessionToolCalls: []});

describe('what thoth run starts for the control plane (startRunControlPlane, as compose calls it)', () => {
  let pki: Pki;
  let plane: TestControlPlane;
  beforeAll(async () => {
    pki = await makePki();
    plane = await startPlane(pki);
  });
  afterAll(async () => {
    // Every request thoth sent in this file followed its schema.
    expect(plane.everInvalid.map((r) => `${r.path}: ${r.problems.join('; ')}`)).toEqual([]);
    await plane.close();
    await pki.remove();
  });

  async function start(env: Record<string, string>) {
    const home = await tempDir();
    const settings = await settingsFrom(env, home);
    const warnings: string[] = [];
    const session = await startRunControlPlane({
      settings,
      env,
      endpointId: 'ep-test-1',
      auditDir: join(home, 'audit'),
      warn: (m) => warnings.push(m),
      leaseRenewMs: 100,
    });
    return {session, warnings};
  }

  it('a tenant without a credential: nothing is called, the local policy decides alone, stderr says why', async () => {
    const before = plane.requests.length;
    const {session, warnings} = await start({THOTH_TENANT_ID: 'acme', THOTH_ENFORCER_URL: plane.url, THOTH_GOVAPI_URL: plane.url});
    const governed = session.govern({enforcer: LOCAL, stepUp: undefined}, 1000);
    expect(governed.enforcer).toBe(LOCAL);
    expect(await governed.enforcer.decide(CALL, context())).toMatchObject({ruleId: 'local'});
    await session.close();
    expect(plane.requests.length).toBe(before);
    expect(warnings).toEqual([
      `control plane: the remote enforcer at ${plane.url} is configured but no API key is configured (store one with \`thoth api-key set\`, or set THOTH_API_KEY_FILE); tool calls are decided by the local policy only`,
      `control plane: GovAPI at ${plane.url} is configured but no credential is configured (store an API key with \`thoth api-key set\`, or set THOTH_GOVAPI_BEARER_TOKEN or THOTH_GOVAPI_API_KEY); no heartbeats and no event shipping`,
    ]);
  });

  it('TLS settings that cannot be honoured block every remote decision, and nothing is sent', async () => {
    const before = plane.requests.length;
    const {session, warnings} = await start(
      fleetEnv(plane, pki, {THOTH_TLS_CA_BUNDLE: join(pki.dir, 'missing.pem'), THOTH_ENV: 'dev', THOTH_ENFORCER_FAILURE_DECISION: 'allow'}),
    );
    const {enforcer} = session.govern({enforcer: LOCAL, stepUp: undefined}, 1000);
    expect(await enforcer.decide(CALL, context())).toMatchObject({decision: 'block', ruleId: 'enforcer:tls'});
    await session.close();
    expect(plane.requests.length).toBe(before);
    expect(warnings[0]).toContain('THOTH_TLS_CA_BUNDLE');
    expect(warnings[0]).toContain('remote decisions are blocked and nothing is sent until it is fixed');
  });

  it('a usable control plane: remote decisions, and a heartbeat from the lease holder; close() frees the lease', async () => {
    const before = plane.requests.length;
    const {session} = await start(fleetEnv(plane, pki));
    const {enforcer} = session.govern({enforcer: LOCAL, stepUp: undefined}, 1000);
    expect(await enforcer.decide(CALL, context())).toMatchObject({ruleId: 'remote:test-allow'});
    const deadline = Date.now() + 10_000;
    while (!plane.requests.slice(before).some((r) => r.route === 'checkin') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    await session.close();
    expect(plane.requests.slice(before).map((r) => r.route)).toEqual(expect.arrayContaining(['enforce', 'register', 'checkin']));
  });

  it('a policy reload (govern called again with the same hold budget) keeps the remote enforcer: a hold it gave out is still honoured', async () => {
    const {session} = await start(fleetEnv(plane, pki));
    const decideBefore = plane.decide;
    try {
      const token = plane.createHold('apr-reload');
      plane.decide = () => ({
        decision: 'step_up',
        reason: 'central approval',
        ruleId: 'central',
        approval: {id: 'apr-reload', holdToken: token},
      });
      const before = session.govern({enforcer: LOCAL, stepUp: undefined}, 5000);
      const decision = await before.enforcer.decide(CALL, context());
      expect(decision.decision).toBe('step_up');
      plane.resolveHold(token, 'approved', 'grace@acme.test');
      const after = session.govern({enforcer: LOCAL, stepUp: undefined}, 5000);
      const noClient = {capabilities: undefined, request: async () => ({})};
      expect(await after.stepUp!.resolve(CALL, context(), decision, noClient, new AbortController().signal)).toMatchObject({
        decision: 'allow',
        ruleId: 'remote-approval:apr-reload',
      });
    } finally {
      plane.decide = decideBefore;
      await session.close();
    }
  });
});
