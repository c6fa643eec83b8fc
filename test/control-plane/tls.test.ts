import {randomUUID} from 'node:crypto';
import {createServer as createHttpServer} from 'node:http';

import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {ControlPlaneClient} from '../../src/control-plane/client.js';
import type {ControlPlaneEndpoint, ControlPlanePlan} from '../../src/control-plane/config.js';
import {ControlPlaneError} from '../../src/control-plane/errors.js';
import {RemoteEnforcer} from '../../src/control-plane/remote-enforcer.js';
import {makeCa, makeLeaf, type TestCa, type TestLeaf} from '../helpers/certs.js';
import {TestControlPlane} from '../helpers/control-plane-server.js';
import {fleetEnv, makePki, planFrom, type Pki} from './fixtures.js';

const ACM_ARN = 'arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-aaaa-bbbb-cccc-1234567890ab';
const PCA_ARN = 'arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/11112222-3333-4444-5555-666677778888';

/** One request through a fresh client built from these settings: undefined when it worked, else the failure. */
async function tryOnce(plan: ControlPlanePlan): Promise<ControlPlaneError | Error | undefined> {
  let client: ControlPlaneClient;
  try {
    client = await ControlPlaneClient.create({tls: plan.tls, userAgent: 'thoth/test'});
  } catch (error) {
    return error as Error;
  }
  try {
    await client.send(
      'register',
      plan.govapi as ControlPlaneEndpoint,
      {
        endpointId: `ep-${randomUUID()}`,
        identitySource: 'endpoint-id',
        tenantId: 'acme',
        fleetId: null,
        hostname: 'test-host',
        os: {platform: 'linux', release: '6.0', arch: 'x64'},
        thothVersion: '0.1.0',
        enrollmentSource: 'manual',
        userId: null,
        governedServers: null,
        sentAt: new Date().toISOString(),
      },
      {timeoutMs: 5000},
    );
    return undefined;
  } catch (error) {
    return error as Error;
  } finally {
    await client.close();
  }
}

describe('TLS to the control plane (certificates made with openssl in the test)', () => {
  let pki: Pki;
  let plane: TestControlPlane;
  let amazonCa: TestCa;
  let amazonLeaf: TestLeaf;
  let amazonPlane: TestControlPlane;

  beforeAll(async () => {
    pki = await makePki();
    plane = await TestControlPlane.start({key: pki.leaf.keyPem, cert: pki.leaf.chainPem});
    // An "ACM-issued" chain: a CA whose organisation is Amazon, as Amazon's intermediates and roots are.
    amazonCa = makeCa(pki.dir, 'amazon-ca', 'Amazon');
    amazonLeaf = makeLeaf(pki.dir, 'amazon-server', amazonCa);
    amazonPlane = await TestControlPlane.start({key: amazonLeaf.keyPem, cert: amazonLeaf.chainPem});
  });
  afterAll(async () => {
    // Every request thoth sent in this file followed its schema.
    expect(plane.everInvalid.map((r) => `${r.path}: ${r.problems.join('; ')}`)).toEqual([]);
    await plane.close();
    await amazonPlane.close();
    await pki.remove();
  });

  const env = (extra: Record<string, string> = {}, target: TestControlPlane = plane) => fleetEnv(target, pki, extra);

  it('trusts a custom CA bundle (THOTH_TLS_CA_BUNDLE), and only it', async () => {
    expect(await tryOnce((await planFrom(env())).plan)).toBeUndefined();
    const withOther = await tryOnce((await planFrom(env({THOTH_TLS_CA_BUNDLE: pki.otherCa.certPath}))).plan);
    expect(withOther).toBeInstanceOf(ControlPlaneError);
    expect((withOther as ControlPlaneError).kind).toBe('tls');
    // Without a bundle the system roots apply, which do not know the test CA.
    const {THOTH_TLS_CA_BUNDLE: _, ...noBundle} = env();
    const system = await tryOnce((await planFrom(noBundle)).plan);
    expect((system as ControlPlaneError).kind).toBe('tls');
    expect(system!.message).toMatch(
      /TLS failed: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED_CERT_IN_CHAIN)/,
    );
  });

  it('THOTH_TLS_VERIFY=false skips chain verification (with a warning outside dev)', async () => {
    const {THOTH_TLS_CA_BUNDLE: _, ...noBundle} = env({THOTH_TLS_VERIFY: 'false'});
    const {settings, plan} = await planFrom(noBundle);
    expect(settings.warnings.join('\n')).toContain('THOTH_TLS_VERIFY is false in prod');
    expect(await tryOnce(plan)).toBeUndefined();
  });

  it('accepts a pinned leaf, as sha256:<hex>, plain hex or with colons, among several pins', async () => {
    const colons = pki.leaf.fingerprint.toUpperCase().match(/../g)!.join(':');
    for (const pins of [`sha256:${pki.leaf.fingerprint}`, pki.leaf.fingerprint, `${'ab'.repeat(32)}, ${colons}`]) {
      expect(await tryOnce((await planFrom(env({THOTH_TLS_PINNED_CERT_SHA256: pins}))).plan)).toBeUndefined();
    }
  });

  it('refuses a leaf that is not pinned, even with THOTH_TLS_VERIFY=false (a mismatch is never downgraded)', async () => {
    for (const verify of ['true', 'false']) {
      const failure = await tryOnce(
        (await planFrom(env({THOTH_TLS_PINNED_CERT_SHA256: `sha256:${pki.otherLeaf.fingerprint}`, THOTH_TLS_VERIFY: verify}))).plan,
      );
      expect(failure).toBeInstanceOf(ControlPlaneError);
      expect((failure as ControlPlaneError).kind).toBe('tls');
      expect(failure!.message).toContain(
        `TLS pin mismatch for 127.0.0.1: its leaf certificate sha256:${pki.leaf.fingerprint} is not one of the 1 pinned`,
      );
    }
  });

  it('a pin remembered in the cache never lets another certificate through on the same host', async () => {
    const {plan} = await planFrom(
      env({THOTH_TLS_PINNED_CERT_SHA256: pki.leaf.fingerprint, THOTH_TLS_PIN_CACHE_SECONDS: '300', THOTH_TLS_VERIFY: 'false'}),
    );
    const client = await ControlPlaneClient.create({tls: plan.tls, userAgent: 'thoth/test', keepAliveTimeoutMs: 1});
    try {
      const body = {holdToken: 'x'.repeat(16), approvalId: 'a', waitMs: 0};
      const first = await client
        .send('holdWait', plan.enforcer as ControlPlaneEndpoint, body, {timeoutMs: 5000})
        .catch((error: Error) => error);
      expect((first as ControlPlaneError).status).toBe(404); // through TLS: the test plane does not know the hold
      // Same host and port, another certificate.
      const port = plane.port;
      await plane.stop();
      const impostor = await TestControlPlane.start({key: pki.otherLeaf.keyPem, cert: pki.otherLeaf.chainPem, port});
      try {
        const second = await client
          .send('holdWait', plan.enforcer as ControlPlaneEndpoint, body, {timeoutMs: 5000})
          .catch((error: Error) => error);
        expect((second as ControlPlaneError).kind).toBe('tls');
        expect((second as Error).message).toContain('pin mismatch');
      } finally {
        await impostor.close();
      }
    } finally {
      await client.close();
      await plane.restart();
    }
  });

  it('a TLS failure blocks tool calls even when the failure decision is allow (dev)', async () => {
    const {plan} = await planFrom(
      env({THOTH_ENV: 'dev', THOTH_ENFORCER_FAILURE_DECISION: 'allow', THOTH_TLS_PINNED_CERT_SHA256: pki.otherLeaf.fingerprint}),
    );
    expect(plan.failureDecision).toBe('allow');
    const client = await ControlPlaneClient.create({tls: plan.tls, userAgent: 'thoth/test'});
    const warnings: string[] = [];
    const remote = new RemoteEnforcer({
      sender: client,
      endpoint: plan.enforcer as ControlPlaneEndpoint,
      timeoutMs: 2000,
      failureDecision: 'allow',
      env: 'dev',
      holdBudgetMs: 1000,
      warn: (m) => warnings.push(m),
    });
    try {
      const decision = await remote.decide(
        {name: 'echo', arguments: {}, argumentsJson: '{}'},
        {agentId: 'a', sessionId: randomUUID(), mode: 'progressive', sessionToolCalls: []},
        {decision: 'allow', reason: 'local', ruleId: 'local'},
      );
      expect(decision).toMatchObject({decision: 'block', ruleId: 'enforcer:tls'});
      expect(decision.reason).toContain('pin mismatch');
      expect(warnings.join('\n')).toContain('never downgraded');
    } finally {
      await client.close();
    }
  });

  describe('THOTH_TLS_REQUIRE_AWS_BACKED_CERTS', () => {
    it('with the ACM ARN: a chain issued by an Amazon CA passes, another is refused', async () => {
      const aws = {THOTH_TLS_REQUIRE_AWS_BACKED_CERTS: 'true', THOTH_TLS_AWS_ACM_CERT_ARN: ACM_ARN};
      expect(await tryOnce((await planFrom(env({...aws, THOTH_TLS_CA_BUNDLE: amazonCa.certPath}, amazonPlane))).plan)).toBeUndefined();
      const failure = await tryOnce((await planFrom(env(aws))).plan);
      expect((failure as ControlPlaneError).kind).toBe('tls');
      expect(failure!.message).toContain('not AWS-backed');
      expect(failure!.message).toContain('got issuer organisation "Thoth Test"');
    });

    it('with the Private CA ARN: a chain issued by the CA in THOTH_TLS_CA_BUNDLE passes; without a bundle it cannot be checked and nothing is sent', async () => {
      const aws = {THOTH_TLS_REQUIRE_AWS_BACKED_CERTS: 'true', THOTH_TLS_AWS_PRIVATE_CA_ARN: PCA_ARN};
      expect(await tryOnce((await planFrom(env(aws))).plan)).toBeUndefined();
      const {THOTH_TLS_CA_BUNDLE: _, ...noBundle} = env(aws);
      const before = plane.requests.length;
      const failure = await tryOnce((await planFrom(noBundle)).plan);
      expect(failure!.message).toContain('THOTH_TLS_AWS_PRIVATE_CA_ARN needs THOTH_TLS_CA_BUNDLE');
      expect(plane.requests.length).toBe(before);
    });

    it('without either ARN the settings are invalid (thoth run and enroll refuse to start)', async () => {
      const {settings} = await planFrom(env({THOTH_TLS_REQUIRE_AWS_BACKED_CERTS: 'true'}));
      expect(settings.problems.join('\n')).toContain('neither THOTH_TLS_AWS_ACM_CERT_ARN nor THOTH_TLS_AWS_PRIVATE_CA_ARN is set');
    });
  });

  it('plain http (accepted for localhost) works without pins, and is refused when a pin must be checked', async () => {
    const server = createHttpServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, {'content-type': 'application/json'});
        res.end(JSON.stringify({endpointId: 'ep', status: 'enrolled', created: true, enrolledAt: new Date().toISOString()}));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as {port: number}).port}`;
    try {
      expect(await tryOnce((await planFrom(env({THOTH_GOVAPI_URL: url}))).plan)).toBeUndefined();
      const pinned = await tryOnce((await planFrom(env({THOTH_GOVAPI_URL: url, THOTH_TLS_PINNED_CERT_SHA256: pki.leaf.fingerprint}))).plan);
      expect((pinned as ControlPlaneError).kind).toBe('tls');
      expect(pinned!.message).toContain('plain http, so THOTH_TLS_PINNED_CERT_SHA256');
    } finally {
      server.close();
    }
  });

  it('an unreadable CA bundle is an error, not a fallback to the system roots', async () => {
    const failure = await tryOnce((await planFrom(env({THOTH_TLS_CA_BUNDLE: `${pki.dir}/missing.pem`}))).plan);
    expect(failure!.message).toContain('missing.pem cannot be read (ENOENT)');
  });
});
