import {spawn} from 'node:child_process';
import {stat, readFile} from 'node:fs/promises';
import {setTimeout as sleep} from 'node:timers/promises';
import {join} from 'node:path';

import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest';

import {stateFiles} from '../../src/fleet/control-plane-state.js';
import {loadValidator} from '../../src/util/validators.js';
import {THOTH_BIN, parseEnvelope, runThoth} from '../helpers/cli.js';
import {errorBody, type TestControlPlane} from '../helpers/control-plane-server.js';
import {tempDir} from '../helpers/tmp.js';
import {API_KEY, fleetEnv, makePki, startPlane, type Pki} from './fixtures.js';

interface EnrollJson {
  endpointId: string;
  created: boolean;
  enrolledAt: string;
  registerUrl: string;
  tenantId: string | null;
  fleetId: string | null;
  enrollmentSource: string;
  governedServers: unknown;
}

describe('thoth enroll (the built CLI against the test control plane)', () => {
  let pki: Pki;
  let plane: TestControlPlane;

  beforeAll(async () => {
    pki = await makePki();
    plane = await startPlane(pki);
  });
  afterEach(() => {
    plane.requests.length = 0;
    plane.endpoints.clear();
    delete plane.handlers.register;
  });
  afterAll(async () => {
    // Every request thoth sent in this file followed its schema.
    expect(plane.everInvalid.map((r) => `${r.path}: ${r.problems.join('; ')}`)).toEqual([]);
    await plane.close();
    await pki.remove();
  });

  async function enroll(env: Record<string, string | undefined>, args: string[] = []) {
    const home = env['THOTH_HOME'] ?? (await tempDir());
    const result = await runThoth(['enroll', '--json', ...args], {env: {HOME: home, THOTH_HOME: home, ...env}});
    return {...result, home, envelope: parseEnvelope<EnrollJson>(result.stdout)};
  }

  it('registers the endpoint, records it (0600), and is idempotent', async () => {
    const home = await tempDir();
    const env = {...fleetEnv(plane, pki, {THOTH_FLEET_ID: 'laptops', THOTH_ENROLLMENT_SOURCE: 'jamf'}), THOTH_HOME: home};
    const first = await enroll(env);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    const validate = await loadValidator('enroll-result');
    expect(validate(first.envelope.result)).toBe(true);
    expect(first.envelope.result).toMatchObject({
      endpointId: 'ep-test-1',
      created: true,
      tenantId: 'acme',
      fleetId: 'laptops',
      enrollmentSource: 'jamf',
      registerUrl: `${plane.url}/v1/endpoints/register`,
    });
    const record = stateFiles.enrollment(home);
    expect((await stat(record)).mode & 0o777).toBe(0o600);
    expect((await stat(join(home, 'control-plane'))).mode & 0o777).toBe(0o700);

    const second = await enroll(env);
    expect(second.code).toBe(0);
    expect(second.envelope.result).toMatchObject({created: false, enrolledAt: first.envelope.result!.enrolledAt});
    expect(plane.of('register')).toHaveLength(2);
    expect(plane.endpoints.size).toBe(1);
    expect(plane.invalid()).toEqual([]);
    expect(plane.of('register')[0]!.body as Record<string, unknown>).toMatchObject({
      identitySource: 'endpoint-id',
      hostname: expect.any(String),
      os: {platform: process.platform},
      thothVersion: expect.any(String),
    });
    for (const output of [first.stdout, first.stderr, second.stdout, second.stderr, await readFile(record, 'utf8')])
      expect(output).not.toContain(API_KEY);

    const health = await runThoth(['health', '--json'], {env: {HOME: home, ...env}});
    const report = parseEnvelope<{heartbeat: {enrolled: boolean; state: string; summary: string}}>(health.stdout).result!;
    expect(report.heartbeat).toMatchObject({enrolled: true, state: 'ok'});
    expect(report.heartbeat.summary).toContain('no heartbeat yet');
  });

  it('says what it is doing before it waits on the network (stderr; stdout keeps the result)', async () => {
    const home = await tempDir();
    const env = {...fleetEnv(plane, pki), HOME: home, THOTH_HOME: home};
    const child = spawn(process.execPath, [THOTH_BIN, 'enroll'], {
      env: {PATH: process.env['PATH'], ...env},
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    // The control plane answers only once the line is on the terminal: it was printed before the wait.
    let sawLine = false;
    plane.handlers.register = async (request) => {
      for (let waited = 0; !stderr.includes('registering ') && waited < 10_000; waited += 20) await sleep(20);
      sawLine = stderr.includes('registering ');
      const body = request.body as {endpointId: string; fleetId: string | null};
      return {
        body: {endpointId: body.endpointId, status: 'enrolled', created: true, enrolledAt: new Date().toISOString(), fleetId: body.fleetId},
      };
    };
    expect(await exited).toBe(0);
    expect(sawLine).toBe(true);
    expect(stderr).toBe(`registering ep-test-1 with ${plane.url} (waits up to 15 s)…\n`);
    expect(stdout).toMatch(/^enrolled: ep-test-1 /);
  });

  it('logs the control plane’s warning when the key belongs to another endpoint or fleet, and still enrolls', async () => {
    plane.handlers.register = (request) => {
      const body = request.body as {endpointId: string; fleetId: string | null};
      return {
        body: {
          endpointId: body.endpointId,
          status: 'enrolled',
          created: true,
          enrolledAt: new Date().toISOString(),
          fleetId: body.fleetId,
          warnings: [{code: 'KEY_CONTEXT_MISMATCH', message: 'the API key was issued for fleet desktops'}],
        },
      };
    };
    const result = await enroll(fleetEnv(plane, pki, {THOTH_FLEET_ID: 'laptops'}));
    expect(result.code).toBe(0);
    expect(result.envelope.warnings).toContain('control plane: KEY_CONTEXT_MISMATCH: the API key was issued for fleet desktops');
  });

  it.each([
    ['no tenant or URL', {}, 2, 'CONTROL_PLANE_NOT_CONFIGURED'],
    ['a tenant but no credential', {THOTH_TENANT_ID: 'acme', THOTH_GOVAPI_URL: 'PLANE'}, 4, 'CONTROL_PLANE_NO_CREDENTIAL'],
    [
      'a control plane that cannot be reached',
      {THOTH_GOVAPI_URL: 'https://127.0.0.1:9', THOTH_API_KEY: API_KEY, THOTH_TENANT_ID: 'acme'},
      7,
      'ENROLL_FAILED',
    ],
  ])('%s: exit %d (%s)', async (_name, env, exitCode, code) => {
    const resolved = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === 'PLANE' ? plane.url : v]));
    const result = await enroll(resolved);
    expect(result.code).toBe(exitCode);
    expect(result.envelope.error?.code).toBe(code);
    expect(result.stdout + result.stderr).not.toContain(API_KEY);
  });

  it('a refused key: exit 7 with a suggestion about the credential; a pin mismatch: exit 6', async () => {
    const refused = await enroll(fleetEnv(plane, pki, {THOTH_API_KEY: 'tk_wrong_key_000000000000'}));
    expect(refused.code).toBe(7);
    expect(refused.envelope.error?.message).toContain('HTTP 401 UNAUTHENTICATED');
    expect(refused.envelope.error?.suggestions.join(' ')).toContain('refused the credential');
    expect(refused.stdout + refused.stderr).not.toContain('tk_wrong_key_000000000000');

    const pinned = await enroll(fleetEnv(plane, pki, {THOTH_TLS_PINNED_CERT_SHA256: `sha256:${pki.otherLeaf.fingerprint}`}));
    expect(pinned.code).toBe(6);
    expect(pinned.envelope.error).toMatchObject({code: 'TLS_FAILED'});
    expect(pinned.envelope.error?.message).toContain('pin mismatch');
    expect(plane.of('register')).toHaveLength(1); // the refused key's; nothing went over the mismatched connection
  });

  it('a server error is reported with its code', async () => {
    plane.handlers.register = () => ({status: 503, body: errorBody('UNAVAILABLE', 'maintenance window', 30)});
    const result = await enroll(fleetEnv(plane, pki));
    expect(result.code).toBe(7);
    expect(result.envelope.error?.message).toContain('HTTP 503 UNAVAILABLE: maintenance window');
  });
});
