import {chmod, mkdir, readFile, symlink, writeFile} from 'node:fs/promises';
import {existsSync} from 'node:fs';
import {join} from 'node:path';
import {beforeAll, describe, expect, it} from 'vitest';

import {release, run as runProgram, skipReason} from '../installers/release-helper.js';
import {fakeMac, type FakeMac} from './harness.js';

/** Jamf passes $1 mount point, $2 computer name, $3 user name, then the admin's $4-$11. */
const jamfArgs = (...params: string[]) => ['/', 'ALICE-MBP', '', ...params];
const ALL_CLIENTS = ['claude-desktop', 'claude-code', 'cursor', 'vscode', 'windsurf'];

/** The log lines of thoth's own runs (`thoth[user home] args`). */
const thothCalls = (log: string[]) => log.filter((line) => line.startsWith('thoth['));

function wrapCalls(mac: FakeMac, flags: string): string[] {
  const home = join(mac.homes, 'erikberglund');
  return ALL_CLIENTS.map((client) =>
    client === 'claude-code'
      ? `thoth[erikberglund ${home}] wrap-config --client claude-code ${home}/.claude.json${flags}`
      : `thoth[erikberglund ${home}] wrap-config --client ${client}${flags}`,
  );
}

describe('mdm/jamf/thoth-policy.sh (stub thoth)', () => {
  it('verifies thoth as the console user, wraps each client with launchctl asuser + sudo -u, records the state and updates inventory', async () => {
    const mac = await fakeMac();
    await mac.installStub();
    const run = await mac.run('jamf/thoth-policy.sh', jamfArgs('acme', 'block', '0.2.0', 'prod', 'laptops', 'install-thoth', mac.thothPath, 'all'));
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const home = join(mac.homes, 'erikberglund');
    expect(run.log).toContain('scutil show State:/Users/ConsoleUser');
    expect(run.log).toContain(`launchctl asuser 501 sudo -u erikberglund -H ${mac.thothPath} health --format jamf-ea --field meets-min-version --min-version 0.2.0`);
    const flags = ' --tenant-id acme --enforcement-mode block --env THOTH_ENV=prod --env THOTH_FLEET_ID=laptops';
    expect(thothCalls(run.log)).toEqual([
      `thoth[erikberglund ${home}] health --format jamf-ea --field meets-min-version --min-version 0.2.0`,
      ...wrapCalls(mac, flags),
      `thoth[erikberglund ${home}] health --format jamf-ea --field version`,
      `thoth[erikberglund ${home}] health --format jamf-ea --field governed`,
      `thoth[erikberglund ${home}] health --format jamf-ea --field status`,
    ]);
    // thoth never ran as root: every call went through launchctl asuser + sudo -u.
    expect(run.log.filter((line) => line.startsWith('launchctl asuser 501 sudo -u erikberglund -H ')).length).toBe(thothCalls(run.log).length);
    expect(await readFile(mac.stateFile, 'utf8')).toBe('user=erikberglund\nversion=0.2.0\ngoverned=true\nstatus=healthy\n');
    expect(run.log.at(-1)).toBe('jamf recon');
    expect(run.stdout).toContain('thoth-policy: console user: erikberglund (uid 501)\n');
    expect(run.stdout).toContain('thoth-policy: claude-desktop: governed\n');
    const logFile = await readFile(join(mac.root, 'Library', 'Logs', 'thoth', 'jamf-policy.log'), 'utf8');
    expect(logFile).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ thoth-policy: console user: erikberglund \(uid 501\)$/m);
  });

  it('calls jamf by its absolute path: it is not on the minimal PATH Jamf runs scripts with', async () => {
    const mac = await fakeMac();
    const run = await mac.run('jamf/thoth-policy.sh', jamfArgs('acme', 'block', '', 'prod', '', 'install-thoth'), {FAKE_JAMF_INSTALLS: mac.thothPath});
    expect(run.log).toContain('jamf policy -event install-thoth');
    expect(run.stdout).toContain('thoth-policy: installing thoth: jamf policy -event install-thoth\n');
    expect(run.code).toBe(0);
    expect(thothCalls(run.log).some((line) => line.includes('] wrap-config --client claude-desktop --tenant-id acme'))).toBe(true);
  });

  it('updates inventory only when the state changed', async () => {
    const mac = await fakeMac();
    await mac.installStub();
    const first = await mac.run('jamf/thoth-policy.sh', jamfArgs('acme'));
    expect(first.log).toContain('jamf recon');
    const same = await mac.run('jamf/thoth-policy.sh', jamfArgs('acme'));
    expect(same.code).toBe(0);
    expect(same.log.some((line) => line.startsWith('jamf'))).toBe(false);
    const changed = await mac.run('jamf/thoth-policy.sh', jamfArgs('acme'), {STUB_GOVERNED: 'false'});
    expect(changed.log).toContain('jamf recon');
    expect(await readFile(mac.stateFile, 'utf8')).toContain('governed=false\n');
  });

  it('leaves to the configuration profile what it sets: no parameter is written into the entries then (no drift against the profile)', async () => {
    const mac = await fakeMac();
    await mac.installStub();
    await mac.setProfile({THOTH_TENANT_ID: 'acme', THOTH_ENFORCEMENT_MODE: 'block'});
    await mac.setProfile({THOTH_ENV: 'staging'}, 'erikberglund');
    // Parameter 5 used to default to progressive and won over the profile's block in every entry.
    const run = await mac.run('jamf/thoth-policy.sh', jamfArgs('', 'progressive', '', 'prod', 'laptops'));
    expect(run.code).toBe(0);
    expect(wrapCalls(mac, ' --env THOTH_FLEET_ID=laptops').every((call) => thothCalls(run.log).includes(call))).toBe(true);
    expect(run.log.join('\n')).not.toMatch(/--tenant-id|--enforcement-mode|THOTH_ENV=/);
    expect(run.stdout).toContain('thoth-policy: parameter 5 (enforcement mode) "progressive" ignored: the configuration profile sets THOTH_ENFORCEMENT_MODE\n');
    expect(run.stdout).toContain('thoth-policy: parameter 7 (environment) "prod" ignored: the configuration profile sets THOTH_ENV\n');
    expect(run.log).toContain(`defaults read ${mac.root}/Library/Managed Preferences/erikberglund/io.thoth.agent THOTH_ENV`);
  });

  it('empty parameters add no flags (the mode is thoth\'s default, not progressive); one client with parameter 11', async () => {
    const mac = await fakeMac();
    await mac.installStub();
    const run = await mac.run('jamf/thoth-policy.sh', jamfArgs('acme', '', '', '', '', '', '', 'cursor'));
    expect(run.code).toBe(0);
    const home = join(mac.homes, 'erikberglund');
    expect(thothCalls(run.log).filter((line) => line.includes('wrap-config'))).toEqual([`thoth[erikberglund ${home}] wrap-config --client cursor --tenant-id acme`]);
  });

  it('wraps Claude Code\'s root-owned managed-mcp.json as root, and the user\'s run leaves it alone', async () => {
    const mac = await fakeMac();
    await mac.installStub();
    await mkdir(join(mac.root, 'Library', 'Application Support', 'ClaudeCode'), {recursive: true, mode: 0o755});
    await writeFile(mac.claudeManaged, '{"mcpServers": {}}\n', {mode: 0o644});
    const run = await mac.run('jamf/thoth-policy.sh', jamfArgs('acme'));
    expect(run.code).toBe(0);
    const calls = thothCalls(run.log);
    expect(calls[0]).toBe(`thoth[root ${mac.root}/var/root] wrap-config --client claude-code ${mac.claudeManaged} --tenant-id acme`);
    expect(calls.slice(1).every((line) => line.startsWith('thoth[erikberglund '))).toBe(true);
    expect(calls.filter((line) => line.includes('managed-mcp.json')).length).toBe(1);
    expect(run.stdout).toContain('thoth-policy: managed-mcp.json (as root): exit 0\n');
  });

  it('refuses to write a managed-mcp.json others could redirect (writable by others, or a symlink): exit 3, the rest still governed', async () => {
    for (const unsafe of ['world-writable', 'symlink'] as const) {
      const mac = await fakeMac();
      await mac.installStub();
      const dir = join(mac.root, 'Library', 'Application Support', 'ClaudeCode');
      await mkdir(dir, {recursive: true});
      if (unsafe === 'world-writable') {
        await writeFile(mac.claudeManaged, '{}\n');
        await chmod(mac.claudeManaged, 0o666);
      } else {
        await writeFile(join(mac.root, 'elsewhere.json'), '{}\n');
        await symlink(join(mac.root, 'elsewhere.json'), mac.claudeManaged);
      }
      const run = await mac.run('jamf/thoth-policy.sh', jamfArgs('acme'));
      expect(run.code, unsafe).toBe(3);
      expect(thothCalls(run.log).some((line) => line.includes('managed-mcp.json')), unsafe).toBe(false);
      expect(run.stdout).toContain('managed-mcp.json left as it is');
      expect(thothCalls(run.log).filter((line) => line.includes('wrap-config')).length).toBe(ALL_CLIENTS.length);
    }
  });

  it('at the login window: only the privileged step, and exit 0', async () => {
    for (const fixture of ['scutil-loginwindow.txt', 'scutil-no-key.txt']) {
      const mac = await fakeMac(fixture);
      await mac.installStub();
      const run = await mac.run('jamf/thoth-policy.sh', jamfArgs('acme'));
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('thoth-policy: nobody is logged in: nothing more to govern now (this policy runs again at login and check-in)\n');
      expect(thothCalls(run.log)).toEqual([]);
      expect(existsSync(mac.stateFile)).toBe(false);
    }
  });

  it.each([
    [['acme', 'strict'], 'parameter 5 (enforcement mode) must be progressive, step_up, block or observe, not "strict"'],
    [['acme', 'block', '', 'production'], 'parameter 7 (environment) must be prod, staging or dev, not "production"'],
    [['acme', 'block', '', 'prod', '', '', '/usr/local/bin/thoth', 'zed'], 'parameter 11 (clients) is not a client thoth knows: "zed"'],
    [['acme', 'block', '', 'prod', '', '', 'thoth'], 'parameter 10 (thoth path) must be absolute, not "thoth"'],
  ])('exits 1 on bad parameters %j, before running anything', async (params, message) => {
    const mac = await fakeMac();
    const run = await mac.run('jamf/thoth-policy.sh', jamfArgs(...params));
    expect(run.code).toBe(1);
    expect(run.stdout).toBe(`thoth-policy: error: ${message}\n`);
    expect(run.log).toEqual([]);
  });

  it('exits 1 without a tenant from either the profile or parameter 4', async () => {
    const mac = await fakeMac();
    await mac.installStub();
    const run = await mac.run('jamf/thoth-policy.sh', jamfArgs('', 'block'));
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('thoth-policy: error: no tenant: set THOTH_TENANT_ID in the configuration profile, or parameter 4\n');
    expect(thothCalls(run.log)).toEqual([]);
  });

  it('exits 2 when thoth is missing and there is no install trigger, or still too old afterwards', async () => {
    const missing = await fakeMac();
    const noTrigger = await missing.run('jamf/thoth-policy.sh', jamfArgs('acme', 'block'));
    expect(noTrigger.code).toBe(2);
    expect(noTrigger.stdout).toContain(`error: thoth is missing at ${missing.thothPath} or older than the minimum, and parameter 9 (install trigger) is empty`);

    const old = await fakeMac();
    await old.installStub();
    const tooOld = await old.run('jamf/thoth-policy.sh', jamfArgs('acme', 'block', '9.0.0', 'prod', '', 'install-thoth'), {STUB_MEETS_MIN: 'false'});
    expect(tooOld.code).toBe(2);
    expect(tooOld.log).toContain('jamf policy -event install-thoth');
    expect(tooOld.stdout).toContain('error: thoth is still missing');
    expect(tooOld.log.some((line) => line.includes('wrap-config'))).toBe(false);
  });

  it('exits 3 when wrap-config fails for a client, after wrapping the others; "no config" (4) is nothing to govern', async () => {
    const mac = await fakeMac();
    await mac.installStub();
    const failed = await mac.run('jamf/thoth-policy.sh', jamfArgs('acme'), {STUB_WRAP_FAILS: 'cursor'});
    expect(failed.code).toBe(3);
    expect(failed.stdout).toContain('thoth-policy: cursor: wrap-config exited 3\n');
    expect(failed.stdout).toContain('thoth-policy: error: wrap-config failed for: cursor\n');
    expect(thothCalls(failed.log).filter((line) => line.includes('wrap-config')).length).toBe(ALL_CLIENTS.length);
    const none = await mac.run('jamf/thoth-policy.sh', jamfArgs('acme'), {STUB_NO_CONFIG: ALL_CLIENTS.join(' ')});
    expect(none.code).toBe(0);
    expect(none.stdout).toContain('thoth-policy: windsurf: no config\n');
  });
});

describe('mdm/jamf extension attributes (read the state file, start no thoth)', () => {
  it.each([
    ['ea-thoth-governed.sh', 'false'],
    ['ea-thoth-status.sh', 'degraded'],
  ])('%s prints the value the policy recorded, and thoth never runs', async (script, value) => {
    const mac = await fakeMac();
    await mac.installStub();
    await mkdir(join(mac.stateFile, '..'), {recursive: true});
    await writeFile(mac.stateFile, `user=erikberglund\nversion=0.2.0\ngoverned=${script.includes('governed') ? value : 'true'}\nstatus=${script.includes('status') ? value : 'healthy'}\n`);
    const run = await mac.run(`jamf/${script}`);
    expect(run).toMatchObject({code: 0, stdout: `<result>${value}</result>\n`, stderr: ''});
    expect(run.log).toEqual([]);
  });

  it('say unknown before the policy ran, and not-installed without thoth', async () => {
    const mac = await fakeMac();
    expect((await mac.run('jamf/ea-thoth-governed.sh')).stdout).toBe('<result>not-installed</result>\n');
    expect((await mac.run('jamf/ea-thoth-version.sh')).stdout).toBe('<result>not-installed</result>\n');
    await mac.installStub();
    expect((await mac.run('jamf/ea-thoth-status.sh')).stdout).toBe('<result>unknown</result>\n');
  });
});

const realSkip = skipReason(['tar']);

describe.skipIf(realSkip !== undefined)('mdm/jamf scripts with the real installed thoth (release tarball in /usr/local/thoth), minimal PATH, no node', () => {
  beforeAll(async () => {
    await release();
  }, 15 * 60_000);

  async function withConfigs(mac: FakeMac, user: string): Promise<{desktop: string; code: string; original: string}> {
    const home = join(mac.homes, user);
    const desktop = join(home, '.config', 'Claude', 'claude_desktop_config.json');
    await mkdir(join(desktop, '..'), {recursive: true});
    const original = `${JSON.stringify({mcpServers: {files: {command: '/usr/bin/true', args: ['--serve']}}}, null, 2)}\n`;
    await writeFile(desktop, original);
    const code = join(home, '.claude.json');
    await writeFile(code, `${JSON.stringify({mcpServers: {db: {type: 'stdio', command: '/usr/bin/env', args: ['db-server']}}}, null, 2)}\n`);
    return {desktop, code, original};
  }

  it('policy: wraps the user\'s configs and root\'s managed-mcp.json with the installed node and entry, records the state; the extension attributes read it', async () => {
    const mac = await fakeMac();
    await mac.installRealThoth();
    const {desktop, code} = await withConfigs(mac, 'erikberglund');
    await mkdir(join(mac.claudeManaged, '..'), {recursive: true});
    await writeFile(mac.claudeManaged, `${JSON.stringify({mcpServers: {corp: {command: '/usr/bin/env', args: ['corp-server']}}}, null, 2)}\n`);
    const run = await mac.run('jamf/thoth-policy.sh', jamfArgs('acme', 'observe'));
    expect(run.stderr).toBe('');
    expect(run.code, run.stdout).toBe(0);
    const node = join(mac.root, 'usr', 'local', 'thoth', 'bin', 'node');
    const entry = join(mac.root, 'usr', 'local', 'thoth', 'lib', 'bin', 'run.js');
    for (const [file, server] of [[desktop, 'files'], [code, 'db'], [mac.claudeManaged, 'corp']] as const) {
      const wrapped = (JSON.parse(await readFile(file, 'utf8')) as {mcpServers: Record<string, {command: string; args: string[]}>}).mcpServers[server]!;
      expect(wrapped.command, file).toBe(node);
      expect(wrapped.args.slice(0, 8), file).toEqual([entry, 'run', '--agent-id', server, '--tenant-id', 'acme', '--enforcement-mode', 'observe']);
    }
    const {version} = await release();
    expect(await readFile(mac.stateFile, 'utf8')).toMatch(new RegExp(`^user=erikberglund\nversion=${version.replaceAll('.', '\\.')}\ngoverned=true\nstatus=(healthy|degraded|unhealthy|unknown)\n$`));
    expect(run.log).toContain('jamf recon');
    expect((await mac.run('jamf/ea-thoth-governed.sh')).stdout).toBe('<result>true</result>\n');
    expect((await mac.run('jamf/ea-thoth-version.sh')).stdout).toBe(`<result>${version}</result>\n`);
    expect((await mac.run('jamf/ea-thoth-status.sh')).stdout).toMatch(/^<result>(healthy|degraded|unhealthy|unknown)<\/result>\n$/);
    // Nothing changed: no second inventory.
    const again = await mac.run('jamf/thoth-policy.sh', jamfArgs('acme', 'observe'));
    expect(again.code).toBe(0);
    expect(again.log).not.toContain('jamf recon');
  });

  it('uninstall: restores every profile\'s configs and managed-mcp.json, then removes thoth, the launcher and the receipt', async () => {
    const mac = await fakeMac();
    await mac.installRealThoth();
    const erik = await withConfigs(mac, 'erikberglund');
    const bob = await withConfigs(mac, 'bob');
    const codeOriginal = await readFile(erik.code, 'utf8');
    await mkdir(join(mac.claudeManaged, '..'), {recursive: true});
    const managedOriginal = `${JSON.stringify({mcpServers: {corp: {command: '/usr/bin/env', args: ['corp-server']}}}, null, 2)}\n`;
    await writeFile(mac.claudeManaged, managedOriginal);
    expect((await mac.run('jamf/thoth-policy.sh', jamfArgs('acme'))).code).toBe(0);
    expect(await readFile(erik.desktop, 'utf8')).not.toBe(erik.original);
    // bob is not the console user: he wrapped his config himself.
    const bobWrap = await runProgram(mac.thothPath, ['wrap-config', '--all'], {env: {PATH: '/usr/bin:/bin', HOME: join(mac.homes, 'bob')}});
    expect(bobWrap.code, bobWrap.stderr).toBe(0);
    expect(await readFile(bob.desktop, 'utf8')).not.toBe(bob.original);
    await mkdir(join(mac.root, 'usr', 'local', 'bin'), {recursive: true});
    await symlink('/usr/local/thoth/bin/thoth', join(mac.root, 'usr', 'local', 'bin', 'thoth'));

    const run = await mac.run('jamf/uninstall.sh');
    expect(run.stderr).toBe('');
    expect(run.code, run.stdout).toBe(0);
    expect(await readFile(erik.desktop, 'utf8')).toBe(erik.original);
    expect(await readFile(erik.code, 'utf8')).toBe(codeOriginal);
    expect(await readFile(bob.desktop, 'utf8')).toBe(bob.original);
    expect(await readFile(mac.claudeManaged, 'utf8')).toBe(managedOriginal);
    expect(existsSync(join(mac.root, 'usr', 'local', 'thoth'))).toBe(false);
    expect(existsSync(join(mac.root, 'usr', 'local', 'bin', 'thoth'))).toBe(false);
    expect(existsSync(mac.stateFile)).toBe(false);
    expect(run.log).toContain('pkgutil --forget io.thoth.agent');
    for (const profile of ['erikberglund', 'bob', 'root']) expect(run.stdout).toContain(`thoth-uninstall: ${profile}: unwrap-config exit 0\n`);
    expect(await readFile(join(mac.root, 'Library', 'Logs', 'thoth', 'jamf-uninstall.log'), 'utf8')).toContain('thoth-uninstall: removed ');
  });

  it('uninstall: one profile thoth cannot restore stops everything before any config changes, exit 1, thoth stays', async () => {
    const mac = await fakeMac();
    await mac.installRealThoth();
    const erik = await withConfigs(mac, 'erikberglund');
    expect((await mac.run('jamf/thoth-policy.sh', jamfArgs('acme'))).code).toBe(0);
    const wrapped = await readFile(erik.desktop, 'utf8');
    // bob's config is broken: thoth cannot read it, so it cannot say it is not wrapped.
    const bobConfig = join(mac.homes, 'bob', '.config', 'Claude', 'claude_desktop_config.json');
    await mkdir(join(bobConfig, '..'), {recursive: true});
    await writeFile(bobConfig, '{"mcpServers": {"x": ');

    const run = await mac.run('jamf/uninstall.sh');
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('thoth-uninstall: error: unwrap-config failed for: bob; thoth was NOT removed (the configs still need it)\n');
    expect(run.stdout).toMatch(/thoth-uninstall: erikberglund: unwrap-config --dry-run exit 10\n/);
    // Nothing was written: erik's config is still wrapped and thoth is still there for it.
    expect(await readFile(erik.desktop, 'utf8')).toBe(wrapped);
    expect(existsSync(mac.thothPath)).toBe(true);
    expect(run.log).not.toContain('pkgutil --forget io.thoth.agent');
  });
});
