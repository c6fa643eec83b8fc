import {mkdir, writeFile} from 'node:fs/promises';
import {join} from 'node:path';

import {describe, expect, it} from 'vitest';

import {auditSettingsFromResolved, type AuditSettings} from '../../src/audit/settings.js';
import {loadOrCreateKey} from '../../src/audit/key.js';
import type {VerifyReport} from '../../src/audit/verify.js';
import type {HealthReport} from '../../src/fleet/health.js';
import {resolveSettings} from '../../src/settings/resolve.js';
import {parseEnvelope, runThoth} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';
import {writeSession} from './helpers.js';

/**
 * The audit trail reads its settings only through the one settings resolver (there is no second
 * reader of THOTH_AUDIT_*): what each value means, and that an invalid one is refused by name.
 */
const HOME = '/home/jane';

async function viaResolver(
  env: NodeJS.ProcessEnv,
  flags: {dir?: string} = {},
): Promise<{ok: true; settings: AuditSettings} | {ok: false; message: string}> {
  const resolved = await resolveSettings({env, home: HOME, cwd: HOME, platform: 'linux'});
  try {
    return {ok: true, settings: auditSettingsFromResolved(resolved, flags)};
  } catch (error) {
    return {ok: false, message: error instanceof Error ? error.message : String(error)};
  }
}

describe('audit settings through the settings resolver', () => {
  it.each([
    [{THOTH_AUDIT: 'OFF'}, {enabled: false}],
    [{THOTH_AUDIT: 'true'}, {enabled: true}],
    [{THOTH_AUDIT_FSYNC: 'always'}, {fsync: 'always'}],
    [{THOTH_AUDIT_FSYNC_WINDOW_MS: '0'}, {fsyncWindowMs: 0}],
    [{THOTH_AUDIT_ROTATE_BYTES: '4096'}, {rotateBytes: 4096}],
    [{THOTH_AUDIT_ROTATE_SECONDS: '3600'}, {rotateAgeMs: 3_600_000}],
    [{THOTH_AUDIT_CONTENT_MAX_BYTES: '256'}, {contentMaxBytes: 256}],
    [{THOTH_AUDIT_DIR: '/srv/audit trail'}, {dir: '/srv/audit trail'}],
    [{THOTH_AUDIT_KEY_FILE: '/etc/thoth/audit-key.json'}, {keyFile: '/etc/thoth/audit-key.json'}],
    // Like every THOTH_* setting: empty means unset, surrounding spaces are trimmed.
    [{THOTH_AUDIT: ''}, {enabled: true}],
    [{THOTH_AUDIT_FSYNC: ' always'}, {fsync: 'always'}],
  ])('%j → %j', async (env, expected) => {
    expect(await viaResolver({THOTH_HOME: join(HOME, '.thoth'), ...env})).toMatchObject({ok: true, settings: expected});
  });

  it.each([
    [{THOTH_AUDIT: 'maybe'}, 'THOTH_AUDIT'],
    [{THOTH_AUDIT_FSYNC: 'sometimes'}, 'THOTH_AUDIT_FSYNC'],
    [{THOTH_AUDIT_FSYNC_WINDOW_MS: '-1'}, 'THOTH_AUDIT_FSYNC_WINDOW_MS'],
    [{THOTH_AUDIT_ROTATE_BYTES: '100'}, 'THOTH_AUDIT_ROTATE_BYTES'],
    [{THOTH_AUDIT_ROTATE_SECONDS: '0'}, 'THOTH_AUDIT_ROTATE_SECONDS'],
    [{THOTH_AUDIT_CONTENT_MAX_BYTES: '255'}, 'THOTH_AUDIT_CONTENT_MAX_BYTES'],
  ])('%j is refused, naming %s', async (env, name) => {
    const outcome = await viaResolver(env);
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) expect(outcome.message).toContain(`invalid setting: ${name} from ${name}`);
  });

  it('defaults to the directory and key file under the profile; --audit-dir wins', async () => {
    expect(await viaResolver({THOTH_HOME: '/tmp/profile'})).toMatchObject({
      ok: true,
      settings: {dir: '/tmp/profile/audit', keyFile: '/tmp/profile/audit_hmac_key.json'},
    });
    expect(await viaResolver({THOTH_HOME: '/tmp/profile', THOTH_AUDIT_DIR: '/env/dir'}, {dir: '/flag/dir'})).toMatchObject({
      ok: true,
      settings: {dir: '/flag/dir'},
    });
  });
});

describe('the audit commands and thoth health find the trail through the same settings', () => {
  it('THOTH_AUDIT_DIR / THOTH_AUDIT_KEY_FILE from settings.json; --audit-dir still wins', async () => {
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
    const flagged = await runThoth(['audit', 'show', '--json', '--audit-dir', other], {env});
    expect(parseEnvelope<{count: number}>(flagged.stdout).result!.count).toBe(0);
  });
});
