import {mkdir, mkdtemp, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {ControlPlaneClient} from '../../src/control-plane/client.js';
import {planControlPlane, type ControlPlanePlan} from '../../src/control-plane/config.js';
import {resolveSettings, type ResolvedSettings} from '../../src/settings/resolve.js';
import {makeCa, makeLeaf, type TestCa, type TestLeaf} from '../helpers/certs.js';
import {TestControlPlane, type TestControlPlaneOptions} from '../helpers/control-plane-server.js';
import {tempDir} from '../helpers/tmp.js';

export const API_KEY = 'tk_live_0123456789abcdef0123456789abcdef';

export interface Pki {
  dir: string;
  ca: TestCa;
  leaf: TestLeaf;
  /** A second CA and a leaf it signed (for mismatches). */
  otherCa: TestCa;
  otherLeaf: TestLeaf;
  /** Removes the directory (call in afterAll: the files outlive single tests). */
  remove(): Promise<void>;
}

/** A fresh CA and server certificate for 127.0.0.1, made with openssl in a temporary directory. */
export async function makePki(): Promise<Pki> {
  const dir = await mkdtemp(join(tmpdir(), 'thoth-pki-'));
  const ca = makeCa(dir, 'ca');
  const otherCa = makeCa(dir, 'other-ca', 'Someone Else');
  return {
    dir,
    ca,
    leaf: makeLeaf(dir, 'server', ca),
    otherCa,
    otherLeaf: makeLeaf(dir, 'other-server', otherCa),
    remove: () => rm(dir, {recursive: true, force: true}),
  };
}

export async function startPlane(pki: Pki, options: Partial<TestControlPlaneOptions> = {}): Promise<TestControlPlane> {
  return TestControlPlane.start({
    key: pki.leaf.keyPem,
    cert: pki.leaf.chainPem,
    auth: {enforcer: `Bearer ${API_KEY}`, govapi: `Bearer ${API_KEY}`},
    ...options,
  });
}

/** Settings as `thoth run` resolves them, from this environment (profile in a temporary directory). */
export async function settingsFrom(env: Record<string, string>, home?: string): Promise<ResolvedSettings> {
  const profileDir = home ?? (await tempDir());
  await mkdir(profileDir, {recursive: true});
  return resolveSettings({env, profileDir, home: profileDir, platform: 'linux', cwd: profileDir});
}

/** The environment of a fleet endpoint pointed at the test control plane. */
export function fleetEnv(plane: TestControlPlane, pki: Pki, extra: Record<string, string> = {}): Record<string, string> {
  return {
    THOTH_TENANT_ID: 'acme',
    THOTH_ENFORCER_URL: plane.url,
    THOTH_GOVAPI_URL: plane.url,
    THOTH_API_KEY: API_KEY,
    THOTH_TLS_CA_BUNDLE: pki.ca.certPath,
    THOTH_ENDPOINT_ID: 'ep-test-1',
    ...extra,
  };
}

export async function clientFor(plan: ControlPlanePlan): Promise<ControlPlaneClient> {
  return ControlPlaneClient.create({tls: plan.tls, userAgent: 'thoth/test (linux; x64)'});
}

export async function planFrom(env: Record<string, string>): Promise<{settings: ResolvedSettings; plan: ControlPlanePlan}> {
  const settings = await settingsFrom(env);
  return {settings, plan: planControlPlane(settings.values)};
}

export function auditDirOf(home: string): string {
  return join(home, 'audit');
}
