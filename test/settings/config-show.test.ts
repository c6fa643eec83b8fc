import {mkdir, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import type {SettingsReport} from '../../src/settings/report.js';
import {loadValidator} from '../../src/util/validators.js';
import {parseEnvelope, runThoth} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';

describe('thoth config show', () => {
  it('prints every setting with its source; --json matches the schema and masks secrets', async () => {
    const home = join(await tempDir(), 'profile');
    await mkdir(home, {recursive: true});
    await writeFile(join(home, 'settings.json'), '{"THOTH_FLEET_ID": "laptops"}');
    const env = {
      THOTH_HOME: home,
      THOTH_TENANT_ID: 'acme',
      THOTH_API_KEY: 'sk-very-secret-1',
      THOTH_GOVAPI_BEARER_TOKEN: 'bearer-secret-2',
    };
    const json = await runThoth(['config', 'show', '--json'], {env});
    expect(json.code).toBe(0);
    expect(json.stdout + json.stderr).not.toMatch(/very-secret|bearer-secret/);
    const envelope = parseEnvelope<SettingsReport>(json.stdout);
    const validate = await loadValidator('settings-report');
    expect(validate(envelope.result), JSON.stringify(validate.errors)).toBe(true);
    const row = (name: string) => envelope.result!.settings.find((entry) => entry.name === name)!;
    expect(row('THOTH_TENANT_ID')).toMatchObject({value: 'acme', source: 'env', origin: 'THOTH_TENANT_ID'});
    expect(row('THOTH_FLEET_ID')).toMatchObject({value: 'laptops', source: 'profile', origin: join(home, 'settings.json')});
    expect(row('THOTH_ENFORCER_URL')).toMatchObject({value: 'https://enforce.acme.atensecurity.com', source: 'default'});
    expect(row('THOTH_REQUIRE_NON_ROOT')).toMatchObject({value: true, source: 'default'});
    expect(row('THOTH_API_KEY')).toMatchObject({masked: true, source: 'env', value: expect.stringMatching(/^sha256:[0-9a-f]{12}$/)});
    expect(row('THOTH_GOVAPI_BEARER_TOKEN')).toMatchObject({masked: true});

    const text = await runThoth(['config', 'show'], {env});
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^THOTH_TENANT_ID\s+acme\s+env: THOTH_TENANT_ID$/m);
    expect(text.stdout).toMatch(/^THOTH_API_KEY\s+set, sha256:[0-9a-f]{12}\s+env: THOTH_API_KEY$/m);
    expect(text.stdout).not.toMatch(/very-secret|bearer-secret/);
  });

  it('lists the audit settings with their defaults under the profile, and from settings.json', async () => {
    const home = join(await tempDir(), 'profile');
    await mkdir(home, {recursive: true});
    await writeFile(join(home, 'settings.json'), '{"THOTH_AUDIT_DIR": "/var/log/thoth-audit", "THOTH_AUDIT_FSYNC": "always"}');
    const run = await runThoth(['config', 'show', '--json'], {env: {THOTH_HOME: home, THOTH_AUDIT_ROTATE_BYTES: '1048576'}});
    expect(run.code).toBe(0);
    const rows = parseEnvelope<SettingsReport>(run.stdout).result!.settings.filter((row) => row.name.startsWith('THOTH_AUDIT'));
    expect(rows.map((row) => [row.name, row.value, row.source])).toEqual([
      ['THOTH_AUDIT', true, 'default'],
      ['THOTH_AUDIT_DIR', '/var/log/thoth-audit', 'profile'],
      ['THOTH_AUDIT_KEY_FILE', join(home, 'audit_hmac_key.json'), 'default'],
      ['THOTH_AUDIT_FSYNC', 'always', 'profile'],
      ['THOTH_AUDIT_FSYNC_WINDOW_MS', 20, 'default'],
      ['THOTH_AUDIT_ROTATE_BYTES', 1048576, 'env'],
      ['THOTH_AUDIT_ROTATE_SECONDS', 86400, 'default'],
      ['THOTH_AUDIT_CONTENT_MAX_BYTES', 32768, 'default'],
    ]);
    const invalid = await runThoth(['config', 'show'], {env: {THOTH_HOME: home, THOTH_AUDIT: 'maybe'}});
    expect(invalid.code).toBe(3);
    expect(invalid.stdout).toContain('  - THOTH_AUDIT from THOTH_AUDIT: must be on or off (got "maybe")');
  });

  it('exits 3 and lists the problem when a value is invalid', async () => {
    const home = join(await tempDir(), 'profile');
    const run = await runThoth(['config', 'show'], {env: {THOTH_HOME: home, THOTH_ENV: 'qa'}});
    expect(run.code).toBe(3);
    expect(run.stdout).toContain('problems:\n  - THOTH_ENV from THOTH_ENV: must be one of dev, staging, prod (got "qa")');
    const json = await runThoth(['config', 'show', '--json'], {env: {THOTH_HOME: home, THOTH_ENV: 'qa'}});
    expect(parseEnvelope(json.stdout).status).toBe(3);
  });

  it('--thoth-home picks the profile directory', async () => {
    const home = join(await tempDir(), 'other');
    const run = await runThoth(['config', 'show', '--json', '--thoth-home', home], {env: {}});
    expect(parseEnvelope<SettingsReport>(run.stdout).result!.profileDir).toBe(home);
  });
});
