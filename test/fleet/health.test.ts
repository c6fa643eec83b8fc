import {mkdir, readFile, readdir, writeFile} from 'node:fs/promises';
import {dirname, join} from 'node:path';

import {describe, expect, it} from 'vitest';

import {
  HEALTH_FIELDS,
  healthField,
  intuneDetection,
  jamfDate,
  jamfExtensionAttribute,
  renderHealthText,
} from '../../src/fleet/health-format.js';
import {governanceFromStatus, type HealthProviders, type StatusReportLike} from '../../src/fleet/health-providers.js';
import {collectHealth, type HealthReport} from '../../src/fleet/health.js';
import {resolveEndpointIdentity} from '../../src/fleet/identity.js';
import {resolveSettings} from '../../src/settings/resolve.js';
import {loadValidator} from '../../src/util/validators.js';
import {parseEnvelope, runThoth} from '../helpers/cli.js';
import {SERVER_EVERYTHING, connect} from '../helpers/mcp.js';
import {tempDir} from '../helpers/tmp.js';

const STATUS: StatusReportLike = {
  clients: [
    {
      client: 'claude-desktop',
      file: '/Users/alice/Library/Application Support/Claude/claude_desktop_config.json',
      found: true,
      servers: [{state: 'governed'}, {state: 'governed'}],
    },
    {client: 'cursor', file: '/Users/alice/.cursor/mcp.json', found: true, servers: [{state: 'governed'}]},
    {client: 'windsurf', file: '/Users/alice/.codeium/windsurf/mcp_config.json', found: false, servers: []},
  ],
  counts: {governed: 3, notGoverned: 0, drift: 0, ungovernable: 0},
  allGoverned: true,
};

const OK: HealthProviders = {
  governance: async () => governanceFromStatus(STATUS),
  policy: async () => ({
    state: 'ok',
    summary: 'policy /etc/thoth/policy.json v3 loaded',
    file: '/etc/thoth/policy.json',
    source: 'managed',
  }),
  audit: async () => ({state: 'ok', summary: 'chain intact (42 records)', path: '/Users/alice/.thoth/audit'}),
  heartbeat: async () => ({state: 'ok', summary: 'enrolled', enrolled: true, lastHeartbeatAt: '2026-11-20T09:15:02.000Z'}),
  overrides: async () => ({state: 'ok', summary: 'no attempt to override a managed setting', attempts: []}),
};

async function health(
  options: {env?: Record<string, string>; providers?: Partial<HealthProviders>; version?: string} = {},
): Promise<HealthReport> {
  const settings = await resolveSettings({env: options.env ?? {}, home: await tempDir(), platform: 'linux'});
  const identity = await resolveEndpointIdentity({
    settings: await resolveSettings({env: {THOTH_ENDPOINT_ID: 'ep-42'}, home: await tempDir(), platform: 'linux'}),
  });
  return collectHealth({
    version: options.version ?? '0.3.0',
    settings,
    identity,
    providers: {...OK, ...options.providers},
    context: {now: () => new Date('2026-11-21T10:00:00Z')},
  });
}

describe('collectHealth', () => {
  it('is healthy when every fact is ok, and the report matches schemas/health.schema.json', async () => {
    const report = await health({env: {THOTH_TENANT_ID: 'acme', THOTH_FLEET_ID: 'laptops', THOTH_MIN_VERSION: '0.2.0'}});
    expect(report.status).toBe('healthy');
    expect(report.reasons).toEqual([]);
    expect(report.version).toEqual({current: '0.3.0', minimum: '0.2.0', meetsMinimum: true});
    expect(report.identity).toEqual({endpointId: 'ep-42', source: 'endpoint-id', detail: 'env: THOTH_ENDPOINT_ID', derived: false});
    expect(report.tenant).toEqual({tenantId: 'acme', fleetId: 'laptops', userId: null, env: 'prod', enrollmentSource: 'unmanaged'});
    expect(report.governance.totals).toEqual({governed: 3, notGoverned: 0, drift: 0, ungovernable: 0});
    expect(report.governance.clients.map((client) => [client.client, client.governed])).toEqual([
      ['claude-desktop', 2],
      ['cursor', 1],
      ['windsurf', 0],
    ]);
    expect(report.checkedAt).toBe('2026-11-21T10:00:00.000Z');
    const validate = await loadValidator('health');
    expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
  });

  it('is unhealthy below the minimum version (semver, prereleases included)', async () => {
    const report = await health({env: {THOTH_MIN_VERSION: '0.3.0'}, version: '0.3.0-rc.1'});
    expect(report.status).toBe('unhealthy');
    expect(report.version.meetsMinimum).toBe(false);
    expect(report.reasons).toEqual(['thoth 0.3.0-rc.1 is older than the minimum 0.3.0 (THOTH_MIN_VERSION, env: THOTH_MIN_VERSION)']);
  });

  it('is unhealthy with per-client reasons when servers are not governed or drifted', async () => {
    const report = await health({
      providers: {
        governance: async () =>
          governanceFromStatus({
            clients: [
              {client: 'claude-desktop', file: 'a', found: true, servers: [{state: 'governed'}, {state: 'not-governed'}, {state: 'drift'}]},
              {client: 'vscode', file: 'b', found: true, error: 'b:3:5 at /servers: not valid JSONC', servers: []},
            ],
            counts: {governed: 1, notGoverned: 1, drift: 1, ungovernable: 0},
            allGoverned: false,
          }),
      },
    });
    expect(report.status).toBe('unhealthy');
    expect(report.governance.allGoverned).toBe(false);
    expect(report.reasons).toEqual([
      'governance: servers: 1 not governed (claude-desktop: 1); 1 drifted (claude-desktop: 1); vscode: b:3:5 at /servers: not valid JSONC',
    ]);
  });

  it('is unknown, never ok, when a fact cannot be established; failures still rank first', async () => {
    const unknown = await health({
      providers: {
        policy: async () => ({
          state: 'unknown',
          summary: 'policy status is not available in this build of thoth',
          file: null,
          source: null,
        }),
      },
    });
    expect(unknown.status).toBe('unknown');
    expect(unknown.reasons).toEqual(['policy: policy status is not available in this build of thoth']);
    const both = await health({
      providers: {
        policy: async () => ({state: 'unknown', summary: 'n/a', file: null, source: null}),
        audit: async () => ({state: 'fail', summary: 'record 17 of audit-2026-11.jsonl was edited', path: '/x'}),
      },
    });
    expect(both.status).toBe('unhealthy');
    expect(both.reasons).toEqual(['audit: record 17 of audit-2026-11.jsonl was edited', 'policy: n/a']);
  });

  it('turns a provider that throws into an unknown fact with its message', async () => {
    const report = await health({
      providers: {
        governance: async () => {
          throw new Error('EACCES: permission denied, open /Users/alice/.claude.json');
        },
      },
    });
    expect(report.governance).toEqual({
      state: 'unknown',
      summary: 'the governance check failed: EACCES: permission denied, open /Users/alice/.claude.json',
      allGoverned: null,
      totals: null,
      clients: [],
    });
    expect(report.status).toBe('unknown');
  });

  it('is degraded for warnings only, and unhealthy for invalid settings', async () => {
    expect(
      (
        await health({
          providers: {
            heartbeat: async () => ({
              state: 'warn',
              summary: 'last heartbeat 3 h ago',
              enrolled: true,
              lastHeartbeatAt: '2026-11-21T07:00:00Z',
            }),
          },
        })
      ).status,
    ).toBe('degraded');
    const invalid = await health({env: {THOTH_ENV: 'qa'}});
    expect(invalid.status).toBe('unhealthy');
    expect(invalid.settings.problems).toEqual(['THOTH_ENV from THOTH_ENV: must be one of dev, staging, prod (got "qa")']);
  });

  it('by default reports heartbeat as not enrolled without a tenant, and a tenant without a credential as a failure', async () => {
    const {DEFAULT_HEALTH_PROVIDERS} = await import('../../src/fleet/health-providers.js');
    const local = await health({providers: {heartbeat: DEFAULT_HEALTH_PROVIDERS.heartbeat}});
    expect(local.heartbeat).toEqual({
      state: 'ok',
      summary: 'not enrolled: no tenant configured (local use)',
      enrolled: false,
      lastHeartbeatAt: null,
    });
    // The enrolled states are covered against a real control plane in test/network/heartbeat.test.ts.
    const fleet = await health({env: {THOTH_TENANT_ID: 'acme'}, providers: {heartbeat: DEFAULT_HEALTH_PROVIDERS.heartbeat}});
    expect(fleet.heartbeat.state).toBe('fail');
    expect(fleet.heartbeat.enrolled).toBe(false);
  });
});

describe('MDM formats', () => {
  it('picks any field for a Jamf extension attribute', async () => {
    const report = await health({env: {THOTH_TENANT_ID: 'acme', THOTH_MIN_VERSION: '0.1.0'}});
    const values = Object.fromEntries(HEALTH_FIELDS.map((field) => [field, healthField(report, field)]));
    expect(values).toEqual({
      status: 'healthy',
      governed: 'true',
      version: '0.3.0',
      'meets-min-version': 'true',
      'endpoint-id': 'ep-42',
      'identity-source': 'endpoint-id',
      tenant: 'acme',
      fleet: '',
      env: 'prod',
      'enrollment-source': 'unmanaged',
      'governed-count': '3',
      'not-governed-count': '0',
      'drift-count': '0',
      'ungovernable-count': '0',
      drift: '',
      'override-attempts': '0',
      policy: 'ok',
      audit: 'ok',
      heartbeat: 'ok',
      'last-heartbeat': '2026-11-20 09:15:02',
      reasons: '',
    });
  });

  it('prints exactly one <result> with nothing that could break the tags', () => {
    expect(jamfExtensionAttribute('healthy')).toBe('<result>healthy</result>');
    expect(jamfExtensionAttribute('a <b>\nc')).toBe('<result>a _b_ c</result>');
    expect(jamfDate(null)).toBe('');
  });

  it('Intune detection: only when at least the minimum version and every server governed', async () => {
    expect(intuneDetection(await health())).toEqual({detected: true, line: 'thoth 0.3.0 detected: 3 servers governed'});
    expect(intuneDetection(await health({env: {THOTH_MIN_VERSION: '1.0.0'}})).detected).toBe(false);
    const unknown = await health({
      providers: {governance: async () => ({state: 'unknown', summary: 'n/a', allGoverned: null, totals: null, clients: []})},
    });
    expect(intuneDetection(unknown).detected).toBe(false);
    const drift = await health({
      providers: {governance: async () => governanceFromStatus({...STATUS, counts: {...STATUS.counts, drift: 1}, allGoverned: false})},
    });
    expect(intuneDetection(drift).detected).toBe(false);
  });

  it('renders a readable summary', async () => {
    const text = renderHealthText(await health({env: {THOTH_TENANT_ID: 'acme'}}));
    expect(text).toContain('status      healthy\n');
    expect(text).toContain('  claude-desktop  2 governed, 0 not governed, 0 drift\n');
    expect(text).not.toContain('windsurf');
  });
});

describe('thoth health (the built CLI)', () => {
  /**
   * A home where Claude Desktop (Linux location) starts the official "everything" server and a
   * filesystem server, wrapped by the real `thoth wrap-config`.
   */
  async function wrappedHome(wrapFlags: string[] = []) {
    const home = await tempDir();
    const configFile = join(home, '.config', 'Claude', 'claude_desktop_config.json');
    await mkdir(dirname(configFile), {recursive: true});
    const config = {
      mcpServers: {
        everything: {command: SERVER_EVERYTHING.command, args: SERVER_EVERYTHING.args},
        files: {command: 'npx', args: ['-y', '@modelcontextprotocol/server-filesystem', home]},
      },
      preferences: {quickEntryShortcut: 'off'},
    };
    await writeFile(configFile, `${JSON.stringify(config, null, 2)}\n`);
    const env = {HOME: home, THOTH_HOME: join(home, '.thoth'), THOTH_ENDPOINT_ID: 'ep-7'};
    const wrap = await runThoth(['wrap-config', ...wrapFlags], {env});
    expect([wrap.code, wrap.stderr]).toEqual([0, '']);
    return {home, configFile, env};
  }

  async function healthJson(env: Record<string, string>) {
    const run = await runThoth(['health', '--json'], {env});
    const envelope = parseEnvelope<HealthReport>(run.stdout);
    const validate = await loadValidator('health');
    expect(validate(envelope.result), JSON.stringify(validate.errors)).toBe(true);
    expect(envelope.status).toBe(run.code);
    return {code: run.code, report: envelope.result!};
  }

  it('every server wrapped by wrap-config: healthy, exit 0; Intune detects it; Jamf reads governed=true', async () => {
    const {env} = await wrappedHome();
    const {code, report} = await healthJson(env);
    expect(report.reasons).toEqual([]);
    expect([code, report.status]).toEqual([0, 'healthy']);
    expect(report.governance).toMatchObject({
      state: 'ok',
      allGoverned: true,
      totals: {governed: 2, notGoverned: 0, drift: 0, ungovernable: 0},
    });
    expect(report.policy).toMatchObject({state: 'ok', source: 'builtin', file: null});
    expect(report.audit).toMatchObject({state: 'ok', summary: 'no audit log yet'});
    expect(report.heartbeat).toMatchObject({state: 'ok', enrolled: false});

    const detect = await runThoth(['health', '--intune-detect'], {env});
    expect(detect.code).toBe(0);
    expect(detect.stdout).toMatch(/^thoth \d+\.\d+\.\d+\S* detected: 2 servers governed\n$/);
    const governed = await runThoth(['health', '--format', 'jamf-ea', '--field', 'governed'], {env});
    expect([governed.code, governed.stdout]).toEqual([0, '<result>true</result>\n']);
    const status = await runThoth(['health', '--format', 'jamf-ea'], {env});
    expect(status.stdout).toBe('<result>healthy</result>\n');
    const text = await runThoth(['health'], {env});
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('status      healthy\n');
  });

  it('a server the user added since: not governed, exit 11; Intune prints nothing and exits 1; Jamf reads governed=false', async () => {
    const {env, configFile} = await wrappedHome();
    const config = JSON.parse(await readFile(configFile, 'utf8')) as {mcpServers: Record<string, unknown>};
    config.mcpServers['sqlite'] = {command: 'uvx', args: ['mcp-server-sqlite', '--db-path', '/tmp/x.db']};
    await writeFile(configFile, JSON.stringify(config, null, 2));
    const {code, report} = await healthJson(env);
    expect([code, report.status]).toEqual([11, 'unhealthy']);
    expect(report.reasons).toEqual(['governance: servers: 1 not governed (claude-desktop: 1)']);

    const detect = await runThoth(['health', '--intune-detect'], {env});
    expect([detect.code, detect.stdout]).toEqual([1, '']);
    const governed = await runThoth(['health', '--format', 'jamf-ea', '--field', 'governed'], {env});
    expect([governed.code, governed.stdout]).toEqual([0, '<result>false</result>\n']);
    const count = await runThoth(['health', '--format', 'jamf-ea', '--field', 'not-governed-count'], {env});
    expect(count.stdout).toBe('<result>1</result>\n');
  });

  it('entries wrapped with another mode than THOTH_ENFORCEMENT_MODE (settings.json) are drift until wrap-config runs again', async () => {
    const {env, home} = await wrappedHome(['--enforcement-mode', 'progressive']);
    expect((await healthJson(env)).code).toBe(0);
    await writeFile(join(home, '.thoth', 'settings.json'), '{"THOTH_ENFORCEMENT_MODE": "block"}');
    const {code, report} = await healthJson(env);
    expect(code).toBe(11);
    expect(report.governance.totals).toEqual({governed: 0, notGoverned: 0, drift: 2, ungovernable: 0});
    // What the Intune remediation runs: wrap-config takes the mode from the same settings.
    expect((await runThoth(['wrap-config'], {env})).code).toBe(0);
    expect((await healthJson(env)).report.status).toBe('healthy');
    expect(await readFile(join(home, '.config', 'Claude', 'claude_desktop_config.json'), 'utf8')).toContain(
      '"--enforcement-mode",\n        "block"',
    );
  });

  it('a broken policy file: policy fail with file:line:col at /pointer, exit 11', async () => {
    const {env, home} = await wrappedHome();
    const policy = join(home, '.thoth', 'policy.json');
    await writeFile(policy, '{\n  "agents": {\n    "everything": {"mode": "blok"}\n  }\n}\n');
    const {code, report} = await healthJson(env);
    expect([code, report.status]).toEqual([11, 'unhealthy']);
    expect(report.policy).toMatchObject({state: 'fail', file: policy, source: 'profile'});
    expect(report.policy.summary).toMatch(
      new RegExp(
        `^${escape(policy)}:3:20 at /agents/everything/mode: must be one of "progressive", "step_up", "block", "observe"; check it with: thoth policy validate ${escape(policy)} \\(the profile\\)$`,
      ),
    );
    expect(report.reasons).toEqual([`policy: ${report.policy.summary}`]);
    const field = await runThoth(['health', '--format', 'jamf-ea', '--field', 'policy'], {env});
    expect(field.stdout).toBe('<result>fail</result>\n');
  });

  it('the audit trail of a real session through the wrapped entry: intact → ok; one edited record → audit fail', async () => {
    const {env, configFile} = await wrappedHome();
    const entry = (JSON.parse(await readFile(configFile, 'utf8')) as {mcpServers: Record<string, {command: string; args: string[]}>})
      .mcpServers['everything']!;
    const connection = await connect({command: entry.command, args: entry.args}, {env});
    const echoed = await connection.client.callTool({name: 'echo', arguments: {message: 'audited hello'}});
    await connection.close();
    expect(JSON.stringify(echoed)).toContain('audited hello');

    const intact = await healthJson(env);
    expect(intact.report.audit.state).toBe('ok');
    expect(intact.report.audit.summary).toMatch(/^intact: 1 chain and the registry, \d+ records$/);
    expect(intact.code).toBe(0);

    const dir = join(env.THOTH_HOME, 'audit');
    const [segment] = (await readdir(dir)).filter((name) => name.endsWith('-000000.jsonl'));
    const path = join(dir, segment!);
    const text = await readFile(path, 'utf8');
    expect(text).toContain('audited hello');
    await writeFile(path, text.replace('audited hello', 'edited hello'));
    const tampered = await healthJson(env);
    expect([tampered.code, tampered.report.status, tampered.report.audit.state]).toEqual([11, 'unhealthy', 'fail']);
    expect(tampered.report.audit.summary).toMatch(new RegExp(`^tampered: ${escape(segment!)}:\\d+: `));
    const field = await runThoth(['health', '--format', 'jamf-ea', '--field', 'audit'], {env});
    expect(field.stdout).toBe('<result>fail</result>\n');
  });

  it('with a tenant but no credential, the heartbeat fails (exit 11), and the version fact is real', async () => {
    const home = await tempDir();
    const run = await runThoth(['health', '--json'], {
      env: {HOME: home, THOTH_HOME: join(home, '.thoth'), THOTH_TENANT_ID: 'acme', THOTH_ENDPOINT_ID: 'ep-7', THOTH_MIN_VERSION: '0.0.1'},
    });
    expect(run.code).toBe(11);
    const envelope = parseEnvelope<HealthReport>(run.stdout);
    expect(envelope.result!.identity.endpointId).toBe('ep-7');
    expect(envelope.result!.version.meetsMinimum).toBe(true);
    expect(envelope.result!.reasons).toEqual([
      'heartbeat: not enrolled: GovAPI https://grid.acme.atensecurity.com is configured but no credential is configured (store an API key with `thoth api-key set`, or set THOTH_GOVAPI_BEARER_TOKEN or THOTH_GOVAPI_API_KEY)',
    ]);
  });

  it('--format jamf-ea --field prints exactly one <result> line and exits 0', async () => {
    const home = await tempDir();
    const env = {HOME: home, THOTH_HOME: join(home, '.thoth')};
    const version = await runThoth(['health', '--format', 'jamf-ea', '--field', 'version'], {env});
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^<result>\d+\.\d+\.\d+<\/result>\n$/);
    const tooOld = await runThoth(['health', '--format', 'jamf-ea', '--field', 'meets-min-version', '--min-version', '99.0.0'], {env});
    expect(tooOld.stdout).toBe('<result>false</result>\n');
    const tooOldDetect = await runThoth(['health', '--intune-detect', '--min-version', '99.0.0'], {env});
    expect([tooOldDetect.code, tooOldDetect.stdout]).toEqual([1, '']);
  });

  it.each([
    [['--json', '--format', 'jamf-ea'], '--format jamf-ea cannot be combined with --json or --intune-detect'],
    [['--json', '--intune-detect'], '--intune-detect cannot be combined with --json'],
    [['--field', 'governed'], '--field needs --format jamf-ea'],
  ])('rejects %j with a one-line usage error', async (args, message) => {
    const run = await runThoth(['health', ...args], {env: {THOTH_HOME: await tempDir()}});
    expect(run.code).toBe(2);
    expect(run.stderr.split('\n')[0]).toBe(`thoth: error: ${message}`);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
