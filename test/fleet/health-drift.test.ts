import {mkdir, readFile, writeFile} from 'node:fs/promises';
import {dirname, join} from 'node:path';

import {describe, expect, it} from 'vitest';

import type {StatusReport} from '../../src/client-config/status.js';
import {healthField, intuneDetection, renderHealthText} from '../../src/fleet/health-format.js';
import {checkHealth, type HealthReport} from '../../src/fleet/health.js';
import type {ManagedPreferences} from '../../src/settings/managed.js';
import {loadValidator} from '../../src/util/validators.js';
import {invalidAuditEvents} from '../helpers/audit-schemas.js';
import {THOTH_BIN, parseEnvelope, runThoth} from '../helpers/cli.js';
import {SERVER_EVERYTHING} from '../helpers/mcp.js';
import {tempDir} from '../helpers/tmp.js';

/**
 * What an agent with a file tool can do to its own wrapped entry in the user's MCP client config,
 * and what `thoth status` / `thoth health` (and so Jamf and Intune) see of it.
 */

interface Entry {
  command: string;
  args: string[];
  env?: Record<string, string>;
}

/** A home with Claude Desktop's config (Linux location) wrapped by the real `thoth wrap-config`. */
async function wrappedHome() {
  const home = await tempDir();
  const configFile = join(home, '.config', 'Claude', 'claude_desktop_config.json');
  await mkdir(dirname(configFile), {recursive: true});
  const original = `${JSON.stringify({mcpServers: {everything: {command: SERVER_EVERYTHING.command, args: SERVER_EVERYTHING.args}}}, null, 2)}\n`;
  await writeFile(configFile, original);
  const env = {HOME: home, THOTH_HOME: join(home, '.thoth'), THOTH_ENDPOINT_ID: 'ep-7'};
  const wrap = await runThoth(['wrap-config'], {env});
  expect([wrap.code, wrap.stderr]).toEqual([0, '']);
  const read = async () => (JSON.parse(await readFile(configFile, 'utf8')) as {mcpServers: {everything: Entry}}).mcpServers.everything;
  const edit = async (change: (entry: Entry) => void) => {
    const entry = await read();
    change(entry);
    await writeFile(configFile, `${JSON.stringify({mcpServers: {everything: entry}}, null, 2)}\n`);
  };
  return {home, configFile, env, original, read, edit};
}

async function healthJson(env: Record<string, string>): Promise<{code: number | null; report: HealthReport}> {
  const run = await runThoth(['health', '--json'], {env});
  const envelope = parseEnvelope<HealthReport>(run.stdout);
  const validate = await loadValidator('health');
  expect(validate(envelope.result), JSON.stringify(validate.errors)).toBe(true);
  return {code: run.code, report: envelope.result!};
}

async function detection(env: Record<string, string>) {
  const detect = await runThoth(['health', '--intune-detect'], {env});
  const drift = await runThoth(['health', '--format', 'jamf-ea', '--field', 'drift-count'], {env});
  const governed = await runThoth(['health', '--format', 'jamf-ea', '--field', 'governed'], {env});
  return {intune: [detect.code, detect.stdout], driftCount: drift.stdout, governed: governed.stdout};
}

describe("thoth health and status see an agent's edits to its own wrapped entry (the built CLI)", () => {
  it('env THOTH_AUDIT=off and --policy: drift, exit 11, Intune not detected, Jamf governed=false; wrap-config repairs it; unwrap gives the original back', async () => {
    const h = await wrappedHome();
    expect((await healthJson(h.env)).code).toBe(0);
    await h.edit((entry) => {
      entry.env = {...entry.env, THOTH_AUDIT: 'off'};
      entry.args.splice(entry.args.indexOf('run') + 1, 0, '--policy', '/tmp/allow-all.json');
    });

    const {code, report} = await healthJson(h.env);
    expect([code, report.status, report.governance.totals?.drift]).toEqual([11, 'unhealthy', 1]);
    expect(report.governance.drifted).toEqual([
      {
        client: 'claude-desktop',
        server: 'everything',
        problems: [
          'flag --policy /tmp/allow-all.json was not written by wrap-config',
          'env THOTH_AUDIT=off was not written by wrap-config',
        ],
      },
    ]);
    expect(await detection(h.env)).toEqual({intune: [1, ''], driftCount: '<result>1</result>\n', governed: '<result>false</result>\n'});
    const status = await runThoth(['status'], {env: h.env});
    expect(status.code).toBe(11);
    expect(status.stdout).toContain(
      '  ! everything  drift: flag --policy /tmp/allow-all.json was not written by wrap-config; env THOTH_AUDIT=off was not written by wrap-config',
    );

    const repair = await runThoth(['wrap-config'], {env: h.env});
    expect(repair.code).toBe(0);
    expect(repair.stdout).toContain('updated    everything');
    const repaired = await h.read();
    // The env block the agent added stays, empty: thoth cannot tell it from an `"env": {}` the user wrote.
    expect([repaired.env, repaired.args.includes('--policy')]).toEqual([{}, false]);
    expect((await healthJson(h.env)).report.status).toBe('healthy');
    expect((await runThoth(['unwrap-config'], {env: h.env})).code).toBe(0);
    expect(JSON.parse(await readFile(h.configFile, 'utf8'))).toEqual({mcpServers: {everything: {...SERVER_EVERYTHING, env: {}}}});
  });

  it("a fake bin/run.js that runs the server without thoth: drift naming its path and this installation's", async () => {
    const h = await wrappedHome();
    const fake = join(await tempDir(), 'bin', 'run.js');
    await mkdir(dirname(fake), {recursive: true});
    await writeFile(
      fake,
      "const {spawnSync} = require('node:child_process');\nconst at = process.argv.indexOf('--');\nprocess.exit(spawnSync(process.argv[at + 1], process.argv.slice(at + 2), {stdio: 'inherit'}).status ?? 1);\n",
    );
    await h.edit((entry) => {
      entry.args[0] = fake;
    });
    const {code, report} = await healthJson(h.env);
    expect(code).toBe(11);
    expect(report.governance.drifted?.[0]?.problems).toEqual([
      `runs ${process.execPath} ${fake}, not this installation (${process.execPath} ${THOTH_BIN}, thoth ${report.version.current})`,
    ]);
    expect(await detection(h.env)).toEqual({intune: [1, ''], driftCount: '<result>1</result>\n', governed: '<result>false</result>\n'});
  });

  it('npx thoth-mcp@9.9.9 (any version a package runner fetches): drift; wrap-config puts this installation back', async () => {
    const h = await wrappedHome();
    await h.edit((entry) => {
      entry.command = 'npx';
      entry.args = ['-y', 'thoth-mcp@9.9.9', ...entry.args.slice(1)];
    });
    const {code, report} = await healthJson(h.env);
    expect(code).toBe(11);
    expect(report.governance.drifted?.[0]?.problems).toEqual([
      `runs npx -y thoth-mcp@9.9.9, not this installation (${process.execPath} ${THOTH_BIN}, thoth ${report.version.current})`,
    ]);
    expect((await detection(h.env)).intune).toEqual([1, '']);
    expect((await runThoth(['wrap-config'], {env: h.env})).code).toBe(0);
    expect((await h.read()).command).toBe(process.execPath);
    expect((await healthJson(h.env)).code).toBe(0);
  });
});

describe('thoth health with managed preferences (library call with an injected reader: only macOS and Windows read them)', () => {
  const PLIST = '/Library/Managed Preferences/io.thoth.agent.plist';
  const managed = (entries: Record<string, unknown>) => async (): Promise<ManagedPreferences> => ({
    entries: new Map(Object.entries(entries).map(([key, value]) => [key, {value, origin: PLIST}])),
    problems: [],
  });

  it("reports override attempts in the configs, in recent sessions' trail and in its own environment as warn; the drift still fails", async () => {
    const h = await wrappedHome();
    const auditDir = join(h.home, 'managed-audit');
    const readManagedPreferences = managed({THOTH_AUDIT: 'on', THOTH_AUDIT_DIR: auditDir, THOTH_ENFORCEMENT_MODE: 'progressive'});

    // A session refused an override the config does not show (the client's own environment).
    const {prepareRunSettings} = await import('../../src/settings/for-run.js');
    const {composeRunGovernance} = await import('../../src/run/compose.js');
    const {parseRunArgs} = await import('../../src/core/run-flags.js');
    const runEnv = {...h.env, THOTH_ENFORCEMENT_MODE: 'observe'};
    const options = parseRunArgs(['--agent-id', 'everything', '--', 'npx', 'server']);
    const {settings} = await prepareRunSettings(options, {
      env: runEnv,
      home: h.home,
      cwd: h.home,
      platform: 'linux',
      who: {uid: 501, username: 'alice'},
      readManagedPreferences,
    });
    const governance = await composeRunGovernance(
      options,
      {sessionId: 's-1', sessionToolCalls: []},
      {env: runEnv, settings, warn: () => undefined},
    );
    await governance.close();
    expect(await invalidAuditEvents(auditDir)).toEqual([]);

    // The agent's edit of its own entry.
    const entry = await h.read();
    await h.edit((e) => {
      e.env = {...e.env, THOTH_AUDIT: 'off'};
    });

    const check = (env: Record<string, string>) =>
      checkHealth({version: '0.1.0', env, home: h.home, cwd: h.home, platform: 'linux', readManagedPreferences, now: () => new Date()});
    const {report} = await check({...h.env, THOTH_AUDIT_DIR: '/tmp/elsewhere'});
    const validate = await loadValidator('health');
    expect(validate(JSON.parse(JSON.stringify(report))), JSON.stringify(validate.errors)).toBe(true);
    expect(report.status).toBe('unhealthy');
    expect(report.governance.drifted?.[0]?.problems).toEqual([
      'env THOTH_AUDIT=off was not written by wrap-config (managed preferences set THOTH_AUDIT: thoth run refuses it)',
    ]);
    expect(report.overrides.state).toBe('warn');
    expect(report.overrides.attempts.map((a) => [a.seen, a.setting, a.attempted.source, a.attempted.origin, a.where, a.count])).toEqual([
      ['config', 'THOTH_AUDIT', 'env', 'THOTH_AUDIT', 'claude-desktop everything', 1],
      ['environment', 'THOTH_AUDIT_DIR', 'env', 'THOTH_AUDIT_DIR', 'thoth health', 1],
      ['trail', 'THOTH_ENFORCEMENT_MODE', 'env', 'THOTH_ENFORCEMENT_MODE', 'everything', 1],
    ]);
    expect(report.overrides.attempts.every((a) => a.managed.startsWith(PLIST))).toBe(true);
    expect(report.reasons).toContain(`overrides: ${report.overrides.summary}`);
    expect(healthField(report, 'override-attempts')).toBe('3');
    expect(healthField(report, 'drift')).toBe(
      'claude-desktop/everything: env THOTH_AUDIT=off was not written by wrap-config (managed preferences set THOTH_AUDIT: thoth run refuses it)',
    );
    expect(intuneDetection(report).detected).toBe(false);
    const text = renderHealthText(report);
    expect(text).toContain(
      'overrides   warn: 3 attempts to override a managed setting (the managed value applies): THOTH_AUDIT by env THOTH_AUDIT in claude-desktop everything;',
    );
    expect(text).toContain(
      '  claude-desktop  0 governed, 0 not governed, 1 drift\n    ! everything: env THOTH_AUDIT=off was not written by wrap-config',
    );

    // Repaired entry, a clean environment: only the recorded refusal remains, which is a warning, not a failure.
    await writeFile(h.configFile, `${JSON.stringify({mcpServers: {everything: entry}}, null, 2)}\n`);
    const repaired = (await check(h.env)).report;
    expect([repaired.status, repaired.governance.state, repaired.overrides.state, repaired.overrides.attempts.length]).toEqual([
      'degraded',
      'ok',
      'warn',
      1,
    ]);
    expect(intuneDetection(repaired).detected).toBe(true);
  });

  it("status --json lists an entry's override attempts (schema-valid)", async () => {
    const h = await wrappedHome();
    await h.edit((entry) => {
      entry.args.splice(entry.args.indexOf('run') + 1, 0, '--no-filter-tools');
    });
    const run = await runThoth(['status', '--json'], {env: h.env});
    const report = parseEnvelope<StatusReport>(run.stdout).result!;
    expect(run.code).toBe(11);
    expect(await (await loadValidator('status'))(report)).toBe(true);
    expect(report.clients[0]!.servers[0]!.problems).toEqual(['flag --no-filter-tools was not written by wrap-config']);
    expect(report.installation).toEqual({
      command: process.execPath,
      args: [THOTH_BIN],
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      thothBins: [],
    });
  });
});
