import {mkdir, readFile, writeFile, copyFile} from 'node:fs/promises';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {appSpecificId, THOTH_APP_ID} from '../../src/fleet/identity-derive.js';
import {isPlaceholderId, machineIdBytes, parseIoregPlatformUuid} from '../../src/fleet/identity-parsers.js';
import {resolveEndpointIdentity} from '../../src/fleet/identity.js';
import {resolveSettings} from '../../src/settings/resolve.js';
import type {ManagedPreferences} from '../../src/settings/managed.js';
import {REPO_ROOT} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';

const FIXTURES = join(REPO_ROOT, 'fixtures', 'identity');
const fixture = (name: string) => readFile(join(FIXTURES, name), 'utf8');

async function settingsWith(env: Record<string, string> = {}, managed: Record<string, unknown> = {}) {
  const home = await tempDir();
  return resolveSettings({
    env,
    home,
    platform: 'linux',
    readManagedPreferences: async (): Promise<ManagedPreferences> => ({
      entries: new Map(
        Object.entries(managed).map(([key, value]) => [key, {value, origin: '/Library/Managed Preferences/io.thoth.agent.plist'}]),
      ),
      problems: [],
    }),
  });
}

describe('app-specific derivation (sd_id128_get_machine_app_specific)', () => {
  it('matches systemd’s own test vector', () => {
    // systemd src/test/test-id128.c: machine 51df0b4b…, app f03daaeb… → 1dee5954…
    const id = appSpecificId(
      Buffer.from('51df0b4bc3b04c9780e299b98ca373b8', 'hex'),
      Buffer.from('f03daaeb1c334b43a732172944bf772e', 'hex'),
    );
    expect(id).toBe('1dee5954-e75c-4d6f-b96c-c6c04ca18a86');
  });

  it('does not reveal the machine id and differs per application', () => {
    const machine = Buffer.from('81895B8D9EF94EBBB5DEB00069CF53F0', 'hex');
    const ours = appSpecificId(machine);
    expect(ours.replaceAll('-', '')).not.toContain(machine.toString('hex'));
    expect(appSpecificId(machine, Buffer.alloc(16, 1))).not.toBe(ours);
    expect(THOTH_APP_ID).toHaveLength(16);
    expect(ours).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('parsers on captured outputs', () => {
  it('reads IOPlatformUUID from real ioreg outputs (Apple silicon, terminal copy with cut lines)', async () => {
    expect(parseIoregPlatformUuid(await fixture('ioreg-macbookpro18-1.txt'))).toBe('81895B8D-9EF9-4EBB-B5DE-B00069CF53F0');
    expect(parseIoregPlatformUuid(await fixture('ioreg-macbookpro17-1-terminal.txt'))).toBe('1AB2345C-03E4-57D4-A375-1234D48DE123');
    expect(parseIoregPlatformUuid("wasn't expecting this")).toBeUndefined();
  });

  it('extracts the anonymised Intel value, which is then refused as not a UUID', async () => {
    const raw = parseIoregPlatformUuid(await fixture('ioreg-macbookpro12-1-anonymised.txt'));
    expect(raw).toBe('A3344D1DD-1234-22A1-B123-11AB1C11D111');
    expect(machineIdBytes(raw!)).toBeUndefined();
  });

  it('accepts UUIDs with or without dashes and braces, and 32-hex machine ids', () => {
    expect(machineIdBytes('{9C1F5B7E-3A2D-4C8E-B1F0-6D2A4E8C0B57}')?.toString('hex')).toBe('9c1f5b7e3a2d4c8eb1f06d2a4e8c0b57');
    expect(machineIdBytes('51df0b4bc3b04c9780e299b98ca373b8')?.toString('hex')).toBe('51df0b4bc3b04c9780e299b98ca373b8');
    expect(machineIdBytes('uninitialized')).toBeUndefined();
  });

  it.each([
    '00000000-0000-0000-0000-000000000000',
    '03000200-0400-0500-0006-000700080009',
    '03020100-0504-0706-0809-0A0B0C0D0E0F',
    '10000000-0000-8000-0040-000000000000',
    'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF',
  ])('knows %s is a placeholder', (value) => {
    expect(isPlaceholderId(machineIdBytes(value)!)).toBe(true);
  });
});

describe('resolution order (as documented)', () => {
  it('THOTH_ENDPOINT_ID overrides every other source', async () => {
    const identity = await resolveEndpointIdentity({
      settings: await settingsWith({THOTH_ENDPOINT_ID: 'ep-1', INTUNE_DEVICE_ID: 'intune-1', JAMF_COMPUTER_ID: '7'}),
      platform: 'linux',
    });
    expect(identity).toMatchObject({endpointId: 'ep-1', source: 'endpoint-id', detail: 'env: THOTH_ENDPOINT_ID', derived: false});
  });

  it('then Intune (either variable), then Jamf', async () => {
    expect(
      await resolveEndpointIdentity({settings: await settingsWith({INTUNE_DEVICE_ID: 'i-1', THOTH_JAMF_COMPUTER_ID: '7'})}),
    ).toMatchObject({endpointId: 'i-1', source: 'intune', detail: 'env: INTUNE_DEVICE_ID'});
    expect(await resolveEndpointIdentity({settings: await settingsWith({JAMF_COMPUTER_ID: '7'})})).toMatchObject({
      endpointId: '7',
      source: 'jamf',
    });
  });

  it('takes the Jamf computer ID that Jamf delivered as jssID in thoth’s managed preferences', async () => {
    const identity = await resolveEndpointIdentity({settings: await settingsWith({}, {jssID: '1042'})});
    expect(identity).toMatchObject({
      endpointId: '1042',
      source: 'jamf',
      detail: 'managed: /Library/Managed Preferences/io.thoth.agent.plist (jssID)',
    });
  });

  it('macOS: derives the id from IOPlatformUUID, never publishing it, running ioreg by absolute path without a shell', async () => {
    const output = await fixture('ioreg-macbookpro18-1.txt');
    const calls: string[][] = [];
    const identity = await resolveEndpointIdentity({
      settings: await settingsWith(),
      platform: 'darwin',
      runCommand: async (file, args) => {
        calls.push([file, ...args]);
        return {code: 0, stdout: output, stderr: ''};
      },
    });
    expect(calls).toEqual([['/usr/sbin/ioreg', '-rd1', '-c', 'IOPlatformExpertDevice']]);
    expect(identity.endpointId).toBe(appSpecificId(machineIdBytes('81895B8D-9EF9-4EBB-B5DE-B00069CF53F0')!));
    expect(identity).toMatchObject({source: 'machine-id', detail: 'IOPlatformUUID (ioreg)', derived: true});
    expect(JSON.stringify(identity).toUpperCase()).not.toContain('81895B8D');
  });

  it('macOS: refuses a malformed or placeholder UUID and falls back to the hostname, saying why', async () => {
    const anonymised = await fixture('ioreg-macbookpro12-1-anonymised.txt');
    const identity = await resolveEndpointIdentity({
      settings: await settingsWith(),
      platform: 'darwin',
      runCommand: async () => ({code: 0, stdout: anonymised, stderr: ''}),
      env: {},
      hostname: () => 'alice-mbp',
    });
    expect(identity).toMatchObject({endpointId: 'alice-mbp', source: 'hostname', detail: 'hostname'});
    expect(identity.skipped).toEqual([{source: 'machine-id', detail: 'IOPlatformUUID (ioreg)', reason: 'not a UUID or 32-hex id'}]);
    const placeholder = (await fixture('ioreg-macbookpro18-1.txt')).replace(
      '81895B8D-9EF9-4EBB-B5DE-B00069CF53F0',
      '03000200-0400-0500-0006-000700080009',
    );
    const refused = await resolveEndpointIdentity({
      settings: await settingsWith(),
      platform: 'darwin',
      runCommand: async () => ({code: 0, stdout: placeholder, stderr: ''}),
      env: {HOSTNAME: 'vm-7'},
    });
    expect(refused).toMatchObject({endpointId: 'vm-7', source: 'hostname', detail: 'HOSTNAME'});
    expect(refused.skipped[0]!.reason).toMatch(/placeholder/);
  });

  it('macOS: survives ioreg being absent', async () => {
    const identity = await resolveEndpointIdentity({
      settings: await settingsWith(),
      platform: 'darwin',
      runCommand: async () => {
        throw Object.assign(new Error('spawn /usr/sbin/ioreg ENOENT'), {code: 'ENOENT'});
      },
      env: {},
      hostname: () => 'h',
    });
    expect(identity.source).toBe('hostname');
    expect(identity.skipped[0]!.reason).toBe('cannot run: ENOENT');
  });

  it('Windows: reads MachineGuid from the 64-bit view with reg.exe', async () => {
    const output = await fixture('reg-query-machineguid.txt');
    const calls: string[][] = [];
    const identity = await resolveEndpointIdentity({
      settings: await settingsWith(),
      platform: 'win32',
      env: {SystemRoot: 'C:\\WINDOWS'},
      runCommand: async (file, args) => {
        calls.push([file, ...args]);
        return {code: 0, stdout: output, stderr: ''};
      },
    });
    expect(calls).toEqual([
      ['C:\\WINDOWS\\System32\\reg.exe', 'query', 'HKLM\\SOFTWARE\\Microsoft\\Cryptography', '/v', 'MachineGuid', '/reg:64'],
    ]);
    expect(identity.endpointId).toBe(appSpecificId(machineIdBytes('9c1f5b7e-3a2d-4c8e-b1f0-6d2a4e8c0b57')!));
    expect(identity.derived).toBe(true);
  });

  it('Windows: a missing value (exit 1) falls back to the hostname', async () => {
    const stderr = await fixture('reg-query-not-found.stderr.txt');
    const identity = await resolveEndpointIdentity({
      settings: await settingsWith(),
      platform: 'win32',
      env: {},
      hostname: () => 'DESKTOP-1',
      runCommand: async () => ({code: 1, stdout: '', stderr}),
    });
    expect(identity).toMatchObject({endpointId: 'DESKTOP-1', source: 'hostname'});
    expect(identity.skipped[0]!.reason).toBe('no value');
  });

  it('Linux: /etc/machine-id, then /var/lib/dbus/machine-id, under an injected root', async () => {
    const root = await tempDir();
    await mkdir(join(root, 'etc'), {recursive: true});
    await mkdir(join(root, 'var', 'lib', 'dbus'), {recursive: true});
    await copyFile(join(FIXTURES, 'etc-machine-id'), join(root, 'var', 'lib', 'dbus', 'machine-id'));
    const dbus = await resolveEndpointIdentity({settings: await settingsWith(), platform: 'linux', fsRoot: root});
    expect(dbus).toMatchObject({
      endpointId: appSpecificId(Buffer.from('51df0b4bc3b04c9780e299b98ca373b8', 'hex')),
      detail: '/var/lib/dbus/machine-id',
    });
    expect(dbus.skipped).toEqual([{source: 'machine-id', detail: '/etc/machine-id', reason: 'does not exist'}]);

    await writeFile(join(root, 'etc', 'machine-id'), 'uninitialized\n');
    const firstBoot = await resolveEndpointIdentity({settings: await settingsWith(), platform: 'linux', fsRoot: root});
    expect(firstBoot.detail).toBe('/var/lib/dbus/machine-id');
    expect(firstBoot.skipped[0]!.reason).toMatch(/not initialised/);

    await writeFile(join(root, 'etc', 'machine-id'), '0123456789abcdef0123456789abcdef\n');
    const etc = await resolveEndpointIdentity({settings: await settingsWith(), platform: 'linux', fsRoot: root});
    expect(etc).toMatchObject({
      endpointId: appSpecificId(Buffer.from('0123456789abcdef0123456789abcdef', 'hex')),
      detail: '/etc/machine-id',
      skipped: [],
    });
  });
});
