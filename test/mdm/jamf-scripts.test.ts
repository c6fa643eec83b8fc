import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {fakeMac} from './harness.js';

/** Jamf passes $1 mount point, $2 computer name, $3 user name, then the admin's $4-$11. */
const jamfArgs = (...params: string[]) => ['/', 'ALICE-MBP', '', ...params];

describe('mdm/jamf/thoth-policy.sh', () => {
  it('verifies thoth as the console user and wraps their clients with launchctl asuser + sudo -u', async () => {
    const mac = await fakeMac();
    await mac.install();
    const run = await mac.run('jamf/thoth-policy.sh', jamfArgs('acme', 'block', '0.2.0', 'prod', 'laptops', 'install-thoth', mac.thothPath, 'all'));
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const home = join(mac.homes, 'erikberglund');
    expect(run.log).toEqual([
      'scutil show State:/Users/ConsoleUser',
      'id -u erikberglund',
      `launchctl asuser 501 sudo -u erikberglund -H ${mac.thothPath} health --format jamf-ea --field meets-min-version --min-version 0.2.0`,
      `sudo -u erikberglund -H ${mac.thothPath} health --format jamf-ea --field meets-min-version --min-version 0.2.0`,
      `thoth[erikberglund ${home}] health --format jamf-ea --field meets-min-version --min-version 0.2.0`,
      `launchctl asuser 501 sudo -u erikberglund -H ${mac.thothPath} wrap-config --all --tenant-id acme --enforcement-mode block --env THOTH_ENV=prod --env THOTH_FLEET_ID=laptops`,
      `sudo -u erikberglund -H ${mac.thothPath} wrap-config --all --tenant-id acme --enforcement-mode block --env THOTH_ENV=prod --env THOTH_FLEET_ID=laptops`,
      `thoth[erikberglund ${home}] wrap-config --all --tenant-id acme --enforcement-mode block --env THOTH_ENV=prod --env THOTH_FLEET_ID=laptops`,
      `launchctl asuser 501 sudo -u erikberglund -H ${mac.thothPath} health --format jamf-ea --field governed`,
      `sudo -u erikberglund -H ${mac.thothPath} health --format jamf-ea --field governed`,
      `thoth[erikberglund ${home}] health --format jamf-ea --field governed`,
      `launchctl asuser 501 sudo -u erikberglund -H ${mac.thothPath} health --format jamf-ea --field status`,
      `sudo -u erikberglund -H ${mac.thothPath} health --format jamf-ea --field status`,
      `thoth[erikberglund ${home}] health --format jamf-ea --field status`,
    ]);
    expect(run.stdout).toBe(
      [
        'thoth-policy: console user: erikberglund (uid 501)',
        'thoth-policy: wrapping all MCP client configs of erikberglund (tenant acme, mode block)',
        'wrapped 3 servers',
        'thoth-policy: governed: <result>true</result>  status: <result>healthy</result>',
        '',
      ].join('\n'),
    );
  });

  it('uses the defaults for empty parameters and --client for one client; thoth never runs as root', async () => {
    const mac = await fakeMac();
    await mac.install();
    const run = await mac.run('jamf/thoth-policy.sh', jamfArgs('acme', '', '', '', '', '', mac.thothPath, 'cursor'));
    expect(run.code).toBe(0);
    const thothCalls = run.log.filter((line) => line.startsWith('thoth['));
    expect(thothCalls[0]).toBe(`thoth[erikberglund ${join(mac.homes, 'erikberglund')}] wrap-config --client cursor --tenant-id acme --enforcement-mode progressive`);
    expect(thothCalls.every((line) => line.startsWith('thoth[erikberglund '))).toBe(true);
  });

  it('does nothing and exits 0 at the login window or without a console session', async () => {
    for (const fixture of ['scutil-loginwindow.txt', 'scutil-no-key.txt']) {
      const mac = await fakeMac(fixture);
      await mac.install();
      const run = await mac.run('jamf/thoth-policy.sh', jamfArgs('acme'));
      expect(run.code).toBe(0);
      expect(run.stdout).toBe('thoth-policy: nobody is logged in: nothing to govern yet (scope this policy to Login or Recurring Check-in)\n');
      expect(run.log).toEqual(['scutil show State:/Users/ConsoleUser']);
    }
  });

  it.each([
    [['', 'block'], 'parameter 4 (tenant ID) is empty'],
    [['acme', 'strict'], 'parameter 5 (enforcement mode) must be progressive, step_up, block or observe, not "strict"'],
    [['acme', 'block', '', 'production'], 'parameter 7 (environment) must be prod, staging or dev, not "production"'],
    [['acme', 'block', '', 'prod', '', '', '/usr/local/bin/thoth', 'zed'], 'parameter 11 (clients) is not a client thoth knows: "zed"'],
  ])('exits 1 on bad parameters %j', async (params, message) => {
    const mac = await fakeMac();
    const run = await mac.run('jamf/thoth-policy.sh', jamfArgs(...params));
    expect(run.code).toBe(1);
    expect(run.stdout).toBe(`thoth-policy: error: ${message}\n`);
    expect(run.log).toEqual([]);
  });

  it('runs the install trigger when thoth is missing, then goes on', async () => {
    const mac = await fakeMac();
    const run = await mac.run('jamf/thoth-policy.sh', jamfArgs('acme', 'block', '', 'prod', '', 'install-thoth', mac.thothPath), {FAKE_JAMF_INSTALLS: mac.thothPath});
    expect(run.code).toBe(0);
    expect(run.log).toContain('jamf policy -event install-thoth');
    expect(run.stdout).toContain('thoth-policy: installing thoth: jamf policy -event install-thoth\n');
    expect(run.log.some((line) => line.includes('] wrap-config --all --tenant-id acme'))).toBe(true);
  });

  it('exits 2 when thoth is missing and there is no install trigger, or still too old afterwards', async () => {
    const missing = await fakeMac();
    const noTrigger = await missing.run('jamf/thoth-policy.sh', jamfArgs('acme', 'block', '', 'prod', '', '', missing.thothPath));
    expect(noTrigger.code).toBe(2);
    expect(noTrigger.stdout).toContain(`error: thoth is missing at ${missing.thothPath} or older than any version, and parameter 9 (install trigger) is empty`);

    const old = await fakeMac();
    await old.install();
    const tooOld = await old.run('jamf/thoth-policy.sh', jamfArgs('acme', 'block', '9.0.0', 'prod', '', 'install-thoth', old.thothPath), {STUB_MEETS_MIN: 'false'});
    expect(tooOld.code).toBe(2);
    expect(tooOld.log).toContain('jamf policy -event install-thoth');
    expect(tooOld.stdout).toContain('error: thoth is still missing');
    expect(tooOld.log.some((line) => line.includes('wrap-config'))).toBe(false);
  });

  it('exits 3 when wrap-config fails, but treats "no config found" (4) as nothing to govern', async () => {
    const mac = await fakeMac();
    await mac.install();
    const failed = await mac.run('jamf/thoth-policy.sh', jamfArgs('acme', 'block', '', 'prod', '', '', mac.thothPath), {STUB_WRAP_EXIT: '5'});
    expect(failed.code).toBe(3);
    expect(failed.stdout).toContain('thoth-policy: error: wrap-config exited 5\n');
    const none = await mac.run('jamf/thoth-policy.sh', jamfArgs('acme', 'block', '', 'prod', '', '', mac.thothPath), {STUB_WRAP_EXIT: '4'});
    expect(none.code).toBe(0);
  });
});

describe('mdm/jamf extension attributes', () => {
  it.each([
    ['ea-thoth-governed.sh', 'governed', '<result>false</result>', {STUB_GOVERNED: 'false'}],
    ['ea-thoth-version.sh', 'version', '<result>0.2.0</result>', {}],
    ['ea-thoth-status.sh', 'status', '<result>unhealthy</result>', {STUB_STATUS: 'unhealthy'}],
  ])('%s prints exactly one <result> from thoth, run as the console user', async (script, field, expected, env) => {
    const mac = await fakeMac();
    await mac.install();
    const run = await mac.run(`jamf/${script}`, [], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${expected}\n`);
    expect(run.log.at(-1)).toBe(`thoth[erikberglund ${join(mac.homes, 'erikberglund')}] health --format jamf-ea --field ${field}`);
    expect(run.log).toContain(`sudo -u erikberglund -H ${mac.thothPath} health --format jamf-ea --field ${field}`);
  });

  it('falls back to the last user at the login window, and says no-user when there is none', async () => {
    const mac = await fakeMac('scutil-loginwindow.txt');
    await mac.install();
    const last = await mac.run('jamf/ea-thoth-governed.sh', [], {FAKE_LAST_USER: 'bob'});
    expect(last.stdout).toBe('<result>true</result>\n');
    expect(last.log).toContain('defaults read /Library/Preferences/com.apple.loginwindow lastUserName');
    expect(last.log.at(-1)).toMatch(/^thoth\[bob /);
    const nobody = await mac.run('jamf/ea-thoth-governed.sh');
    expect(nobody.stdout).toBe('<result>no-user</result>\n');
  });

  it('says not-installed without thoth, and error when thoth does not answer with a result', async () => {
    const mac = await fakeMac();
    const missing = await mac.run('jamf/ea-thoth-status.sh');
    expect(missing).toMatchObject({code: 0, stdout: '<result>not-installed</result>\n'});
    await mac.install();
    const garbage = await mac.run('jamf/ea-thoth-status.sh', [], {STUB_HEALTH_GARBAGE: '1'});
    expect(garbage).toMatchObject({code: 0, stdout: '<result>error</result>\n'});
  });

  it('work with the real thoth: version and status come from `thoth health`', async () => {
    const mac = await fakeMac();
    await mac.installRealThoth();
    const {version} = (await import('../../package.json', {with: {type: 'json'}})).default as {version: string};
    const versionRun = await mac.run('jamf/ea-thoth-version.sh');
    expect(versionRun.stdout).toBe(`<result>${version}</result>\n`);
    const status = await mac.run('jamf/ea-thoth-status.sh');
    expect(status.stdout).toMatch(/^<result>(healthy|degraded|unhealthy|unknown)<\/result>\n$/);
    const governed = await mac.run('jamf/ea-thoth-governed.sh');
    expect(governed.stdout).toMatch(/^<result>(true|false|unknown)<\/result>\n$/);
  });
});
