import {mkdir, readFile, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {parsePlist} from '../../src/settings/managed.js';
import {buildMobileconfig, nameUuid} from '../../src/settings/mobileconfig.js';
import {resolveSettings} from '../../src/settings/resolve.js';
import {parseEnvelope, runThoth} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';

interface Profile {
  PayloadType: string;
  PayloadScope: string;
  PayloadIdentifier: string;
  PayloadUUID: string;
  PayloadVersion: number;
  PayloadContent: {PayloadType: string; PayloadUUID: string; PayloadIdentifier: string; PayloadContent: Record<string, {Forced: {mcx_preference_settings: Record<string, unknown>}[]}>}[];
}

describe('thoth mdm profile', () => {
  it('writes a Configuration profile with one ManagedClient payload for io.thoth.agent, typed values and jssID=$JSSID', async () => {
    const dir = await tempDir();
    const output = join(dir, 'thoth.mobileconfig');
    const run = await runThoth(
      ['mdm', 'profile', '--tenant-id', 'acme', '--enforcement-mode', 'block', '--min-version', '0.2.0', '--set', 'THOTH_REQUIRE_NON_ROOT=true', '--set', 'THOTH_ENDPOINT_CHECKIN_INTERVAL_SEC=300', '--organization', 'Acme IT', '--output', output],
      {env: {THOTH_HOME: join(dir, 'p')}},
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`wrote ${output} (io.thoth.agent.settings, domain io.thoth.agent, 7 keys)\n`);
    const profile = (await parsePlist(await readFile(output))) as Profile;
    expect(profile).toMatchObject({PayloadType: 'Configuration', PayloadScope: 'System', PayloadIdentifier: 'io.thoth.agent.settings', PayloadVersion: 1, PayloadOrganization: 'Acme IT'});
    expect(profile.PayloadContent).toHaveLength(1);
    const payload = profile.PayloadContent[0]!;
    expect(payload.PayloadType).toBe('com.apple.ManagedClient.preferences');
    expect(Object.keys(payload.PayloadContent)).toEqual(['io.thoth.agent']);
    expect(payload.PayloadContent['io.thoth.agent']!.Forced[0]!.mcx_preference_settings).toEqual({
      THOTH_TENANT_ID: 'acme',
      THOTH_ENFORCEMENT_MODE: 'block',
      THOTH_MIN_VERSION: '0.2.0',
      THOTH_ENROLLMENT_SOURCE: 'jamf',
      THOTH_REQUIRE_NON_ROOT: true,
      THOTH_ENDPOINT_CHECKIN_INTERVAL_SEC: 300,
      jssID: '$JSSID',
    });
    expect(profile.PayloadUUID).toBe(nameUuid('io.thoth.agent.settings'));
    expect(profile.PayloadUUID).toMatch(/^[0-9A-F]{8}-[0-9A-F]{4}-5[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/);
    expect(payload.PayloadUUID).not.toBe(profile.PayloadUUID);
  });

  it('round trip: what the profile forces, once delivered by macOS (jssID substituted), is what thoth resolves', async () => {
    const built = await buildMobileconfig({values: [['THOTH_TENANT_ID', 'acme'], ['THOTH_FLEET_ID', 'laptops'], ['THOTH_REQUIRE_NON_ROOT', 'yes']]});
    const profile = (await parsePlist(Buffer.from(built.xml))) as Profile;
    const forced = {...profile.PayloadContent[0]!.PayloadContent['io.thoth.agent']!.Forced[0]!.mcx_preference_settings, jssID: '2217'};
    const root = await tempDir();
    await mkdir(join(root, 'Library', 'Managed Preferences'), {recursive: true});
    const {build} = await import('plist');
    await writeFile(join(root, 'Library', 'Managed Preferences', 'io.thoth.agent.plist'), build(forced as never));
    const settings = await resolveSettings({platform: 'darwin', fsRoot: root, env: {}, home: await tempDir(), username: 'alice'});
    expect(settings.problems).toEqual([]);
    expect(settings.values).toMatchObject({tenantId: 'acme', fleetId: 'laptops', requireNonRoot: true, jamfComputerId: '2217', enrollmentSource: 'jamf'});
  });

  it('is byte-identical when generated twice (stable UUIDs), and prints to stdout without --output', async () => {
    const home = join(await tempDir(), 'p');
    const first = await runThoth(['mdm', 'profile', '--tenant-id', 'acme'], {env: {THOTH_HOME: home}});
    const second = await runThoth(['mdm', 'profile', '--tenant-id', 'acme'], {env: {THOTH_HOME: home}});
    expect(first.stdout).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<!DOCTYPE plist/);
    expect(second.stdout).toBe(first.stdout);
    const json = await runThoth(['mdm', 'profile', '--tenant-id', 'acme', '--no-jssid', '--json'], {env: {THOTH_HOME: home}});
    const result = parseEnvelope<{values: Record<string, unknown>; xml: string; output: null}>(json.stdout).result!;
    expect(result.values).toEqual({THOTH_TENANT_ID: 'acme', THOTH_ENROLLMENT_SOURCE: 'jamf'});
    expect(result.xml).not.toContain('jssID');
  });

  it.each([
    [['--set', 'THOTH_API_KEY=sk-live-1'], /THOTH_API_KEY is a secret and never goes into a profile/],
    [['--set', 'THOTH_TENNANT=acme'], /unknown setting THOTH_TENNANT/],
    [['--env', 'production'], /THOTH_ENV must be one of dev, staging, prod/],
    [['--set', 'novalue'], /--set expects KEY=VALUE/],
  ])('refuses %j with a usage error', async (args, message) => {
    const run = await runThoth(['mdm', 'profile', ...args], {env: {THOTH_HOME: join(await tempDir(), 'p')}});
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stdout).toBe('');
    expect(run.stderr).not.toContain('sk-live-1');
  });
});
