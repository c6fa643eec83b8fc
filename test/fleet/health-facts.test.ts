import {copyFile, mkdir, readFile, readdir, rm, writeFile} from 'node:fs/promises';
import {join} from 'node:path';

import {describe, expect, it} from 'vitest';

import {loadOrCreateKey} from '../../src/audit/key.js';
import {parseSegmentFileName} from '../../src/audit/layout.js';
import {changeConfigs} from '../../src/client-config/engine.js';
import {createConfigHost} from '../../src/client-config/host.js';
import {resolveWrapSettings} from '../../src/client-config/settings.js';
import {auditFact} from '../../src/fleet/health-audit.js';
import {policyFact} from '../../src/fleet/health-policy.js';
import {DEFAULT_HEALTH_PROVIDERS, governanceFact, heartbeatFact, type HealthContext} from '../../src/fleet/health-providers.js';
import {managedPolicyPath} from '../../src/policy/load.js';
import {macManagedPreferencesReader, type ManagedPreferencesReader} from '../../src/settings/managed.js';
import {resolveSettings} from '../../src/settings/resolve.js';
import {REPO_ROOT} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';
import {writeSession} from '../audit/helpers.js';

const MANAGED_FIXTURES = join(REPO_ROOT, 'fixtures', 'managed-prefs');

const VALID_POLICY = `{
  // JSONC, as thoth run reads it
  "version": "health-1",
  "intents": {"code_review": {"tools": "read_*"}},
  "agents": {"github": {"mode": "block", "approved_scope": ["read_file"]}},
}
`;

/** A fresh home (profile in <home>/.thoth), settings resolved as `thoth health` resolves them. */
async function context(
  options: {env?: Record<string, string>; readManagedPreferences?: ManagedPreferencesReader; home?: string} = {},
): Promise<HealthContext> {
  const home = options.home ?? (await tempDir());
  const env: NodeJS.ProcessEnv = {HOME: home, THOTH_HOME: join(home, '.thoth'), ...options.env};
  const settings = await resolveSettings({
    env,
    home,
    cwd: home,
    platform: 'linux',
    ...(options.readManagedPreferences ? {readManagedPreferences: options.readManagedPreferences} : {}),
  });
  return {settings, env, home, platform: 'linux', cwd: home, now: () => new Date('2026-03-10T00:00:00Z')};
}

/** A temporary file-system root holding /Library/Managed Preferences/io.thoth.agent.plist. */
async function managedPlist(values: Record<string, string> | 'fixture'): Promise<ManagedPreferencesReader> {
  const root = await tempDir();
  const dir = join(root, 'Library', 'Managed Preferences');
  await mkdir(dir, {recursive: true});
  const file = join(dir, 'io.thoth.agent.plist');
  if (values === 'fixture') await copyFile(join(MANAGED_FIXTURES, 'io.thoth.agent.plist'), file);
  else await writeFile(file, (await import('plist')).build(values));
  return macManagedPreferencesReader({root});
}

async function write(path: string, text: string): Promise<string> {
  await mkdir(join(path, '..'), {recursive: true});
  await writeFile(path, text);
  return path;
}

describe('policy fact: the policy thoth run would enforce', () => {
  it('is the built-in default when no policy file is configured or installed', async () => {
    const ctx = await context();
    // The managed location is a real system path; this machine is not expected to have one.
    await expect(readFile(managedPolicyPath('linux'))).rejects.toMatchObject({code: 'ENOENT'});
    const fact = await policyFact(ctx);
    expect(fact).toMatchObject({state: 'ok', file: null, source: 'builtin'});
    expect(fact.summary).toMatch(/^the built-in default policy \S+ is valid \(\d+ rules?; no policy file is configured or installed\)$/);
  });

  it('finds <profile>/policy.json like thoth run, and names where it came from', async () => {
    const ctx = await context();
    const file = await write(join(ctx.settings.profileDir, 'policy.json'), VALID_POLICY);
    const fact = await policyFact(ctx);
    expect(fact).toMatchObject({state: 'ok', file, source: 'profile'});
    expect(fact.summary).toMatch(new RegExp(`^policy ${file} health-1@sha256:[0-9a-f]{16} is valid \\(0 rules; the profile\\)$`));
  });

  it('reports the policy an administrator installed, as thoth run enforces it, even when THOTH_POLICY_FILE names another', async () => {
    const home = await tempDir();
    const named = await write(join(home, 'policies', 'team.json'), VALID_POLICY);
    const root = join(home, 'root');
    const managed = await write(join(root, 'etc/thoth/policy.json'), VALID_POLICY);
    const ctx = {...(await context({home, env: {THOTH_POLICY_FILE: named}})), managedRoot: root, platform: 'linux' as const};
    const fact = await policyFact(ctx);
    expect(fact).toMatchObject({state: 'ok', file: managed, source: 'managed'});
    expect(fact.summary).toContain('the managed policy location');
  });

  it.each([
    ['env', (file: string) => ({env: {THOTH_POLICY_FILE: file}}), 'env: THOTH_POLICY_FILE'],
    ['profile', (_file: string) => ({settingsJson: true}), 'profile: '],
  ] as const)('takes THOTH_POLICY_FILE from the %s layer of the settings', async (source, setup, origin) => {
    const home = await tempDir();
    const file = await write(join(home, 'policies', 'team.json'), VALID_POLICY);
    const options = setup(file);
    if ('settingsJson' in options) await write(join(home, '.thoth', 'settings.json'), JSON.stringify({THOTH_POLICY_FILE: file}));
    const ctx = await context({home, ...('env' in options ? {env: options.env} : {})});
    const fact = await policyFact(ctx);
    expect(fact).toMatchObject({state: 'ok', file, source});
    expect(fact.summary).toContain(`named by THOTH_POLICY_FILE (${origin}`);
  });

  it('takes THOTH_POLICY_FILE from managed preferences (a real plist read by the macOS reader)', async () => {
    const home = await tempDir();
    const file = await write(join(home, 'managed', 'policy.json'), VALID_POLICY);
    const ctx = await context({home, readManagedPreferences: await managedPlist({THOTH_POLICY_FILE: file})});
    const fact = await policyFact(ctx);
    expect(fact).toMatchObject({state: 'ok', file, source: 'managed'});
    expect(fact.summary).toMatch(/named by THOTH_POLICY_FILE \(managed: .*io\.thoth\.agent\.plist \(THOTH_POLICY_FILE\)\)\)$/);
  });

  it('fails with file:line:col at /pointer when the policy does not validate', async () => {
    const home = await tempDir();
    const file = await write(join(home, 'policy.json'), '{\n  "agents": {},\n  "rulez": []\n}\n');
    const fact = await policyFact(await context({home, env: {THOTH_POLICY_FILE: file}}));
    expect(fact.state).toBe('fail');
    expect(fact.source).toBe('env');
    expect(fact.summary).toBe(
      `${file}:3:3 at /rulez: unknown property "rulez"; check it with: thoth policy validate ${file} (named by THOTH_POLICY_FILE (env: THOTH_POLICY_FILE))`,
    );
  });

  it('fails, and does not fall back, when the named file is missing', async () => {
    const home = await tempDir();
    await write(join(home, '.thoth', 'policy.json'), VALID_POLICY);
    const missing = join(home, 'nope.json');
    const fact = await policyFact(await context({home, env: {THOTH_POLICY_FILE: missing}}));
    expect(fact).toMatchObject({state: 'fail', file: missing, source: 'env'});
    expect(fact.summary).toMatch(/does not exist/);
  });

  it('fails when intent_map.json is unreadable JSON (thoth run refuses every call), warns on intents the policy lacks', async () => {
    const ctx = await context();
    await write(join(ctx.settings.profileDir, 'policy.json'), VALID_POLICY);
    await write(join(ctx.settings.profileDir, 'intent_map.json'), '{"github": ');
    const broken = await policyFact(ctx);
    expect(broken.state).toBe('fail');
    expect(broken.summary).toMatch(/intent_map\.json is not valid JSON .*thoth run refuses every tool call until it is fixed/);
    await write(join(ctx.settings.profileDir, 'intent_map.json'), '{"github": "code_review", "jira": "triage"}');
    const undefinedIntent = await policyFact(ctx);
    expect(undefinedIntent.state).toBe('warn');
    expect(undefinedIntent.summary).toBe(
      'intent_map.json names intents the policy does not define (jira → "triage"): every tool call of that server is refused until they are defined under "intents"',
    );
  });
});

describe('audit fact', () => {
  async function trail(ctx: HealthContext, sessions: number, options: {close?: boolean} = {}) {
    const key = await loadOrCreateKey(ctx.settings.values.auditKeyFile);
    const chains: string[] = [];
    for (let i = 0; i < sessions; i++) {
      const at = Date.parse('2026-03-01T00:00:00Z') + i * 3_600_000;
      chains.push((await writeSession(ctx.settings.values.auditDir, key, 3, {clock: () => at, ...options})).chain);
    }
    return chains;
  }

  async function segment(dir: string, chain: string): Promise<string> {
    return join(
      dir,
      (await readdir(dir)).find((name) => parseSegmentFileName(name)?.chain === chain)!,
    );
  }

  it('is ok with "no audit log yet" before anything was written', async () => {
    const ctx = await context();
    expect(await auditFact(ctx)).toEqual({state: 'ok', summary: 'no audit log yet', path: join(ctx.settings.profileDir, 'audit')});
  });

  it('is ok when intact, naming what was verified', async () => {
    const ctx = await context();
    await trail(ctx, 2);
    const fact = await auditFact(ctx);
    expect(fact.state).toBe('ok');
    expect(fact.summary).toMatch(/^intact: 2 chains and the registry, \d+ records$/);
  });

  it('is warn for a chain a crash left unsealed, fail for an edited record', async () => {
    const ctx = await context();
    await trail(ctx, 1, {close: false});
    const crashed = await auditFact(ctx, {isWriterAlive: () => false});
    expect(crashed.state).toBe('warn');
    expect(crashed.summary).toMatch(/^left incomplete by a crash: .*without a seal/);

    const other = await context();
    const [chain] = await trail(other, 1);
    const file = await segment(other.settings.values.auditDir, chain!);
    await writeFile(file, (await readFile(file, 'utf8')).replace('"decision":"allow"', '"decision":"block"'));
    const tampered = await auditFact(other);
    expect(tampered.state).toBe('fail');
    expect(tampered.summary).toMatch(/^tampered: \d{8}T\d{6}Z-[0-9a-f-]+-000000\.jsonl:\d+: .*HMAC/);
  });

  it('is fail when the trail exists but its key is gone', async () => {
    const ctx = await context();
    await trail(ctx, 1);
    await rm(ctx.settings.values.auditKeyFile);
    const fact = await auditFact(ctx);
    expect(fact.state).toBe('fail');
    expect(fact.summary).toMatch(/cannot be verified: audit key file .* does not exist/);
  });

  it('follows THOTH_AUDIT_DIR / THOTH_AUDIT_KEY_FILE, and warns when THOTH_AUDIT=off', async () => {
    const elsewhere = await tempDir();
    const ctx = await context({env: {THOTH_AUDIT_DIR: join(elsewhere, 'trail'), THOTH_AUDIT_KEY_FILE: join(elsewhere, 'k.json')}});
    await trail(ctx, 1);
    expect(await auditFact(ctx)).toMatchObject({state: 'ok', path: join(elsewhere, 'trail')});
    const off = await auditFact(await context({env: {THOTH_AUDIT: 'off'}}));
    expect(off).toMatchObject({
      state: 'warn',
      summary: 'the audit trail is off (THOTH_AUDIT, env: THOTH_AUDIT): tool calls are not recorded',
    });
  });

  it('says so when it checked only the newest chains', async () => {
    const ctx = await context();
    await trail(ctx, 4);
    const fact = await auditFact(ctx, {bound: {maxChains: 2, maxBytes: 1 << 20}});
    expect(fact.state).toBe('ok');
    expect(fact.summary).toMatch(
      /^intact: the registry and the newest 2 of 4 chains, \d+ records \(bounded to 2 chains \/ 1 MiB; `thoth audit verify` checks all\)$/,
    );
  });
});

describe('governance fact: judged against the resolved tenant and mode', () => {
  async function wrapped(ctx: HealthContext, flags: {tenantId?: string; enforcementMode?: string}) {
    const host = createConfigHost({env: ctx.env, home: ctx.home, cwd: ctx.cwd, platform: 'linux'});
    await write(
      join(ctx.home, '.config', 'Claude', 'claude_desktop_config.json'),
      JSON.stringify({mcpServers: {github: {command: 'npx', args: ['-y', '@modelcontextprotocol/server-github']}}}),
    );
    const {settings} = await resolveWrapSettings({...flags, profileDir: ctx.settings.profileDir}, host);
    await changeConfigs({action: 'wrap', host, settings});
  }

  it('is ok when every server is wrapped with the managed tenant and mode', async () => {
    const reader = await managedPlist('fixture');
    const ctx = await context({readManagedPreferences: reader});
    expect([ctx.settings.values.tenantId, ctx.settings.values.enforcementMode]).toEqual(['acme', 'progressive']);
    await wrapped(ctx, {tenantId: 'acme', enforcementMode: 'progressive'});
    const fact = await governanceFact(ctx);
    expect(fact).toMatchObject({state: 'ok', allGoverned: true, totals: {governed: 1, notGoverned: 0, drift: 0, ungovernable: 0}});
  });

  it('is fail (drift) when an entry carries another mode than the managed one', async () => {
    const ctx = await context({readManagedPreferences: await managedPlist('fixture')});
    await wrapped(ctx, {tenantId: 'acme', enforcementMode: 'block'});
    const fact = await governanceFact(ctx);
    expect(fact.state).toBe('fail');
    expect(fact.totals).toEqual({governed: 0, notGoverned: 0, drift: 1, ungovernable: 0});
    expect(fact.summary).toBe('servers: 1 drifted (claude-desktop: 1)');
  });
});

describe('heartbeat fact (enrolled states: test/network/heartbeat.test.ts, against a real control plane)', () => {
  it('is "not enrolled" and ok without a tenant; a failure with a tenant but no credential', async () => {
    expect(await heartbeatFact(await context())).toEqual({
      state: 'ok',
      summary: 'not enrolled: no tenant configured (local use)',
      enrolled: false,
      lastHeartbeatAt: null,
    });
    expect(await heartbeatFact(await context({env: {THOTH_TENANT_ID: 'acme'}}))).toMatchObject({state: 'fail', enrolled: false});
    expect(DEFAULT_HEALTH_PROVIDERS.heartbeat).toBe(heartbeatFact);
  });
});
