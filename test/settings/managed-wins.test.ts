import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {SETTINGS, SETTING_KEYS} from '../../src/settings/definitions.js';
import {settingFlagsFromRun} from '../../src/settings/for-run.js';
import type {ManagedPreferences} from '../../src/settings/managed.js';
import {settingsReport, renderSettingsText} from '../../src/settings/report.js';
import {resolveSettings, type ResolveSettingsOptions} from '../../src/settings/resolve.js';
import {loadValidator} from '../../src/util/validators.js';
import {tempDir} from '../helpers/tmp.js';

const PLIST = '/Library/Managed Preferences/io.thoth.agent.plist';

function managed(entries: Record<string, unknown>, origin = PLIST): () => Promise<ManagedPreferences> {
  return async () => ({entries: new Map(Object.entries(entries).map(([key, value]) => [key, {value, origin}])), problems: []});
}

async function resolve(options: ResolveSettingsOptions = {}) {
  const home = await tempDir();
  return resolveSettings({env: {}, home, cwd: home, platform: 'linux', ...options});
}

/**
 * What an agent with a file tool writes into its own wrapped entry of an MCP client config
 * (env, and flags before `--`), against what the administrator set by MDM.
 */
const MANAGED = {
  THOTH_POLICY_FILE: '/Library/Application Support/thoth/strict.json',
  THOTH_AUDIT: true,
  THOTH_AUDIT_DIR: '/Users/alice/.thoth/audit',
  THOTH_ENFORCEMENT_MODE: 'block',
  THOTH_ENFORCER_FAILURE_DECISION: 'block',
  THOTH_FILTER_TOOLS: 'on',
};
const ATTACK_ENV = {
  THOTH_POLICY_FILE: '/tmp/allow-all.json',
  THOTH_AUDIT: 'off',
  THOTH_AUDIT_DIR: '/tmp/hidden-trail',
  THOTH_ENFORCEMENT_MODE: 'observe',
  THOTH_ENFORCER_FAILURE_DECISION: 'step_up',
  THOTH_FILTER_TOOLS: 'off',
};
const ATTACK_FLAGS = settingFlagsFromRun({
  policy: '/tmp/allow-all.json',
  auditDir: '/tmp/hidden-trail',
  enforcementMode: 'observe',
  filterTools: false,
});

describe('managed preferences win for the settings that decide governance', () => {
  it('marks exactly policy file, audit on/off and directory, mode, failure decision, tool filtering, command-line approvals and the control-plane key', () => {
    const marked = SETTING_KEYS.filter((key) => SETTINGS[key].managedWins === true);
    expect(marked.sort()).toEqual([
      'auditDir',
      'auditEnabled',
      'cliApprovals',
      'controlPlanePublicKey',
      'enforcementMode',
      'enforcerFailureDecision',
      'filterTools',
      'policyFile',
    ]);
  });

  it('applies the managed value over the environment and records each refused variable, without values', async () => {
    const settings = await resolve({env: ATTACK_ENV, readManagedPreferences: managed(MANAGED)});
    expect(settings.values).toMatchObject({
      policyFile: MANAGED.THOTH_POLICY_FILE,
      auditEnabled: true,
      auditDir: MANAGED.THOTH_AUDIT_DIR,
      enforcementMode: 'block',
      enforcerFailureDecision: 'block',
      filterTools: true,
    });
    expect(settings.origins.auditEnabled).toEqual({source: 'managed', origin: `${PLIST} (THOTH_AUDIT)`});
    expect(settings.overrides.map((o) => [o.name, o.attempted.source, o.attempted.origin, o.managed])).toEqual([
      ['THOTH_ENFORCEMENT_MODE', 'env', 'THOTH_ENFORCEMENT_MODE', `${PLIST} (THOTH_ENFORCEMENT_MODE)`],
      ['THOTH_ENFORCER_FAILURE_DECISION', 'env', 'THOTH_ENFORCER_FAILURE_DECISION', `${PLIST} (THOTH_ENFORCER_FAILURE_DECISION)`],
      ['THOTH_POLICY_FILE', 'env', 'THOTH_POLICY_FILE', `${PLIST} (THOTH_POLICY_FILE)`],
      ['THOTH_FILTER_TOOLS', 'env', 'THOTH_FILTER_TOOLS', `${PLIST} (THOTH_FILTER_TOOLS)`],
      ['THOTH_AUDIT', 'env', 'THOTH_AUDIT', `${PLIST} (THOTH_AUDIT)`],
      ['THOTH_AUDIT_DIR', 'env', 'THOTH_AUDIT_DIR', `${PLIST} (THOTH_AUDIT_DIR)`],
    ]);
    expect(JSON.stringify(settings.overrides)).not.toMatch(/allow-all|hidden-trail|observe|step_up|"off"/);
    expect(settings.problems).toEqual([]);
  });

  it('applies the managed value over the `thoth run` flags (--policy, --audit-dir, --enforcement-mode, --no-filter-tools)', async () => {
    const settings = await resolve({flags: ATTACK_FLAGS, readManagedPreferences: managed(MANAGED)});
    expect(settings.values).toMatchObject({
      policyFile: MANAGED.THOTH_POLICY_FILE,
      auditDir: MANAGED.THOTH_AUDIT_DIR,
      enforcementMode: 'block',
      filterTools: true,
    });
    expect(settings.overrides.map((o) => `${o.attempted.source} ${o.attempted.origin}`).sort()).toEqual([
      'flag --audit-dir',
      'flag --enforcement-mode',
      'flag --no-filter-tools',
      'flag --policy',
    ]);
  });

  it('is not an attempt when the flag or variable asks for the managed value (wrap-config writes the managed mode)', async () => {
    const settings = await resolve({
      flags: {enforcementMode: 'block'},
      env: {THOTH_AUDIT: '1', THOTH_FILTER_TOOLS: 'true'},
      readManagedPreferences: managed(MANAGED),
    });
    expect(settings.overrides).toEqual([]);
  });

  it('counts a value that does not even parse as an attempt, and reports no problem for it (the managed value applies)', async () => {
    const settings = await resolve({env: {THOTH_AUDIT: 'sometimes'}, readManagedPreferences: managed({THOTH_AUDIT: 'on'})});
    expect(settings.values.auditEnabled).toBe(true);
    expect(settings.overrides.map((o) => o.attempted.origin)).toEqual(['THOTH_AUDIT']);
    expect(settings.problems).toEqual([]);
  });

  it('keeps the usual order when managed preferences do not set the setting, or for settings that are not marked', async () => {
    const unmanaged = await resolve({env: ATTACK_ENV});
    expect(unmanaged.values).toMatchObject({
      auditEnabled: false,
      auditDir: '/tmp/hidden-trail',
      filterTools: false,
      enforcementMode: 'observe',
    });
    expect(unmanaged.overrides).toEqual([]);
    const tenant = await resolve({env: {THOTH_TENANT_ID: 'from-env'}, readManagedPreferences: managed({THOTH_TENANT_ID: 'from-managed'})});
    expect(tenant.values.tenantId).toBe('from-env');
    expect(tenant.overrides).toEqual([]);
  });

  it('falls back to the flag or variable (and reports the problem, so thoth run refuses to start) when the managed value is invalid', async () => {
    const settings = await resolve({
      env: {THOTH_ENFORCEMENT_MODE: 'observe'},
      readManagedPreferences: managed({THOTH_ENFORCEMENT_MODE: 'lenient'}),
    });
    expect(settings.values.enforcementMode).toBe('observe');
    expect(settings.problems).toEqual([
      `THOTH_ENFORCEMENT_MODE from ${PLIST} (THOTH_ENFORCEMENT_MODE): must be one of progressive, step_up, block, observe (got "lenient")`,
    ]);
    expect(settings.overrides).toEqual([]);
  });

  it('THOTH_FILTER_TOOLS is a setting of its own: default on, off from the environment or --no-filter-tools', async () => {
    expect((await resolve()).values.filterTools).toBe(true);
    expect((await resolve({env: {THOTH_FILTER_TOOLS: 'off'}})).values.filterTools).toBe(false);
    const flagged = await resolve({flags: settingFlagsFromRun({filterTools: false})});
    expect([flagged.values.filterTools, flagged.origins.filterTools]).toEqual([false, {source: 'flag', origin: '--no-filter-tools'}]);
    expect((await resolve({flags: settingFlagsFromRun({filterTools: true})})).origins.filterTools.source).toBe('default');
  });

  it('--audit-dir is resolved like every other setting (relative to the working directory)', async () => {
    const home = await tempDir();
    const settings = await resolveSettings({
      env: {THOTH_AUDIT_DIR: '/env/dir'},
      home,
      cwd: home,
      platform: 'linux',
      flags: settingFlagsFromRun({auditDir: 'trail'}),
    });
    expect([settings.values.auditDir, settings.origins.auditDir]).toEqual([join(home, 'trail'), {source: 'flag', origin: '--audit-dir'}]);
  });

  it('`thoth config show` lists the refused flags and variables (schema-valid, no values)', async () => {
    const settings = await resolve({env: ATTACK_ENV, readManagedPreferences: managed(MANAGED)});
    const report = settingsReport(settings);
    const validate = await loadValidator('settings-report');
    expect(validate(JSON.parse(JSON.stringify(report))), JSON.stringify(validate.errors)).toBe(true);
    expect(report.overrides).toHaveLength(6);
    const text = renderSettingsText(report);
    expect(text).toContain('refused (managed preferences win):');
    expect(text).toContain(
      `  - environment variable THOTH_AUDIT is ignored: managed preferences set THOTH_AUDIT (${PLIST} (THOTH_AUDIT)), and for this setting they win`,
    );
  });
});

describe('thoth run with managed preferences (settings resolved as thoth run does, governance composed in-process)', () => {
  /**
   * `thoth run` reads managed preferences only on macOS and Windows, so the spawned binary cannot
   * be given any here: the same two calls main.ts makes (prepareRunSettings, composeRunGovernance)
   * run in-process with an injected managed-preference reader, on real files.
   */
  it('keeps the managed policy, audit trail, mode and filtering against a tampered entry, and records each refused override in the trail', async () => {
    const {readFile, readdir, writeFile, copyFile} = await import('node:fs/promises');
    const {existsSync} = await import('node:fs');
    const {parseRunArgs} = await import('../../src/core/run-flags.js');
    const {prepareRunSettings} = await import('../../src/settings/for-run.js');
    const {composeRunGovernance} = await import('../../src/run/compose.js');
    const {readEvents} = await import('../../src/audit/reader.js');
    const {invalidAuditEvents} = await import('../helpers/audit-schemas.js');
    const {REPO_ROOT} = await import('../helpers/cli.js');

    const home = await tempDir();
    const profileDir = join(home, '.thoth');
    const managedPolicy = join(home, 'managed-policy.jsonc');
    await copyFile(join(REPO_ROOT, 'fixtures', 'policies', 'everything-e2e.jsonc'), managedPolicy);
    const allowAll = join(home, 'allow-all.json');
    await writeFile(allowAll, JSON.stringify({version: 'allow-all', agents: {everything: {mode: 'observe'}}}));
    const managedTrail = join(home, 'managed-audit');
    const hiddenTrail = join(home, 'hidden-trail');

    const env = {
      THOTH_HOME: profileDir,
      THOTH_POLICY_FILE: allowAll,
      THOTH_AUDIT: 'off',
      THOTH_ENFORCEMENT_MODE: 'observe',
      THOTH_ENFORCER_FAILURE_DECISION: 'step_up',
    };
    const options = parseRunArgs([
      '--agent-id',
      'everything',
      '--policy',
      allowAll,
      '--audit-dir',
      hiddenTrail,
      '--no-filter-tools',
      '--',
      'npx',
      'server',
    ]);
    const {settings, warnings} = await prepareRunSettings(options, {
      env,
      home,
      cwd: home,
      platform: 'linux',
      who: {uid: 501, username: 'alice'},
      readManagedPreferences: managed({...MANAGED, THOTH_POLICY_FILE: managedPolicy, THOTH_AUDIT_DIR: managedTrail}),
    });
    expect(warnings.filter((w) => w.includes('is ignored: managed preferences set')).length).toBe(settings.overrides.length);
    expect(settings.overrides.map((o) => o.attempted.origin).sort()).toEqual([
      '--audit-dir',
      '--no-filter-tools',
      '--policy',
      'THOTH_AUDIT',
      'THOTH_ENFORCEMENT_MODE',
      'THOTH_ENFORCER_FAILURE_DECISION',
      'THOTH_POLICY_FILE',
    ]);

    const session = {sessionId: 'session-managed', sessionToolCalls: []};
    const diagnostics: string[] = [];
    const governance = await composeRunGovernance(options, session, {env, settings, warn: (message) => diagnostics.push(message)});
    expect(governance.context.mode).toBe('block');
    const listed = await governance.toolsListHook?.onToolsList(
      {
        tools: [
          {name: 'echo', inputSchema: {type: 'object'}},
          {name: 'get-env', inputSchema: {type: 'object'}},
        ],
      },
      governance.context,
    );
    expect((listed?.['tools'] as Array<{name: string}> | undefined)?.map((tool) => tool.name)).toEqual(['echo']);
    await governance.close();

    expect(existsSync(hiddenTrail)).toBe(false);
    const events = (await readEvents(managedTrail)).map((stored) => stored.event);
    const refused = events.filter((event) => event.type === 'SETTING_OVERRIDE_REFUSED');
    expect(refused.map((event) => [event['setting'], event['attemptedSource'], event['attempted']]).sort()).toEqual([
      ['THOTH_AUDIT', 'env', 'THOTH_AUDIT'],
      ['THOTH_AUDIT_DIR', 'flag', '--audit-dir'],
      ['THOTH_ENFORCEMENT_MODE', 'env', 'THOTH_ENFORCEMENT_MODE'],
      ['THOTH_ENFORCER_FAILURE_DECISION', 'env', 'THOTH_ENFORCER_FAILURE_DECISION'],
      ['THOTH_FILTER_TOOLS', 'flag', '--no-filter-tools'],
      ['THOTH_POLICY_FILE', 'env', 'THOTH_POLICY_FILE'],
      ['THOTH_POLICY_FILE', 'flag', '--policy'],
    ]);
    expect(
      refused.every((event) => event['managedOrigin'] === `${PLIST} (${String(event['setting'])})` && event.agentId === 'everything'),
    ).toBe(true);
    expect(events.find((event) => event.type === 'POLICY_LOADED')).toMatchObject({
      policyFile: managedPolicy,
      policyVersion: expect.stringMatching(/^e2e-1@/),
    });
    expect(await invalidAuditEvents(managedTrail)).toEqual([]);
    // The refused values never reach the trail.
    for (const name of await readdir(managedTrail))
      expect(await readFile(join(managedTrail, name), 'utf8')).not.toMatch(/allow-all|hidden-trail|step_up"/);
  });
});
