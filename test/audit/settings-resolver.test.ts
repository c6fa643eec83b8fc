import {mkdir, writeFile} from 'node:fs/promises';
import {join} from 'node:path';

import fc from 'fast-check';
import {describe, expect, it} from 'vitest';

import {auditSettingsFromResolved, resolveAuditSettings, type AuditSettings} from '../../src/audit/settings.js';
import {loadOrCreateKey} from '../../src/audit/key.js';
import type {VerifyReport} from '../../src/audit/verify.js';
import type {HealthReport} from '../../src/fleet/health.js';
import {resolveSettings} from '../../src/settings/resolve.js';
import {parseEnvelope, runThoth} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';
import {writeSession} from './helpers.js';

/**
 * The audit trail's settings through the one settings resolver must mean what they mean through
 * resolveAuditSettings (what `thoth run` uses today): same values accepted, same results, and an
 * invalid value still refused. The resolver only adds the layers below the environment.
 */
const HOME = '/home/jane';
const VALUES: Record<string, string[]> = {
  THOTH_AUDIT: ['on', 'off', 'OFF', '1', '0', 'true', 'False', 'maybe', 'yes'],
  THOTH_AUDIT_FSYNC: ['batched', 'always', 'sometimes', 'ALWAYS'],
  THOTH_AUDIT_FSYNC_WINDOW_MS: ['0', '20', '250', '-1', '1.5', 'soon', '1e3'],
  THOTH_AUDIT_ROTATE_BYTES: ['4096', '1048576', '100', '16777216'],
  THOTH_AUDIT_ROTATE_SECONDS: ['1', '3600', '0'],
  THOTH_AUDIT_CONTENT_MAX_BYTES: ['256', '65536', '255'],
  THOTH_AUDIT_DIR: ['/var/log/thoth', '/srv/audit trail'],
  THOTH_AUDIT_KEY_FILE: ['/etc/thoth/audit-key.json'],
};

type Outcome = {ok: true; settings: AuditSettings} | {ok: false};

function viaAuditModule(env: NodeJS.ProcessEnv): Outcome {
  try {
    return {ok: true, settings: resolveAuditSettings(env)};
  } catch {
    return {ok: false};
  }
}

async function viaResolver(env: NodeJS.ProcessEnv): Promise<Outcome> {
  const resolved = await resolveSettings({env, home: HOME, cwd: HOME, platform: 'linux'});
  try {
    return {ok: true, settings: auditSettingsFromResolved(resolved)};
  } catch {
    return {ok: false};
  }
}

describe('audit settings through the settings resolver', () => {
  it('gives the same settings as resolveAuditSettings for any mix of values, valid or not', async () => {
    const envArb = fc.record(
      Object.fromEntries(Object.entries(VALUES).map(([name, values]) => [name, fc.option(fc.constantFrom(...values), {nil: undefined})])),
      {requiredKeys: []},
    );
    await fc.assert(
      fc.asyncProperty(envArb, async (picked) => {
        const env: NodeJS.ProcessEnv = {THOTH_HOME: join(HOME, '.thoth')};
        for (const [name, value] of Object.entries(picked)) if (value !== undefined) env[name] = value;
        expect(await viaResolver(env)).toEqual(viaAuditModule(env));
      }),
      {numRuns: 300},
    );
  });

  it('defaults to the same directory and key file under the profile', async () => {
    const env = {THOTH_HOME: '/tmp/profile'};
    expect(await viaResolver(env)).toEqual({ok: true, settings: resolveAuditSettings(env)});
    expect(resolveAuditSettings(env)).toMatchObject({dir: '/tmp/profile/audit', keyFile: '/tmp/profile/audit_hmac_key.json'});
  });

  it('the --audit-dir flag wins in both, and an invalid value names the variable', async () => {
    const env = {THOTH_HOME: '/tmp/profile', THOTH_AUDIT_DIR: '/env/dir'};
    const resolved = await resolveSettings({env, home: HOME, cwd: HOME, platform: 'linux'});
    expect(auditSettingsFromResolved(resolved, {dir: '/flag/dir'}).dir).toBe(resolveAuditSettings(env, {dir: '/flag/dir'}).dir);
    const bad = await resolveSettings({env: {THOTH_AUDIT_FSYNC: 'sometimes'}, home: HOME, cwd: HOME, platform: 'linux'});
    expect(() => auditSettingsFromResolved(bad)).toThrow('invalid setting: THOTH_AUDIT_FSYNC from THOTH_AUDIT_FSYNC: must be batched or always (got "sometimes")');
  });

  it('differs only where the resolver treats every THOTH_* variable alike: empty means unset, spaces are trimmed', async () => {
    for (const env of [{THOTH_AUDIT: ''}, {THOTH_AUDIT_FSYNC: ' always'}]) {
      expect(viaAuditModule(env).ok).toBe(false);
      expect((await viaResolver(env)).ok).toBe(true);
    }
  });
});

describe('the audit commands and thoth health find the trail through the same settings', () => {
  it('THOTH_AUDIT_DIR / THOTH_AUDIT_KEY_FILE from settings.json; --dir still wins', async () => {
    const home = await tempDir();
    const profile = join(home, '.thoth');
    const trail = join(home, 'elsewhere', 'trail');
    const keyFile = join(home, 'elsewhere', 'key.json');
    await mkdir(profile, {recursive: true});
    await writeFile(join(profile, 'settings.json'), JSON.stringify({THOTH_AUDIT_DIR: trail, THOTH_AUDIT_KEY_FILE: keyFile}));
    await writeSession(trail, await loadOrCreateKey(keyFile), 3);
    const env = {HOME: home, THOTH_HOME: profile};

    const verify = await runThoth(['audit', 'verify', '--json'], {env});
    expect(verify.code).toBe(0);
    expect(parseEnvelope<VerifyReport>(verify.stdout).result).toMatchObject({status: 'intact', path: trail, chains: 1});
    const show = await runThoth(['audit', 'show', '--json'], {env});
    expect(parseEnvelope<{count: number}>(show.stdout).result!.count).toBeGreaterThan(0);
    const health = await runThoth(['health', '--json'], {env});
    expect(parseEnvelope<HealthReport>(health.stdout).result!.audit).toMatchObject({state: 'ok', path: trail});

    const other = join(home, 'empty');
    await mkdir(other);
    const flagged = await runThoth(['audit', 'show', '--json', '--dir', other], {env});
    expect(parseEnvelope<{count: number}>(flagged.stdout).result!.count).toBe(0);
  });
});
