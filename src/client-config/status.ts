import {isEnforcementMode, type EnforcementMode} from '../core/decision.js';
import {errnoCode, errorMessage} from '../core/errors.js';
import type {PolicyLoadResult} from '../policy/load.js';
import {loadRunPolicy} from '../policy/run-policy.js';
import {resolveSessionSettings} from '../policy/session-settings.js';
import {thothHome} from '../profile/paths.js';
import {loadValidator} from '../util/validators.js';
import {ADAPTERS, CLIENT_IDS, type ClientAdapter} from './clients/index.js';
import type {ClientId} from './clients/types.js';
import {parseConfigDocument} from './document.js';
import {envDrift, flagDrift, launcherDrift, type DriftFinding, type Installation, type InstallationFacts} from './drift.js';
import {entryRecord, parseEntryCommand, wrapDepth} from './entry-edit.js';
import {createConfigHost, type ConfigHost} from './host.js';
import {installationFacts, isPathLike, launcherFacts, onPath, thisInstallation} from './installation.js';
import {assertValid, serverEntries} from './plan.js';
import {readIntentMap, resolveExpectedSettings, type SettingsIo} from './settings.js';
import {discoverTargets, targetForFile, type ConfigTarget} from './targets.js';
import {WRAP_RECORD_KEY} from './wrap-record.js';
import {flagValue, type Launcher} from './wrapped-command.js';

export type {ClientId} from './clients/types.js';

/**
 * `thoth status` as a library: what every MCP server of every client on this machine runs, and
 * whether thoth governs it. `thoth health` (fleet) builds on `collectStatus`.
 *
 * - governed: wrapped once, by a thoth that exists, with the expected settings;
 * - not-governed: the client starts the server directly;
 * - drift: wrapped, but not as wrap-config writes it (thoth missing at the written path, a
 *   launcher that is not this installation, other tenant or mode than expected, a THOTH_* or
 *   other thoth-process variable or a `thoth run` flag wrap-config did not write, wrapped twice,
 *   a form thoth does not understand; see drift.ts);
 * - ungovernable: remote (url) or disabled entries, which thoth cannot sit in front of.
 */
export type ServerState = 'governed' | 'not-governed' | 'drift' | 'ungovernable';

export interface ServerStatus {
  client: ClientId;
  file: string;
  server: string;
  state: ServerState;
  /** The enforcement mode `thoth run` would use for this server, and where it comes from (governed and drifted entries). */
  mode?: string;
  modeSource?: string;
  /** The tenant the entry runs with (its --tenant-id or THOTH_TENANT_ID, else the settings'). */
  tenant?: string;
  intent?: string;
  problems: string[];
  /** JSON pointer of the entry in `file`. */
  pointer: string;
  /** Claude Code's per-project servers: `local:<project path>`. */
  scope?: string;
  /** The server's own command (inside the wrapping when governed). */
  upstream?: string;
  /** Disabled in the client: reported, but not counted against `allGoverned`. */
  disabled?: boolean;
  /** A remote (url) server thoth cannot sit in front of: counted against `allGoverned` unless remote servers are allowed. */
  remote?: boolean;
  /** Flags and variables of the entry that try to change a setting managed preferences set (thoth run refuses them). */
  overrides?: EntryOverride[];
}

export interface EntryOverride {
  /** The setting's variable name (THOTH_AUDIT). */
  setting: string;
  attempted: {source: 'env' | 'flag'; origin: string};
  /** The managed preference that wins. */
  managed: string;
}

export interface ClientStatus {
  client: ClientId;
  file: string;
  found: boolean;
  error?: string;
  servers: ServerStatus[];
  /** `user`, `project`, `msix`, `managed`, `file` ... */
  scope: string;
}

export interface StatusReport {
  clients: ClientStatus[];
  /** `ungovernable` is `remote` + `disabled` + entries of no known kind. */
  counts: {governed: number; notGoverned: number; drift: number; ungovernable: number; remote: number; disabled: number};
  allGoverned: boolean;
  /** THOTH_ALLOW_REMOTE_SERVERS / --allow-remote-servers: remote servers do not count against allGoverned. */
  remoteServersAllowed: boolean;
  /** The thoth a governed entry must run: this installation's launcher and version. */
  installation: {command: string; args: string[]; version: string; thothBins: string[]};
}

export interface StatusOptions {
  env?: NodeJS.ProcessEnv;
  home?: string;
  platform?: NodeJS.Platform;
  cwd?: string;
  files?: string[];
  client?: ClientId;
  expected?: {tenantId?: string; enforcementMode?: string};
  /** Map logical paths below this real directory (tests). */
  root?: string;
  /** Profile directory (intent_map.json); default $THOTH_HOME or ~/.thoth. */
  profileDir?: string;
  host?: ConfigHost;
  /** The thoth a wrapped entry must run (default: this installation, see installation.ts). */
  installation?: Installation;
  /** Settings managed preferences set and that win (SettingDefinition.managedWins): variable name → where. */
  managed?: Record<string, string>;
  /** Remote (url) servers do not count against allGoverned (THOTH_ALLOW_REMOTE_SERVERS). */
  allowRemoteServers?: boolean;
  /** The policy `thoth run` would enforce (for the mode a server resolves to); default: found as run finds it. */
  policy?: PolicyLoadResult;
}

/** What judging one entry needs besides the entry. */
interface Judge {
  host: ConfigHost;
  intentMap: Record<string, string>;
  expected: StatusOptions['expected'];
  installation: Installation;
  own: InstallationFacts;
  managed: Record<string, string>;
  policy: PolicyLoadResult | undefined;
}

export async function collectStatus(options: StatusOptions = {}): Promise<StatusReport> {
  const host = options.host ?? createConfigHost(hostOptions(options));
  const profileDir = options.profileDir ?? thothHome(host.env, host.home);
  const intentMap = await readIntentMap(host, host.path.join(profileDir, 'intent_map.json')).catch(() => ({}) as Record<string, string>);
  const installation = options.installation ?? thisInstallation();
  const judge: Judge = {
    host,
    intentMap,
    expected: options.expected,
    installation,
    own: await installationFacts(host, installation),
    managed: options.managed ?? {},
    policy:
      options.policy ?? (await loadRunPolicy({profileDir, env: host.env, cwd: host.cwd, platform: host.platform}).catch(() => undefined)),
  };
  const clients: ClientStatus[] = [];

  if (options.files && options.files.length > 0) {
    for (const file of options.files) {
      let target: ConfigTarget;
      try {
        target = await targetForFile(host, file, options.client);
      } catch (error) {
        const absolute = host.path.resolve(host.cwd, file);
        const missing = errnoCode(error) === 'ENOENT' || (error as {code?: string}).code === 'CONFIG_NOT_FOUND';
        clients.push({
          client: options.client ?? 'claude-desktop',
          file: absolute,
          found: false,
          scope: 'file',
          servers: [],
          ...(missing ? {} : {error: errorMessage(error)}),
        });
        continue;
      }
      clients.push(await statusOfFile(judge, target));
    }
  } else {
    const ids = options.client ? [options.client] : CLIENT_IDS;
    for (const id of ids) {
      const {found} = await discoverTargets(host, [id]);
      if (found.length === 0) {
        const primary = (await ADAPTERS[id].locations(host))[0];
        clients.push({client: id, file: primary?.file ?? '', found: false, scope: primary?.scope ?? 'user', servers: []});
        continue;
      }
      for (const target of found) clients.push(await statusOfFile(judge, target));
    }
  }
  return summarise(clients, installation, options.allowRemoteServers === true);
}

export interface StatusCommandOptions extends Omit<StatusOptions, 'expected' | 'profileDir' | 'installation' | 'managed'> {
  /**
   * --tenant-id, --enforcement-mode, --thoth-home: they win over every settings layer (the mode
   * not over a managed one); --thoth-bin: executables written by `wrap-config --thoth-bin` that
   * count as this installation.
   */
  flags: {
    tenantId?: string | undefined;
    enforcementMode?: string | undefined;
    profileDir?: string | undefined;
    thothBin?: readonly string[] | undefined;
    allowRemoteServers?: boolean | undefined;
  };
  settingsIo?: SettingsIo;
}

/**
 * `thoth status`: collectStatus with the tenant and mode a wrapped entry should carry taken from
 * the settings resolver (flags > env > managed preferences > settings.json), so that an entry
 * wrapped with other settings than the managed ones shows as drift.
 */
export async function statusWithSettings(options: StatusCommandOptions): Promise<{report: StatusReport; warnings: string[]}> {
  const host = options.host ?? createConfigHost(hostOptions(options));
  const {expected, profileDir, managed, allowRemoteServers, warnings} = await resolveExpectedSettings(
    options.flags,
    host,
    options.settingsIo,
  );
  const {flags, settingsIo: _io, ...rest} = options;
  const thothBins = (flags.thothBin ?? []).map((bin) => (isPathLike(host, bin) ? host.path.resolve(host.cwd, bin) : bin));
  const report = await collectStatus({
    ...rest,
    host,
    expected,
    profileDir,
    managed,
    allowRemoteServers,
    installation: thisInstallation(thothBins),
  });
  return {report, warnings};
}

function hostOptions(options: Omit<StatusOptions, 'expected'>) {
  const out: Parameters<typeof createConfigHost>[0] = {};
  if (options.env) out.env = options.env;
  if (options.home !== undefined) out.home = options.home;
  if (options.platform) out.platform = options.platform;
  if (options.cwd !== undefined) out.cwd = options.cwd;
  if (options.root !== undefined) out.root = options.root;
  return out;
}

function summarise(clients: ClientStatus[], installation: Installation, remoteServersAllowed: boolean): StatusReport {
  const counts = {governed: 0, notGoverned: 0, drift: 0, ungovernable: 0, remote: 0, disabled: 0};
  let allGoverned = true;
  for (const client of clients) {
    if (client.error) allGoverned = false;
    for (const server of client.servers) {
      if (server.state === 'governed') counts.governed++;
      else if (server.state === 'not-governed') counts.notGoverned++;
      else if (server.state === 'drift') counts.drift++;
      else counts.ungovernable++;
      if (server.disabled) counts.disabled++;
      if (server.remote) counts.remote++;
      // Disabled servers never start; remote ones count unless the fleet (or the flag) accepts them.
      if (server.state !== 'governed' && !server.disabled && !(server.remote && remoteServersAllowed)) allGoverned = false;
    }
  }
  const [, ...args] = [installation.launcher.command, ...installation.launcher.prefix];
  return {
    clients,
    counts,
    allGoverned,
    remoteServersAllowed,
    installation: {command: installation.launcher.command, args, version: installation.version, thothBins: [...installation.thothBins]},
  };
}

async function statusOfFile(judge: Judge, target: ConfigTarget): Promise<ClientStatus> {
  const {host} = judge;
  const adapter = ADAPTERS[target.client];
  const status: ClientStatus = {client: target.client, file: target.file, found: true, scope: target.scope, servers: []};
  try {
    const bytes = await host.fs.readFile(target.file);
    const document = parseConfigDocument(target.file, bytes, {jsonc: adapter.jsonc});
    assertValid(document, await loadValidator(adapter.schema));
    for (const entry of serverEntries(document, adapter)) {
      const server: ServerStatus = {
        client: target.client,
        file: target.file,
        server: entry.server,
        pointer: entry.pointer,
        state: 'not-governed',
        problems: [],
      };
      if (entry.scope !== undefined) server.scope = entry.scope;
      await judgeEntry(judge, adapter, entry.server, entry.value, server);
      status.servers.push(server);
    }
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') {
      status.found = false;
      return status;
    }
    status.error = errorMessage(error);
  }
  return status;
}

async function judgeEntry(
  judge: Judge,
  adapter: ClientAdapter,
  name: string,
  value: Record<string, unknown>,
  server: ServerStatus,
): Promise<void> {
  const {host, intentMap, expected} = judge;
  const kind = adapter.classify(value);
  if (kind.kind !== 'stdio') {
    server.state = 'ungovernable';
    server.problems.push(kind.reason);
    if (kind.kind === 'disabled') server.disabled = true;
    if (kind.kind === 'remote') server.remote = true;
    return;
  }
  const parsed = parseEntryCommand(value);
  if (parsed.kind === 'plain') {
    server.state = 'not-governed';
    server.upstream = String(value['command']);
    server.problems.push('the client starts this server directly, without thoth');
    const env = value['env'];
    if (env !== null && typeof env === 'object' && Object.hasOwn(env, WRAP_RECORD_KEY))
      server.problems.push(`left-over ${WRAP_RECORD_KEY} in env (from an unwrap done by hand)`);
    return;
  }
  if (parsed.kind === 'unrecognised') {
    server.state = 'drift';
    server.problems.push(`runs thoth in a form this version does not understand: ${parsed.reason}`);
    return;
  }
  server.upstream = parsed.inner.command;
  const drift: string[] = [];
  const findings: DriftFinding[] = [];
  const depth = wrapDepth(value);
  if (depth > 1) drift.push(`wrapped ${depth} times (wrap-config collapses it to one)`);
  const agent = flagValue(parsed.flags, 'agent-id');
  if (agent !== name) drift.push(agent === undefined ? 'no --agent-id' : `--agent-id is "${agent}", not the server name`);
  const missing = await missingLauncher(host, parsed.launcher);
  drift.push(...missing);
  // A launcher that is gone says so; one that exists must be this installation.
  if (missing.length === 0)
    findings.push(...launcherDrift(parsed.launcher, await launcherFacts(host, parsed.launcher), judge.installation, judge.own));
  const envValue = value['env'];
  const entryEnv =
    envValue !== null && typeof envValue === 'object' && !Array.isArray(envValue) ? (envValue as Record<string, unknown>) : undefined;
  const decoded = entryRecord(value);
  findings.push(...flagDrift(parsed.flags), ...envDrift(entryEnv, decoded === undefined || 'problem' in decoded ? undefined : decoded));
  const overrides: EntryOverride[] = [];
  for (const finding of findings) {
    const managedBy = finding.attempted ? judge.managed[finding.attempted.name] : undefined;
    if (finding.attempted === undefined || managedBy === undefined) {
      drift.push(finding.message);
      continue;
    }
    drift.push(`${finding.message} (managed preferences set ${finding.attempted.name}: thoth run refuses it)`);
    overrides.push({
      setting: finding.attempted.name,
      attempted: {source: finding.attempted.source, origin: finding.attempted.origin},
      managed: managedBy,
    });
  }

  const mode = flagValue(parsed.flags, 'enforcement-mode');
  const intent = flagValue(parsed.flags, 'session-intent');
  if (intent !== undefined) server.intent = intent;
  const mapped = Object.hasOwn(intentMap, name) ? intentMap[name] : undefined;
  // Not drift: an admin's --intent deliberately overrides the map. Worth saying, though.
  if (mapped !== undefined && mapped !== intent) server.problems.push(`intent_map.json gives intent "${mapped}"; wrap-config writes it`);
  const env = (value['env'] ?? {}) as Record<string, unknown>;
  const tenant =
    flagValue(parsed.flags, 'tenant-id') ??
    (Object.hasOwn(env, 'THOTH_TENANT_ID') && typeof env['THOTH_TENANT_ID'] === 'string' ? env['THOTH_TENANT_ID'] : undefined);
  const effectiveTenant = tenant ?? expected?.tenantId;
  if (effectiveTenant !== undefined) server.tenant = effectiveTenant;
  Object.assign(server, resolvedMode(judge, name, mode, env));
  if (expected?.tenantId !== undefined && tenant !== undefined && tenant !== expected.tenantId) {
    drift.push(`tenant is "${tenant}", expected "${expected.tenantId}"`);
  }
  if (expected?.enforcementMode !== undefined && mode !== undefined && mode !== expected.enforcementMode) {
    drift.push(`enforcement mode is "${mode}", expected "${expected.enforcementMode}"`);
    const managedMode = judge.managed['THOTH_ENFORCEMENT_MODE'];
    if (managedMode !== undefined)
      overrides.push({setting: 'THOTH_ENFORCEMENT_MODE', attempted: {source: 'flag', origin: '--enforcement-mode'}, managed: managedMode});
  }
  if (overrides.length > 0) server.overrides = overrides;
  server.state = drift.length > 0 ? 'drift' : 'governed';
  server.problems.push(...drift);
  if (flagValue(parsed.flags, 'api-key') !== undefined)
    server.problems.push('an API key is embedded in the config (readable in the process list); prefer THOTH_API_KEY_FILE');
  const record = entryRecord(value);
  if (record && 'problem' in record) server.problems.push(`${record.problem}: unwrap-config cannot restore the env changes`);
}

/**
 * The mode `thoth run` would use for the entry, as it resolves it (run/compose.ts): a managed mode
 * wins, then the entry's --enforcement-mode, its THOTH_ENFORCEMENT_MODE, the machine's settings;
 * then the policy's mode for the server (which wins when it locks it), else progressive.
 */
function resolvedMode(
  judge: Judge,
  name: string,
  flagMode: string | undefined,
  env: Record<string, unknown>,
): {mode: string; modeSource: string} {
  const envMode = typeof env['THOTH_ENFORCEMENT_MODE'] === 'string' ? env['THOTH_ENFORCEMENT_MODE'] : undefined;
  const managed = judge.managed['THOTH_ENFORCEMENT_MODE'] !== undefined ? judge.expected?.enforcementMode : undefined;
  const candidates: Array<[string | undefined, string]> = [
    [managed, 'managed'],
    [flagMode, 'flag'],
    [envMode, 'env'],
    [judge.expected?.enforcementMode, 'settings'],
  ];
  const chosen = candidates.find(([value]) => isEnforcementMode(value));
  if (judge.policy === undefined || !judge.policy.ok) {
    return chosen === undefined ? {mode: 'progressive', modeSource: 'default'} : {mode: chosen[0]!, modeSource: chosen[1]};
  }
  const resolved = resolveSessionSettings(judge.policy.policy, {
    agentId: name,
    ...(chosen === undefined ? {} : {flagMode: chosen[0] as EnforcementMode}),
  });
  // The built-in policy's progressive is the default, not a policy someone wrote.
  const builtin = judge.policy.policy.source.kind === 'builtin' && resolved.modeSource === 'policy';
  const source = resolved.modeSource === 'flag' && chosen !== undefined ? chosen[1] : builtin ? 'default' : resolved.modeSource;
  return {mode: resolved.mode, modeSource: source};
}

/** The launcher's executable and script must still exist where the config says. */
async function missingLauncher(host: ConfigHost, launcher: Launcher): Promise<string[]> {
  const problems: string[] = [];
  if (isPathLike(host, launcher.command)) {
    if (!(await host.fs.stat(launcher.command))?.isFile) problems.push(`${launcher.command} (written as the thoth command) does not exist`);
  } else if ((await onPath(host, launcher.command)) === undefined) {
    problems.push(`${launcher.command} (written as the thoth command) is not on PATH`);
  }
  for (const item of launcher.prefix) {
    if (host.path.isAbsolute(item) && !(await host.fs.stat(item))?.isFile) problems.push(`${item} (thoth's entry script) does not exist`);
  }
  return problems;
}
