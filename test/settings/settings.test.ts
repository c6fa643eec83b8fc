import {copyFile, mkdir, readFile, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {SETTINGS, SETTING_KEYS} from '../../src/settings/definitions.js';
import {macManagedPreferencesReader, windowsPolicyReader, type ManagedPreferences} from '../../src/settings/managed.js';
import {assertValidSettings, resolveSettings, type ResolveSettingsOptions} from '../../src/settings/resolve.js';
import {REPO_ROOT} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';

const FIXTURES = join(REPO_ROOT, 'fixtures', 'managed-prefs');

function managed(
  entries: Record<string, unknown>,
  origin = '/Library/Managed Preferences/io.thoth.agent.plist',
): () => Promise<ManagedPreferences> {
  return async () => ({entries: new Map(Object.entries(entries).map(([key, value]) => [key, {value, origin}])), problems: []});
}

async function resolve(options: ResolveSettingsOptions = {}) {
  const home = await tempDir();
  return resolveSettings({env: {}, home, cwd: home, platform: 'linux', ...options});
}

describe('precedence: flags > environment > managed > profile > defaults', () => {
  it('takes each layer in order and says which one won', async () => {
    const home = await tempDir();
    const profileDir = join(home, '.thoth');
    await mkdir(profileDir, {recursive: true});
    await writeFile(
      join(profileDir, 'settings.json'),
      JSON.stringify({
        THOTH_TENANT_ID: 'from-profile',
        THOTH_FLEET_ID: 'fleet-profile',
        THOTH_USER_ID: 'profile@example.com',
        THOTH_ENV: 'staging',
      }),
    );
    const layers = {
      home,
      profileDir,
      readManagedPreferences: managed({
        THOTH_TENANT_ID: 'from-managed',
        THOTH_FLEET_ID: 'fleet-managed',
        THOTH_USER_ID: 'managed@example.com',
      }),
    };
    const all = await resolve({...layers, flags: {tenantId: 'from-flag'}, env: {THOTH_TENANT_ID: 'from-env', THOTH_FLEET_ID: 'fleet-env'}});
    expect(all.values.tenantId).toBe('from-flag');
    expect(all.origins.tenantId).toEqual({source: 'flag', origin: '--tenant-id'});
    expect(all.values.fleetId).toBe('fleet-env');
    expect(all.origins.fleetId).toEqual({source: 'env', origin: 'THOTH_FLEET_ID'});
    expect(all.values.userId).toBe('managed@example.com');
    expect(all.origins.userId.source).toBe('managed');
    expect(all.origins.userId.origin).toContain('io.thoth.agent.plist (THOTH_USER_ID)');
    expect(all.values.env).toBe('staging');
    expect(all.origins.env).toEqual({source: 'profile', origin: join(profileDir, 'settings.json')});
    expect(all.values.apexDomain).toBe('atensecurity.com');
    expect(all.origins.apexDomain).toEqual({source: 'default', origin: 'default'});
    expect(all.problems).toEqual([]);

    const withoutFlag = await resolve({...layers, env: {THOTH_TENANT_ID: 'from-env'}});
    expect(withoutFlag.values.tenantId).toBe('from-env');
    const withoutEnv = await resolve(layers);
    expect(withoutEnv.values.tenantId).toBe('from-managed');
    const profileOnly = await resolve({home, profileDir});
    expect(profileOnly.values.tenantId).toBe('from-profile');
  });

  it('defaults: prod, atensecurity.com, the profile key file, 60 s heartbeat, TLS verified, failure decision block', async () => {
    const home = await tempDir();
    const settings = await resolve({home});
    expect(settings.values).toMatchObject({
      env: 'prod',
      apexDomain: 'atensecurity.com',
      apiKeyFile: join(home, '.thoth', 'proxy_api_key.json'),
      heartbeatIntervalSeconds: 60,
      tlsVerify: true,
      tlsPinCacheSeconds: 300,
      enforcerFailureDecision: 'block',
      enrollmentSource: 'unmanaged',
      requireNonRoot: false,
    });
    expect(settings.values.tenantId).toBeUndefined();
    expect(settings.values.enforcerUrl).toBeUndefined();
    expect(settings.origins.tenantId).toEqual({source: 'default', origin: 'unset'});
  });

  it('THOTH_HOME moves the profile directory and with it the default key file', async () => {
    const home = await tempDir();
    const settings = await resolve({home, env: {THOTH_HOME: join(home, 'elsewhere')}});
    expect(settings.profileDir).toBe(join(home, 'elsewhere'));
    expect(settings.values.apiKeyFile).toBe(join(home, 'elsewhere', 'proxy_api_key.json'));
  });
});

describe('derived control-plane URLs (the routing contract)', () => {
  it('derives enforce. and grid. from the tenant and the apex domain (default atensecurity.com)', async () => {
    const settings = await resolve({env: {THOTH_TENANT_ID: 'Acme'}});
    expect(settings.values.tenantId).toBe('acme');
    expect(settings.values.enforcerUrl).toBe('https://enforce.acme.atensecurity.com');
    expect(settings.values.govapiUrl).toBe('https://grid.acme.atensecurity.com');
    expect(settings.origins.govapiUrl.origin).toMatch(
      /derived from THOTH_TENANT_ID \(env: THOTH_TENANT_ID\) and THOTH_APEX_DOMAIN \(default\)/,
    );
  });

  it('keeps older deployments working: THOTH_APEX_DOMAIN=aten.security', async () => {
    const settings = await resolve({env: {THOTH_TENANT_ID: 'acme', THOTH_APEX_DOMAIN: 'aten.security'}});
    expect(settings.values.enforcerUrl).toBe('https://enforce.acme.aten.security');
  });

  it('accepts the legacy THOTH_GOV_API_URL, prefers THOTH_GOVAPI_URL and warns when they differ', async () => {
    const legacy = await resolve({env: {THOTH_GOV_API_URL: 'https://gov.example.com/'}});
    expect(legacy.values.govapiUrl).toBe('https://gov.example.com');
    expect(legacy.origins.govapiUrl).toEqual({source: 'env', origin: 'THOTH_GOV_API_URL'});
    const both = await resolve({env: {THOTH_GOV_API_URL: 'https://old.example.com', THOTH_GOVAPI_URL: 'https://new.example.com'}});
    expect(both.values.govapiUrl).toBe('https://new.example.com');
    expect(both.warnings.join('\n')).toMatch(/THOTH_GOVAPI_URL and THOTH_GOV_API_URL are both set and differ: THOTH_GOVAPI_URL wins/);
  });

  it('accepts both heartbeat names, the newer one first', async () => {
    expect((await resolve({env: {THOTH_HEARTBEAT_INTERVAL_SECONDS: '30'}})).values.heartbeatIntervalSeconds).toBe(30);
    expect(
      (await resolve({env: {THOTH_HEARTBEAT_INTERVAL_SECONDS: '30', THOTH_ENDPOINT_CHECKIN_INTERVAL_SEC: '90'}})).values
        .heartbeatIntervalSeconds,
    ).toBe(90);
  });

  it('refuses cleartext URLs except to this machine', async () => {
    const remote = await resolve({env: {THOTH_ENFORCER_URL: 'http://enforce.example.com'}});
    expect(remote.values.enforcerUrl).toBeUndefined();
    expect(remote.problems[0]).toMatch(/THOTH_ENFORCER_URL from THOTH_ENFORCER_URL: must use https:\/\//);
    const local = await resolve({env: {THOTH_ENFORCER_URL: 'http://127.0.0.1:8443'}});
    expect(local.values.enforcerUrl).toBe('http://127.0.0.1:8443');
  });
});

describe('invalid values', () => {
  it('are reported with the variable and the source, and fall through to the next layer', async () => {
    const settings = await resolve({env: {THOTH_ENV: 'production'}, readManagedPreferences: managed({THOTH_ENV: 'staging'})});
    expect(settings.values.env).toBe('staging');
    expect(settings.problems).toEqual(['THOTH_ENV from THOTH_ENV: must be one of dev, staging, prod (got "production")']);
    expect(() => assertValidSettings(settings)).toThrow(/invalid setting: THOTH_ENV from THOTH_ENV: must be one of dev, staging, prod/);
  });

  it.each([
    ['THOTH_TENANT_ID', 'acme corp', /must be a DNS label/],
    ['THOTH_REQUIRE_NON_ROOT', 'ture', /must be true or false/],
    ['THOTH_EXPECTED_PROXY_UID', '-1', /whole number/],
    ['THOTH_MIN_VERSION', 'latest', /must be a version such as 0.4.2/],
    ['THOTH_TLS_PINNED_CERT_SHA256', 'sha256:abcd', /not a SHA-256 fingerprint/],
    ['THOTH_ENFORCER_FAILURE_DECISION', 'maybe', /must be one of block, step_up, allow/],
    ['THOTH_APEX_DOMAIN', 'localhost', /must be a domain name/],
    ['THOTH_TLS_AWS_ACM_CERT_ARN', 'not-an-arn', /ACM or ACM Private CA ARN/],
  ])('%s=%s is a problem', async (name, value, message) => {
    const settings = await resolve({env: {[name]: value}});
    expect(settings.problems).toHaveLength(1);
    expect(settings.problems[0]).toMatch(message);
    expect(settings.problems[0]).toContain(name);
  });

  it('never quotes a secret in a problem', async () => {
    const settings = await resolve({env: {THOTH_API_KEY: 'sk-live super secret', THOTH_GOVAPI_BEARER_TOKEN: 'tok en-123'}});
    expect(settings.problems).toHaveLength(2);
    expect(settings.problems.join('\n')).not.toMatch(/super|secret|tok en|en-123/);
  });

  it('reports an invalid settings.json with file:line:column and the JSON pointer', async () => {
    const home = await tempDir();
    const profileDir = join(home, '.thoth');
    await mkdir(profileDir);
    await writeFile(join(profileDir, 'settings.json'), '{\n  "THOTH_TENANT_ID": "acme",\n  "THOTH_API_KEY": "sk-nope"\n}\n');
    const settings = await resolve({home, profileDir});
    expect(settings.problems).toEqual([`${join(profileDir, 'settings.json')}:3:3 at /THOTH_API_KEY: unknown property "THOTH_API_KEY"`]);
    expect(settings.values.tenantId).toBeUndefined();
  });
});

describe('security-relevant rules', () => {
  it('ignores THOTH_ENFORCER_FAILURE_DECISION=allow in staging/prod unless the override is set', async () => {
    const prod = await resolve({env: {THOTH_ENFORCER_FAILURE_DECISION: 'allow'}});
    expect(prod.values.enforcerFailureDecision).toBe('block');
    expect(prod.warnings.join('\n')).toMatch(/allow .* is ignored in prod/);
    const override = await resolve({env: {THOTH_ENFORCER_FAILURE_DECISION: 'allow', THOTH_ENFORCER_ALLOW_FALLBACK_OVERRIDE: 'true'}});
    expect(override.values.enforcerFailureDecision).toBe('allow');
    const dev = await resolve({env: {THOTH_ENFORCER_FAILURE_DECISION: 'allow', THOTH_ENV: 'dev'}});
    expect(dev.values.enforcerFailureDecision).toBe('allow');
  });

  it('requires non-root by default only in staging/prod with a tenant; explicit values win', async () => {
    expect((await resolve({env: {THOTH_TENANT_ID: 'acme'}})).values.requireNonRoot).toBe(true);
    expect((await resolve({env: {THOTH_TENANT_ID: 'acme', THOTH_ENV: 'staging'}})).values.requireNonRoot).toBe(true);
    expect((await resolve({env: {THOTH_TENANT_ID: 'acme', THOTH_ENV: 'dev'}})).values.requireNonRoot).toBe(false);
    expect((await resolve({env: {}})).values.requireNonRoot).toBe(false);
    expect((await resolve({env: {THOTH_TENANT_ID: 'acme', THOTH_REQUIRE_NON_ROOT: 'false'}})).values.requireNonRoot).toBe(false);
    expect((await resolve({env: {THOTH_REQUIRE_NON_ROOT: 'true'}})).values.requireNonRoot).toBe(true);
  });

  it('never reads secrets from managed preferences (every local user can read them)', async () => {
    const settings = await resolve({readManagedPreferences: managed({THOTH_API_KEY: 'sk-managed', THOTH_GOVAPI_API_KEY: 'k'})});
    expect(settings.values.apiKey).toBeUndefined();
    expect(settings.values.govapiApiKey).toBeUndefined();
    expect(settings.warnings.filter((w) => w.includes('secrets are never read from managed preferences'))).toHaveLength(2);
  });

  it('needs an ARN when AWS-backed certificates are required', async () => {
    const settings = await resolve({env: {THOTH_TLS_REQUIRE_AWS_BACKED_CERTS: '1'}});
    expect(settings.problems).toEqual([
      'THOTH_TLS_REQUIRE_AWS_BACKED_CERTS is true but neither THOTH_TLS_AWS_ACM_CERT_ARN nor THOTH_TLS_AWS_PRIVATE_CA_ARN is set',
    ]);
    const ok = await resolve({
      env: {
        THOTH_TLS_REQUIRE_AWS_BACKED_CERTS: '1',
        THOTH_TLS_AWS_PRIVATE_CA_ARN: 'arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/abc-123',
      },
    });
    expect(ok.problems).toEqual([]);
  });
});

describe('the API key', () => {
  async function withKeyFile(content: string, mode = 0o600) {
    const home = await tempDir();
    const profileDir = join(home, '.thoth');
    await mkdir(profileDir);
    await writeFile(join(profileDir, 'proxy_api_key.json'), content, {mode});
    return {home, profileDir};
  }

  it('reads {"api_key": ...} from the profile key file', async () => {
    const where = await withKeyFile('{"api_key": "sk-from-file"}\n');
    const settings = await resolve(where);
    expect(settings.values.apiKey).toBe('sk-from-file');
    expect(settings.origins.apiKey).toEqual({source: 'profile', origin: `key file ${join(where.profileDir, 'proxy_api_key.json')}`});
  });

  it('lets THOTH_API_KEY win over the profile file, and an explicit THOTH_API_KEY_FILE win over THOTH_API_KEY (the variable is a fallback)', async () => {
    const where = await withKeyFile('{"api_key": "sk-from-file"}\n');
    expect((await resolve({...where, env: {THOTH_API_KEY: 'sk-from-env'}})).values.apiKey).toBe('sk-from-env');
    const explicit = join(where.home, 'key.json');
    await writeFile(explicit, '{"api_key": "sk-explicit"}', {mode: 0o600});
    const settings = await resolve({...where, env: {THOTH_API_KEY: 'sk-from-env', THOTH_API_KEY_FILE: explicit}});
    expect(settings.values.apiKey).toBe('sk-explicit');
    expect(settings.origins.apiKey.source).toBe('env');
    expect((await resolve({...where, env: {THOTH_API_KEY: 'sk-from-env'}, flags: {apiKey: 'sk-flag'}})).values.apiKey).toBe('sk-flag');
  });

  it('treats {} (what bootstrap writes) as no key, and a plain-text file as the key itself', async () => {
    expect((await resolve(await withKeyFile('{}\n'))).values.apiKey).toBeUndefined();
    expect((await resolve(await withKeyFile('sk-plain\n'))).values.apiKey).toBe('sk-plain');
  });

  it('reports an explicit key file that does not exist, and a broken one, without its content', async () => {
    const home = await tempDir();
    const missing = await resolve({home, env: {THOTH_API_KEY_FILE: '~/nope.json'}});
    expect(missing.problems).toEqual([`THOTH_API_KEY_FILE from env: THOTH_API_KEY_FILE: ${join(home, 'nope.json')} does not exist`]);
    const broken = await resolve(await withKeyFile('{"api_key": "sk-abc", '));
    expect(broken.problems[0]).toMatch(/not valid JSON; expected \{"api_key": "<key>"\}/);
    expect(broken.problems[0]).not.toContain('sk-abc');
  });

  it('warns when the key file is readable by others', async () => {
    const where = await withKeyFile('{"api_key": "sk-x"}', 0o644);
    const settings = await resolve(where);
    expect(settings.warnings.join('\n')).toMatch(/readable by other users \(mode 0644\): run `chmod 600/);
  });
});

describe('macOS managed preferences (XML and binary plists)', () => {
  async function managedRoot() {
    const root = await tempDir();
    const dir = join(root, 'Library', 'Managed Preferences');
    await mkdir(join(dir, 'alice'), {recursive: true});
    await copyFile(join(FIXTURES, 'io.thoth.agent.plist'), join(dir, 'io.thoth.agent.plist'));
    await copyFile(join(FIXTURES, 'io.thoth.agent.user.bplist'), join(dir, 'alice', 'io.thoth.agent.plist'));
    return {root, dir};
  }

  it('reads the device file, then the per-user binary file for keys the device file does not set', async () => {
    const {root, dir} = await managedRoot();
    const settings = await resolve({platform: 'darwin', fsRoot: root, username: 'alice'});
    expect(settings.problems).toEqual([]);
    expect(settings.values).toMatchObject({
      tenantId: 'acme',
      fleetId: 'engineering-laptops',
      enforcementMode: 'progressive',
      requireNonRoot: true,
      heartbeatIntervalSeconds: 120,
      minVersion: '0.1.0',
      jamfComputerId: '1042',
      enrollmentSource: 'jamf',
      userId: 'alice@example.com',
      tlsPinnedCertSha256: ['ab'.repeat(32), 'cd'.repeat(32)],
    });
    expect(settings.origins.tenantId.origin).toBe(`${join(dir, 'io.thoth.agent.plist')} (THOTH_TENANT_ID)`);
    expect(settings.origins.jamfComputerId.origin).toBe(`${join(dir, 'io.thoth.agent.plist')} (jssID)`);
    expect(settings.origins.userId.origin).toBe(`${join(dir, 'alice', 'io.thoth.agent.plist')} (THOTH_USER_ID)`);
  });

  it('loses to the environment and wins over the profile', async () => {
    const {root} = await managedRoot();
    const home = await tempDir();
    await mkdir(join(home, '.thoth'));
    await writeFile(join(home, '.thoth', 'settings.json'), '{"THOTH_FLEET_ID": "mine", "THOTH_LOG_FILE": "~/thoth.log"}');
    const settings = await resolve({platform: 'darwin', fsRoot: root, username: 'bob', home, env: {THOTH_TENANT_ID: 'env-tenant'}});
    expect(settings.values.tenantId).toBe('env-tenant');
    expect(settings.values.fleetId).toBe('engineering-laptops');
    expect(settings.values.logFile).toBe(join(home, 'thoth.log'));
    expect(settings.values.userId).toBeUndefined();
  });

  it('reports a corrupt managed file instead of silently ignoring it', async () => {
    const {root, dir} = await managedRoot();
    await writeFile(join(dir, 'io.thoth.agent.plist'), '<plist><dict><key>THOTH_TENANT_ID</key>');
    const settings = await resolve({platform: 'darwin', fsRoot: root});
    expect(settings.problems[0]).toMatch(/io\.thoth\.agent\.plist: not a valid property list/);
  });

  it('flags a $JSSID that Jamf did not substitute and warns about unknown keys', async () => {
    const reader = managed({jssID: '$JSSID', THOTH_TENNANT_ID: 'typo', PayloadUUID: 'x'});
    const settings = await resolve({readManagedPreferences: reader});
    expect(settings.values.jamfComputerId).toBeUndefined();
    expect(settings.problems[0]).toMatch(/jssID\): is the literal "\$JSSID": the profile was not delivered by Jamf Pro/);
    expect(settings.warnings).toEqual([expect.stringMatching(/unknown key THOTH_TENNANT_ID in .* is ignored/)]);
  });

  it('reads nothing and loads no plist parser on a machine without managed preferences', async () => {
    const root = await tempDir();
    const reader = macManagedPreferencesReader({root, username: 'alice'});
    expect((await reader()).entries.size).toBe(0);
  });
});

describe('Windows policy key (reg query output)', () => {
  it('reads HKLM then HKCU through reg.exe in the 64-bit view, with DWORDs and expandable strings', async () => {
    const calls: string[][] = [];
    const hklm = await readFile(join(FIXTURES, 'reg-query-policies-hklm.txt'), 'utf8');
    const run = async (file: string, args: readonly string[]) => {
      calls.push([file, ...args]);
      if (args[1] === 'HKLM\\SOFTWARE\\Policies\\Thoth') return {code: 0, stdout: hklm, stderr: ''};
      return {code: 1, stdout: '', stderr: 'ERROR: The system was unable to find the specified registry key or value.\r\n'};
    };
    const settings = await resolve({
      platform: 'win32',
      runCommand: run,
      env: {SystemRoot: 'C:\\Windows', ProgramData: 'C:\\ProgramData', THOTH_ENFORCEMENT_MODE: 'observe'},
      cwd: 'C:\\Users\\alice',
      home: 'C:\\Users\\alice',
    });
    expect(calls).toEqual([
      ['C:\\Windows\\System32\\reg.exe', 'query', 'HKLM\\SOFTWARE\\Policies\\Thoth', '/reg:64'],
      ['C:\\Windows\\System32\\reg.exe', 'query', 'HKCU\\SOFTWARE\\Policies\\Thoth', '/reg:64'],
    ]);
    expect(settings.values.tenantId).toBe('acme');
    expect(settings.values.requireNonRoot).toBe(true);
    expect(settings.values.heartbeatIntervalSeconds).toBe(120);
    expect(settings.values.policyFile).toBe('C:\\ProgramData\\Thoth\\policy.json');
    // The mode is one of the settings where the policy key wins over the environment (managedWins).
    expect(settings.values.enforcementMode).toBe('block');
    expect(settings.overrides.map((override) => [override.name, override.attempted.origin, override.managed])).toEqual([
      ['THOTH_ENFORCEMENT_MODE', 'THOTH_ENFORCEMENT_MODE', 'HKLM\\SOFTWARE\\Policies\\Thoth (THOTH_ENFORCEMENT_MODE)'],
    ]);
    expect(settings.origins.tenantId).toEqual({source: 'managed', origin: 'HKLM\\SOFTWARE\\Policies\\Thoth (THOTH_TENANT_ID)'});
  });

  it('reports reg.exe failures other than "not found" as problems', async () => {
    const reader = windowsPolicyReader({run: async () => ({code: 5, stdout: '', stderr: 'ERROR: Access is denied.'})});
    const result = await reader();
    expect(result.problems[0]).toMatch(
      /HKLM\\SOFTWARE\\Policies\\Thoth: cannot be read \(reg query .* exited 5: ERROR: Access is denied\.\)/,
    );
  });

  it('refuses value types no setting accepts', async () => {
    const reader = windowsPolicyReader({
      run: async () => ({
        code: 0,
        stdout: '\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Thoth\r\n    THOTH_TENANT_ID    REG_BINARY    61636D65\r\n\r\n',
        stderr: '',
      }),
    });
    const settings = await resolve({readManagedPreferences: reader});
    expect(settings.problems).toEqual([
      'THOTH_TENANT_ID from HKLM\\SOFTWARE\\Policies\\Thoth (THOTH_TENANT_ID): has a value of type REG_BINARY; use a string, number or boolean',
    ]);
  });
});

describe('the settings table and the settings.json schema agree', () => {
  it('lists every non-secret setting and no secret', async () => {
    const schema = JSON.parse(await readFile(join(REPO_ROOT, 'schemas', 'settings.schema.json'), 'utf8')) as {
      properties: Record<string, unknown>;
    };
    const expected = SETTING_KEYS.filter((key) => !SETTINGS[key].secret).map((key) => SETTINGS[key].name);
    expect(
      Object.keys(schema.properties)
        .filter((name) => name !== '$schema')
        .sort(),
    ).toEqual(expected.sort());
  });
});
