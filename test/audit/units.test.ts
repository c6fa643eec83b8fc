import {stat, writeFile, chmod, readFile} from 'node:fs/promises';
import {join} from 'node:path';

import {describe, expect, it} from 'vitest';

import {EventIdGenerator, UUID_V7, uuidV7Time} from '../../src/audit/event-id.js';
import {loadOrCreateKey, readKeyFile} from '../../src/audit/key.js';
import {parseSegmentFileName, segmentFileName} from '../../src/audit/layout.js';
import {auditSettingsFromResolved} from '../../src/audit/settings.js';
import {NO_MANAGED_PREFERENCES} from '../../src/settings/managed.js';
import {resolveSettings} from '../../src/settings/resolve.js';
import {ThothError} from '../../src/core/errors.js';
import {tempDir} from '../helpers/tmp.js';

describe('event ids (UUIDv7)', () => {
  it('are valid, strictly increasing within a millisecond and when the clock steps back', () => {
    let now = 1_700_000_000_000;
    const ids = new EventIdGenerator(() => now);
    const out: string[] = [];
    for (let i = 0; i < 5000; i++) {
      if (i === 2500) now -= 10_000;
      out.push(ids.next());
    }
    for (const id of out) expect(id).toMatch(UUID_V7);
    expect([...out].sort()).toEqual(out);
    expect(new Set(out).size).toBe(out.length);
    expect(uuidV7Time(out[0]!)).toBe(1_700_000_000_000);
  });

  it('carry the time: ids from later milliseconds sort later', () => {
    let now = 1_000;
    const ids = new EventIdGenerator(() => now);
    const a = ids.next();
    now = 2_000;
    expect(ids.next() > a).toBe(true);
  });
});

describe('audit key file', () => {
  it('is created once with mode 0600, even when many callers race', async () => {
    const path = join(await tempDir(), 'profile', 'audit_hmac_key.json');
    const keys = await Promise.all(Array.from({length: 8}, () => loadOrCreateKey(path)));
    expect(new Set(keys.map((k) => k.keyId)).size).toBe(1);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(path, '..'))).mode & 0o777).toBe(0o700);
  });

  it('is tightened to 0600 with a warning when found looser', async () => {
    const path = join(await tempDir(), 'audit_hmac_key.json');
    await loadOrCreateKey(path);
    await chmod(path, 0o644);
    const warnings: string[] = [];
    await readKeyFile(path, (m) => warnings.push(m));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(warnings[0]).toMatch(/readable by other users/);
  });

  it('refuses an edited key file with the file, the field and what to do', async () => {
    const path = join(await tempDir(), 'audit_hmac_key.json');
    await loadOrCreateKey(path);
    const file = JSON.parse(await readFile(path, 'utf8')) as {key: string};
    await writeFile(path, JSON.stringify({...file, key: 'AAAA'}), {mode: 0o600});
    const error = await readKeyFile(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ThothError);
    expect((error as ThothError).message).toMatch(/audit_hmac_key\.json is not a valid key file: .*\/key/);
    expect((error as ThothError).suggestions.join(' ')).toMatch(/Restore the key file/);
    await writeFile(path, JSON.stringify({...file, keyId: '0000000000000000'}), {mode: 0o600});
    await expect(readKeyFile(path)).rejects.toThrow(/keyId does not match/);
  });
});

describe('settings and file names', () => {
  it('resolves flags over environment over defaults, and rejects bad values with a usage error', async () => {
    const audit = async (env: NodeJS.ProcessEnv, flags: {dir?: string} = {}) =>
      auditSettingsFromResolved(
        await resolveSettings({env, home: '/home/u', cwd: '/home/u', platform: 'linux', readManagedPreferences: NO_MANAGED_PREFERENCES}),
        flags,
      );
    const env = {
      THOTH_HOME: '/home/u/.thoth',
      THOTH_AUDIT_DIR: '/var/audit',
      THOTH_AUDIT_FSYNC: 'always',
      THOTH_AUDIT_ROTATE_SECONDS: '60',
    };
    expect(await audit(env)).toMatchObject({
      dir: '/var/audit',
      keyFile: '/home/u/.thoth/audit_hmac_key.json',
      fsync: 'always',
      rotateAgeMs: 60_000,
      enabled: true,
    });
    expect((await audit(env, {dir: '/flag'})).dir).toBe('/flag');
    expect((await audit({THOTH_HOME: '/h'})).dir).toBe('/h/audit');
    expect((await audit({THOTH_AUDIT: 'off'})).enabled).toBe(false);
    await expect(audit({THOTH_AUDIT_ROTATE_BYTES: '10'})).rejects.toThrow(
      /THOTH_AUDIT_ROTATE_BYTES from THOTH_AUDIT_ROTATE_BYTES: must be an integer of at least 4096/,
    );
    await expect(audit({THOTH_AUDIT_FSYNC: 'never'})).rejects.toThrow(ThothError);
  });

  it('segment names sort by time and parse back', () => {
    const chain = '01a2010c-cf3c-74b2-ba5c-ca59daf3172a';
    const name = segmentFileName(chain, 12, Date.parse('2026-11-22T02:19:06.441Z'));
    expect(name).toBe(`20261122T021906Z-${chain}-000012.jsonl`);
    expect(parseSegmentFileName(name)).toEqual({stamp: '20261122T021906Z', chain, index: 12});
    expect(parseSegmentFileName('registry.jsonl')).toBeUndefined();
  });
});
