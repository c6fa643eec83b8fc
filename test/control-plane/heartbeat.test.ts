import {mkdir, readFile} from 'node:fs/promises';
import {join} from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';

import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest';

import type {ControlPlaneClient, ControlPlaneSender} from '../../src/control-plane/client.js';
import type {ControlPlaneEndpoint} from '../../src/control-plane/config.js';
import type {CheckinRequest} from '../../src/control-plane/contract.js';
import {stateFiles, writeState, type HeartbeatState} from '../../src/fleet/control-plane-state.js';
import {heartbeatFact} from '../../src/fleet/heartbeat-fact.js';
import {HeartbeatLoop, type HeartbeatAttempt} from '../../src/fleet/heartbeat.js';
import {Lease} from '../../src/fleet/lease.js';
import {errorBody, type TestControlPlane} from '../helpers/control-plane-server.js';
import {tempDir} from '../helpers/tmp.js';
import {clientFor, fleetEnv, makePki, planFrom, settingsFrom, startPlane, type Pki} from './fixtures.js';

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}

describe('heartbeats (check-ins) against the test control plane', () => {
  let pki: Pki;
  let plane: TestControlPlane;
  const stops: Array<() => Promise<void>> = [];
  const clients: ControlPlaneClient[] = [];

  beforeAll(async () => {
    pki = await makePki();
    plane = await startPlane(pki);
  });
  afterEach(async () => {
    while (stops.length > 0) await stops.pop()!();
    while (clients.length > 0) await clients.pop()!.close();
    plane.requests.length = 0;
    plane.endpoints.clear();
    for (const route of ['checkin', 'register'] as const) delete plane.handlers[route];
  });
  afterAll(async () => {
    // Every request thoth sent in this file followed its schema.
    expect(plane.everInvalid.map((r) => `${r.path}: ${r.problems.join('; ')}`)).toEqual([]);
    await plane.close();
    await pki.remove();
  });

  async function loop(
    profileDir: string,
    options: {
      intervalMs?: number;
      random?: () => number;
      sender?: (sender: ControlPlaneSender) => ControlPlaneSender;
      renewMs?: number;
      endpointId?: string;
    } = {},
  ) {
    const {plan, settings} = await planFrom(fleetEnv(plane, pki, {THOTH_FLEET_ID: 'laptops'}));
    const client = await clientFor(plan);
    clients.push(client);
    const renewMs = options.renewMs ?? 100;
    const lease = new Lease({path: stateFiles.heartbeatLease(profileDir), renewMs, ttlMs: 3 * renewMs});
    const attempts: HeartbeatAttempt[] = [];
    const warnings: string[] = [];
    const heartbeat = new HeartbeatLoop({
      sender: options.sender ? options.sender(client) : client,
      endpoint: plan.govapi as ControlPlaneEndpoint,
      lease,
      profileDir,
      endpointId: options.endpointId ?? 'ep-test-1',
      values: settings.values,
      version: '0.1.0',
      intervalMs: options.intervalMs ?? 100,
      timeoutMs: 5000,
      identity: async () => ({endpointId: options.endpointId ?? 'ep-test-1', source: 'endpoint-id'}),
      governedServers: async () => ({governed: 2, notGoverned: 0, drift: 0, ungovernable: 0, clients: 1}),
      random: options.random ?? (() => 0.5),
      warn: (message) => warnings.push(message),
      onAttempt: (attempt) => attempts.push(attempt),
    });
    heartbeat.start();
    lease.start();
    const stop = async () => {
      await heartbeat.stop();
      await lease.stop();
    };
    stops.push(stop);
    return {heartbeat, lease, attempts, warnings, stop};
  }

  it('registers first, checks in every interval, and backs off exponentially (with jitter and Retry-After) while the control plane fails', async () => {
    const home = await tempDir();
    let failing = 3;
    plane.handlers.checkin = () =>
      failing-- > 0 ? {status: 503, body: errorBody('UNAVAILABLE', 'maintenance')} : {body: {receivedAt: new Date().toISOString()}};
    const {attempts, warnings} = await loop(home, {intervalMs: 100});
    await until(() => attempts.length >= 5);
    // random() = 0.5: failure n waits 0.75 × min(100 × 2^(n-1), cap); success waits the interval ±10 % (here exactly 100).
    expect(attempts.slice(0, 5).map((a) => [a.ok, a.failures, a.nextDelayMs])).toEqual([
      [false, 1, 75],
      [false, 2, 150],
      [false, 3, 300],
      [true, 0, 100],
      [true, 0, 100],
    ]);
    expect(attempts[0]!.registered).toBe(true);
    const checkins = plane.of('checkin');
    const gaps = checkins.slice(1, 5).map((request, i) => request.at - checkins[i]!.at);
    expect(gaps[0]).toBeGreaterThanOrEqual(70);
    expect(gaps[1]).toBeGreaterThanOrEqual(145);
    expect(gaps[2]).toBeGreaterThanOrEqual(295);
    expect(plane.of('register')).toHaveLength(1);
    expect(checkins.map((r) => (r.body as CheckinRequest).sequence)).toEqual(checkins.map((_r, i) => i + 1));
    expect(checkins[0]!.body).toMatchObject({
      endpointId: 'ep-test-1',
      tenantId: 'acme',
      fleetId: 'laptops',
      governedServers: {governed: 2},
    });
    expect(warnings.filter((w) => w.startsWith('heartbeat failed'))).toHaveLength(1);
    expect(warnings.some((w) => w.includes('answers again'))).toBe(true);
    expect(plane.invalid()).toEqual([]);
  });

  it('waits at least what Retry-After says', async () => {
    const home = await tempDir();
    plane.handlers.checkin = () => ({status: 429, body: errorBody('RATE_LIMITED', 'slow down', 2)});
    const {attempts} = await loop(home, {intervalMs: 100});
    await until(() => attempts.length >= 1);
    expect(attempts[0]!.nextDelayMs).toBe(2000);
    const state = JSON.parse(await readFile(stateFiles.heartbeat(home), 'utf8')) as HeartbeatState;
    expect(state).toMatchObject({consecutiveFailures: 1, lastSuccessAt: null, lastErrorKind: 'http'});
    expect(state.lastError).toContain('HTTP 429 RATE_LIMITED');
  });

  it('a control plane that forgot the endpoint (ENDPOINT_NOT_REGISTERED) gets a registration, then the check-in', async () => {
    const home = await tempDir();
    const {attempts} = await loop(home, {intervalMs: 5000});
    await until(() => attempts.length >= 1);
    expect(plane.of('register')).toHaveLength(1);
    plane.endpoints.clear();
    const {heartbeat} = await loop(home, {intervalMs: 5000, renewMs: 60_000});
    const attempt = await heartbeat.beat();
    expect(attempt).toMatchObject({ok: true, registered: true});
    expect(plane.requests.slice(-3).map((r) => r.route)).toEqual(['checkin', 'register', 'checkin']);
  });

  it('exactly one of several processes’ loops sends heartbeats; another takes over when it stops, keeping the sequence', async () => {
    const home = await tempDir();
    const origins: string[] = [];
    const tag =
      (name: string) =>
      (sender: ControlPlaneSender): ControlPlaneSender => ({
        send: (route, endpoint, body, options) => {
          if (route === 'checkin') origins.push(name);
          return sender.send(route, endpoint, body, options);
        },
      });
    // Renewed every 300 ms (thoth run: 10 s), so that a loaded test machine does not let it expire.
    const loops = await Promise.all(['a', 'b', 'c'].map((name) => loop(home, {intervalMs: 150, sender: tag(name), renewMs: 300})));
    await sleep(1200);
    const first = new Set(origins);
    expect(first.size).toBe(1);
    expect(origins.length).toBeGreaterThanOrEqual(4);
    expect(origins.length).toBeLessThanOrEqual(10);
    const leader = loops[['a', 'b', 'c'].indexOf([...first][0]!)]!;
    // stop() lets a round in flight finish, and that round may still send its check-in: count from
    // when stop() has returned.
    await leader.stop();
    const before = origins.length;
    await until(() => origins.length >= before + 3);
    // The stopped one sends nothing more; another took over.
    expect(origins.slice(before)).not.toContain([...first][0]);
    const sequences = plane.of('checkin').map((r) => (r.body as CheckinRequest).sequence);
    expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
    expect(new Set(sequences).size).toBe(sequences.length);
  });

  describe('the heartbeat fact of thoth health', () => {
    const now = () => new Date();
    async function fact(env: Record<string, string>, home: string) {
      const settings = await settingsFrom(env, home);
      return heartbeatFact({settings, env, home, platform: 'linux', cwd: home, now});
    }

    it('local use without a tenant is fine; a tenant without a credential is not', async () => {
      const home = await tempDir();
      expect(await fact({}, home)).toEqual({
        state: 'ok',
        summary: 'not enrolled: no tenant configured (local use)',
        enrolled: false,
        lastHeartbeatAt: null,
      });
      const noKey = await fact({THOTH_TENANT_ID: 'acme'}, home);
      expect(noKey).toMatchObject({state: 'fail', enrolled: false});
      expect(noKey.summary).toContain('no credential is configured');
    });

    it('not enrolled, enrolled without heartbeat, last heartbeat, failing heartbeats', async () => {
      const home = await tempDir();
      const env = fleetEnv(plane, pki, {THOTH_FLEET_ID: 'laptops'});
      expect(await fact(env, home)).toMatchObject({state: 'warn', enrolled: false});
      const {attempts, stop} = await loop(home, {intervalMs: 60_000});
      await until(() => attempts.length >= 1);
      await stop();
      const ok = await fact(env, home);
      expect(ok).toMatchObject({state: 'ok', enrolled: true});
      expect(ok.lastHeartbeatAt).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(ok.summary).toContain(`enrolled with ${plane.url} as ep-test-1`);

      const state = JSON.parse(await readFile(stateFiles.heartbeat(home), 'utf8')) as HeartbeatState;
      await writeState(stateFiles.heartbeat(home), {
        ...state,
        consecutiveFailures: 2,
        lastError: 'POST …: ECONNREFUSED',
        lastErrorKind: 'network',
      });
      const failing = await fact(env, home);
      expect(failing).toMatchObject({state: 'warn', enrolled: true, lastHeartbeatAt: ok.lastHeartbeatAt});
      expect(failing.summary).toContain('the last 2 heartbeats failed (POST …: ECONNREFUSED)');
      await writeState(stateFiles.heartbeat(home), {...state, consecutiveFailures: 1, lastError: 'HTTP 401', lastErrorKind: 'auth'});
      expect((await fact(env, home)).state).toBe('fail');
      // Another tenant: the enrollment on file is not this one's.
      await mkdir(join(home, 'x'), {recursive: true});
      expect(await fact({...env, THOTH_TENANT_ID: 'globex'}, home)).toMatchObject({state: 'warn', enrolled: false});
    });
  });
});
