import {copyFile, mkdir, readFile, writeFile} from 'node:fs/promises';
import {join} from 'node:path';

import {describe, expect, it} from 'vitest';

import {changeConfigs} from '../../src/client-config/engine.js';
import {createConfigHost} from '../../src/client-config/host.js';
import {resolveWrapSettings, type SettingsIo} from '../../src/client-config/settings.js';
import {statusWithSettings} from '../../src/client-config/status.js';
import {storeApiKey} from '../../src/profile/api-key.js';
import {macManagedPreferencesReader} from '../../src/settings/managed.js';
import {REPO_ROOT, parseEnvelope, runThoth} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';
import {WINDOWS, machine} from './layout.js';

const MANAGED = join(REPO_ROOT, 'fixtures', 'managed-prefs');

/** A real home (Linux layout) with Claude Desktop's config, and the macOS device-scope fixture plist as managed preferences. */
async function setup(options: {env?: Record<string, string>; managed?: boolean} = {}) {
  const home = await tempDir();
  const config = join(home, '.config', 'Claude', 'claude_desktop_config.json');
  await mkdir(join(config, '..'), {recursive: true});
  await writeFile(
    config,
    JSON.stringify({mcpServers: {github: {command: 'npx', args: ['-y', '@modelcontextprotocol/server-github']}}}, null, 2),
  );
  const env: NodeJS.ProcessEnv = {HOME: home, THOTH_HOME: join(home, '.thoth'), ...options.env};
  const host = createConfigHost({env, home, cwd: home, platform: 'linux'});
  const io: SettingsIo = {};
  if (options.managed !== false) {
    const root = await tempDir();
    await mkdir(join(root, 'Library', 'Managed Preferences'), {recursive: true});
    await copyFile(join(MANAGED, 'io.thoth.agent.plist'), join(root, 'Library', 'Managed Preferences', 'io.thoth.agent.plist'));
    io.readManagedPreferences = macManagedPreferencesReader({root});
  }
  return {home, config, env, host, io};
}

describe('wrap-config settings come from the one settings resolver', () => {
  it('takes tenant and mode from managed preferences (fixture plist: acme, progressive)', async () => {
    const s = await setup();
    const {settings} = await resolveWrapSettings({}, s.host, s.io);
    expect([settings.tenantId, settings.enforcementMode]).toEqual(['acme', 'progressive']);
  });

  it('lets the flags win over every layer, and the environment over managed preferences, except a managed mode', async () => {
    const s = await setup({env: {THOTH_TENANT_ID: 'globex'}});
    const {settings, warnings} = await resolveWrapSettings({enforcementMode: 'block'}, s.host, s.io);
    // The mode is a managedWins setting: thoth run would refuse another one, so wrap-config writes the managed mode.
    expect([settings.tenantId, settings.enforcementMode]).toEqual(['globex', 'progressive']);
    expect(warnings).toEqual([
      expect.stringMatching(
        /^--enforcement-mode is ignored: managed preferences set THOTH_ENFORCEMENT_MODE \(.*io\.thoth\.agent\.plist \(THOTH_ENFORCEMENT_MODE\)\)/,
      ),
    ]);
    const flagged = await resolveWrapSettings({tenantId: 'initech'}, s.host, s.io);
    expect(flagged.settings.tenantId).toBe('initech');
    expect(flagged.warnings).toEqual([]);
  });

  it('reads ~/.thoth/settings.json, and the profile directory of --thoth-home', async () => {
    const s = await setup({managed: false});
    const other = await tempDir();
    await writeFile(join(other, 'settings.json'), '{"THOTH_TENANT_ID": "umbrella", "THOTH_ENFORCEMENT_MODE": "observe"}');
    await writeFile(join(other, 'intent_map.json'), '{"github": "code_review"}');
    expect((await resolveWrapSettings({}, s.host, s.io)).settings.tenantId).toBeUndefined();
    const {settings} = await resolveWrapSettings({profileDir: other}, s.host, s.io);
    expect(settings).toMatchObject({tenantId: 'umbrella', enforcementMode: 'observe', intentMap: {github: 'code_review'}});
  });

  it('refuses an invalid tenant or mode instead of writing it into every entry', async () => {
    const s = await setup({managed: false});
    await expect(resolveWrapSettings({tenantId: 'Not A Label'}, s.host, s.io)).rejects.toMatchObject({
      code: 'SETTINGS_INVALID',
      exitCode: 2,
      message:
        'invalid setting: THOTH_TENANT_ID from --tenant-id: must be a DNS label: letters, digits and inner hyphens, at most 63 characters (got "not a label")',
    });
    const bad = await setup({managed: false, env: {THOTH_ENFORCEMENT_MODE: 'lenient'}});
    await expect(resolveWrapSettings({}, bad.host, bad.io)).rejects.toMatchObject({code: 'SETTINGS_INVALID', exitCode: 3});
    // A flag wins before the lower layer is even read.
    expect((await resolveWrapSettings({enforcementMode: 'block'}, bad.host, bad.io)).settings.enforcementMode).toBe('block');
  });

  it('--embed-api-key: the key the resolver finds (explicit key file > THOTH_API_KEY > profile key file), never otherwise', async () => {
    const s = await setup({managed: false, env: {THOTH_API_KEY: 'thk_from_env_123'}});
    await storeApiKey(join(s.home, '.thoth', 'proxy_api_key.json'), 'thk_from_profile_456');
    expect((await resolveWrapSettings({}, s.host, s.io)).settings.apiKey).toBeUndefined();
    expect(await resolveWrapSettings({embedApiKey: true}, s.host, s.io)).toMatchObject({
      settings: {apiKey: 'thk_from_env_123'},
      apiKeySource: 'THOTH_API_KEY',
    });

    const explicit = join(s.home, 'team-key.json');
    await storeApiKey(explicit, 'thk_from_file_789');
    const withFile = await setup({managed: false, env: {THOTH_API_KEY: 'thk_from_env_123', THOTH_API_KEY_FILE: explicit}});
    expect(await resolveWrapSettings({embedApiKey: true}, withFile.host, withFile.io)).toMatchObject({
      settings: {apiKey: 'thk_from_file_789'},
      apiKeySource: `key file ${explicit}`,
    });

    const none = await setup({managed: false, env: {THOTH_API_KEY_FILE: join(s.home, 'missing.json')}});
    await expect(resolveWrapSettings({embedApiKey: true}, none.host, none.io)).rejects.toMatchObject({
      code: 'API_KEY_MISSING',
      exitCode: 4,
    });
    await expect(resolveWrapSettings({embedApiKey: true}, none.host, none.io)).rejects.toThrow(/missing\.json does not exist/);
  });
});

describe('the Intune remediation on Windows: `thoth wrap-config --all` with the policy key only', () => {
  it('writes the tenant and mode of HKLM\\SOFTWARE\\Policies\\Thoth (reg query fixture), and status agrees', async () => {
    const m = await machine(WINDOWS);
    const hklm = await readFile(join(MANAGED, 'reg-query-policies-hklm.txt'), 'utf8');
    let registryMode = 'block';
    const io: SettingsIo = {
      runCommand: async (_file, args) =>
        args[1] === 'HKLM\\SOFTWARE\\Policies\\Thoth'
          ? {code: 0, stdout: hklm.replace('REG_SZ    block', `REG_SZ    ${registryMode}`), stderr: ''}
          : {code: 1, stdout: '', stderr: 'ERROR: The system was unable to find the specified registry key or value.\r\n'},
    };
    const thoth = 'C:\\Program Files\\thoth\\thoth.cmd';
    await m.write(thoth, '@echo off\r\n');
    const config = 'C:\\Users\\jane\\AppData\\Roaming\\Claude\\claude_desktop_config.json';
    await m.write(config, '{"mcpServers": {"github": {"command": "npx.cmd", "args": ["-y", "@modelcontextprotocol/server-github"]}}}');

    const before = await statusWithSettings({flags: {}, host: m.host, settingsIo: io});
    expect(before.report.counts).toEqual({governed: 0, notGoverned: 1, drift: 0, ungovernable: 0, remote: 0, disabled: 0});

    const {settings} = await resolveWrapSettings({thothBin: thoth}, m.host, io);
    const result = await changeConfigs({action: 'wrap', host: m.host, settings, all: true});
    expect(result.changed).toBe(true);
    const entry = (JSON.parse(await m.read(config)) as {mcpServers: {github: {command: string; args: string[]}}}).mcpServers.github;
    expect(entry).toEqual({
      command: thoth,
      args: [
        'run',
        '--agent-id',
        'github',
        '--tenant-id',
        'acme',
        '--enforcement-mode',
        'block',
        '--',
        'npx.cmd',
        '-y',
        '@modelcontextprotocol/server-github',
      ],
    });

    // Entries that run an executable given to wrap-config --thoth-bin are this installation only when status is told the same.
    const undeclared = await statusWithSettings({flags: {}, host: m.host, settingsIo: io});
    expect(undeclared.report.clients[0]!.servers[0]!.problems).toEqual([
      expect.stringMatching(/^runs C:\\Program Files\\thoth\\thoth\.cmd, not this installation \(/),
    ]);
    const after = await statusWithSettings({flags: {thothBin: [thoth]}, host: m.host, settingsIo: io});
    expect([after.report.allGoverned, after.warnings]).toEqual([true, []]);
    // IT changes the mode in the policy key: the detection sees drift until the remediation runs again.
    registryMode = 'observe';
    const drift = await statusWithSettings({flags: {thothBin: [thoth]}, host: m.host, settingsIo: io});
    expect(drift.report.clients[0]!.servers[0]).toMatchObject({
      state: 'drift',
      problems: ['enforcement mode is "block", expected "observe"'],
    });
    const again = await resolveWrapSettings({thothBin: thoth}, m.host, io);
    await changeConfigs({action: 'wrap', host: m.host, settings: again.settings, all: true});
    expect((await statusWithSettings({flags: {thothBin: [thoth]}, host: m.host, settingsIo: io})).report.allGoverned).toBe(true);
  });
});

describe('status: the expected tenant and mode come from the resolver', () => {
  it('flags win; an invalid lower layer is a warning, an invalid flag a usage error', async () => {
    const s = await setup({managed: false});
    await mkdir(s.env['THOTH_HOME']!, {recursive: true});
    await writeFile(join(s.env['THOTH_HOME']!, 'settings.json'), '{"THOTH_ENFORCEMENT_MODE": "progressive"}');
    const {settings} = await resolveWrapSettings({enforcementMode: 'block'}, s.host, s.io);
    await changeConfigs({action: 'wrap', host: s.host, settings});
    expect((await statusWithSettings({flags: {}, host: s.host, settingsIo: s.io})).report.counts).toEqual({
      governed: 0,
      notGoverned: 0,
      drift: 1,
      ungovernable: 0,
      remote: 0,
      disabled: 0,
    });

    const badEnv = {...s.env, THOTH_ENFORCEMENT_MODE: 'lenient'};
    const host = createConfigHost({env: badEnv, home: s.home, cwd: s.home, platform: 'linux'});
    const profileProgressive = await statusWithSettings({flags: {}, host, settingsIo: s.io});
    expect(profileProgressive.report.counts.drift).toBe(1);
    expect(profileProgressive.warnings).toEqual([
      'invalid setting ignored: THOTH_ENFORCEMENT_MODE from THOTH_ENFORCEMENT_MODE: must be one of progressive, step_up, block, observe (got "lenient")',
    ]);
    const flagged = await statusWithSettings({flags: {enforcementMode: 'block'}, host, settingsIo: s.io});
    expect(flagged.report.allGoverned).toBe(true);
    await expect(statusWithSettings({flags: {tenantId: 'acme corp'}, host, settingsIo: s.io})).rejects.toMatchObject({
      code: 'SETTINGS_INVALID',
      exitCode: 2,
    });
  });

  it('a managed mode wins over the flags of wrap-config and status, and the refused flag is reported', async () => {
    const s = await setup();
    const {settings} = await resolveWrapSettings({enforcementMode: 'block'}, s.host, s.io);
    await changeConfigs({action: 'wrap', host: s.host, settings});
    expect((await statusWithSettings({flags: {}, host: s.host, settingsIo: s.io})).report.counts).toEqual({
      governed: 1,
      notGoverned: 0,
      drift: 0,
      ungovernable: 0,
      remote: 0,
      disabled: 0,
    });
    const flagged = await statusWithSettings({flags: {enforcementMode: 'block'}, host: s.host, settingsIo: s.io});
    expect(flagged.report.allGoverned).toBe(true);
    expect(flagged.warnings).toEqual([
      expect.stringMatching(/^--enforcement-mode is ignored: managed preferences set THOTH_ENFORCEMENT_MODE/),
    ]);
  });
});

describe('the built CLI', () => {
  it('wrap-config writes THOTH_TENANT_ID (env) and THOTH_ENFORCEMENT_MODE (settings.json); its flags win; status agrees', async () => {
    const s = await setup({managed: false});
    const env = {HOME: s.home, THOTH_HOME: join(s.home, '.thoth'), THOTH_TENANT_ID: 'acme'};
    await mkdir(env.THOTH_HOME, {recursive: true});
    await writeFile(join(env.THOTH_HOME, 'settings.json'), '{"THOTH_ENFORCEMENT_MODE": "step_up"}');
    const wrap = await runThoth(['wrap-config', '--json'], {env});
    expect(wrap.code).toBe(0);
    const args = () =>
      readFile(s.config, 'utf8').then((text) => (JSON.parse(text) as {mcpServers: {github: {args: string[]}}}).mcpServers.github.args);
    expect((await args()).slice(1, 8)).toEqual(['run', '--agent-id', 'github', '--tenant-id', 'acme', '--enforcement-mode', 'step_up']);
    expect((await runThoth(['status'], {env})).code).toBe(0);

    const flagged = await runThoth(['wrap-config', '--enforcement-mode', 'block'], {env});
    expect(flagged.code).toBe(0);
    expect((await args()).slice(6, 8)).toEqual(['--enforcement-mode', 'block']);
    const drift = await runThoth(['status'], {env});
    expect(drift.code).toBe(11);
    expect(drift.stdout).toContain('drift: enforcement mode is "block", expected "step_up"');
    expect((await runThoth(['status', '--enforcement-mode', 'block'], {env})).code).toBe(0);
  });

  it('refuses an invalid tenant with a one-line error and leaves the file alone', async () => {
    const s = await setup({managed: false});
    const before = await readFile(s.config);
    const env = {HOME: s.home, THOTH_HOME: join(s.home, '.thoth')};
    const flag = await runThoth(['wrap-config', '--tenant-id', 'acme corp'], {env});
    expect(flag.code).toBe(2);
    expect(flag.stderr.split('\n')[0]).toBe(
      'thoth: error: invalid setting: THOTH_TENANT_ID from --tenant-id: must be a DNS label: letters, digits and inner hyphens, at most 63 characters (got "acme corp")',
    );
    const fromEnv = await runThoth(['wrap-config', '--json'], {env: {...env, THOTH_TENANT_ID: 'acme_corp'}});
    expect(fromEnv.code).toBe(3);
    expect(parseEnvelope(fromEnv.stdout).error?.code).toBe('SETTINGS_INVALID');
    expect(await readFile(s.config)).toEqual(before);
  });
});
