import {fileURLToPath} from 'node:url';

import {ThothError, errnoCode} from '../core/errors.js';
import {ExitCode} from '../core/exit-codes.js';
import {PROFILE_FILES} from '../profile/paths.js';
import {
  describeOverride,
  managedWinners,
  resolveSettings,
  type ResolveSettingsOptions,
  type ResolvedSettings,
} from '../settings/resolve.js';
import {invalidConfig} from './config-error.js';
import {parseConfigDocument} from './document.js';
import type {WrapSettings} from './entry-edit.js';
import type {ConfigHost} from './host.js';
import {WRAP_ENV_KEYS, isThothProcessKey, isWrapEnvKey} from './drift.js';
import {WRAP_RECORD_KEY} from './wrap-record.js';
import type {Launcher} from './wrapped-command.js';

/** The flags of `thoth wrap-config` that shape the wrapped entries. */
export interface WrapFlags {
  tenantId?: string;
  enforcementMode?: string;
  intent?: string;
  env?: readonly string[];
  embedApiKey?: boolean;
  thothBin?: string;
  /** Profile directory override (--thoth-home); default $THOTH_HOME or ~/.thoth. */
  profileDir?: string;
}

export interface ResolvedWrapSettings {
  settings: WrapSettings;
  /** Where the API key came from when --embed-api-key was given (never the key itself). */
  apiKeySource?: string;
  /** Flags and variables refused because managed preferences set the setting (e.g. --enforcement-mode). */
  warnings: string[];
}

/** Absolute path of this thoth's entry script (`bin/run.js` next to dist/). */
export function ownEntryScript(): string {
  return fileURLToPath(new URL('../../bin/run.js', import.meta.url));
}

/**
 * The default launcher: the node running this thoth and thoth's own entry script, both absolute.
 * Clients start servers with a minimal PATH (macOS: /usr/bin:/bin:/usr/sbin:/sbin), in which a
 * `#!/usr/bin/env node` script would not find node.
 */
export function ownLauncher(): Launcher {
  return {command: process.execPath, prefix: [ownEntryScript()]};
}

/** What the settings resolver needs besides the host: injectable managed-preference readers (tests). */
export type SettingsIo = Pick<ResolveSettingsOptions, 'readManagedPreferences' | 'readRegistry' | 'runCommand' | 'fsRoot' | 'username'>;

/**
 * The settings of wrap-config. Tenant, enforcement mode, the API key (file) and the profile
 * directory come from the one settings resolver, so managed preferences (macOS plist, Windows
 * policy key) and `~/.thoth/settings.json` reach them; `--tenant-id` wins over every layer,
 * `--enforcement-mode` over every layer but a managed mode (see SettingDefinition.managedWins:
 * thoth run would refuse another mode anyway, and status would call the entry drift). An invalid value of a setting that would be written into the entries is an
 * error: a wrong tenant or mode written into every config would make `thoth run` refuse them.
 */
export async function resolveWrapSettings(flags: WrapFlags, host: ConfigHost, io: SettingsIo = {}): Promise<ResolvedWrapSettings> {
  const resolved = await resolveFor(flags, host, io);
  assertUsable(problemsOf(resolved, ['THOTH_TENANT_ID', 'THOTH_ENFORCEMENT_MODE']), 'wrap-config');
  const {values} = resolved;
  const settings: WrapSettings = {
    launcher: flags.thothBin === undefined ? ownLauncher() : launcherFromFlag(flags.thothBin, host),
    intentMap: await readIntentMap(host, host.path.join(resolved.profileDir, PROFILE_FILES.intentMap)),
    env: parseEnvFlags(flags.env ?? []),
  };
  if (values.tenantId !== undefined) settings.tenantId = values.tenantId;
  if (values.enforcementMode !== undefined) settings.enforcementMode = values.enforcementMode;
  if (flags.intent !== undefined && flags.intent !== '') settings.intent = flags.intent;
  const result: ResolvedWrapSettings = {settings, warnings: resolved.overrides.map(describeOverride)};
  if (flags.embedApiKey) {
    const found = apiKey(resolved);
    settings.apiKey = found.key;
    result.apiKeySource = found.source;
  }
  return result;
}

/** The settings flags the config commands (status, wrap-config, health) accept. */
export interface ConfigCommandFlags {
  tenantId?: string | undefined;
  enforcementMode?: string | undefined;
  profileDir?: string | undefined;
  allowRemoteServers?: boolean | undefined;
}

/**
 * The tenant and mode `thoth status` and `thoth health` expect a wrapped entry to carry, from the
 * settings resolver (flags win). An invalid flag is a usage error; an invalid value from another
 * layer is left out and reported in `warnings`.
 */
export async function resolveExpectedSettings(
  flags: ConfigCommandFlags,
  host: ConfigHost,
  io: SettingsIo = {},
): Promise<{
  expected: {tenantId?: string; enforcementMode?: string};
  profileDir: string;
  managed: Record<string, string>;
  allowRemoteServers: boolean;
  warnings: string[];
}> {
  const resolved = await resolveFor(flags, host, io);
  const expected: {tenantId?: string; enforcementMode?: string} = {};
  if (resolved.values.tenantId !== undefined) expected.tenantId = resolved.values.tenantId;
  if (resolved.values.enforcementMode !== undefined) expected.enforcementMode = resolved.values.enforcementMode;
  const problems = problemsOf(resolved, ['THOTH_TENANT_ID', 'THOTH_ENFORCEMENT_MODE', 'THOTH_ALLOW_REMOTE_SERVERS']);
  // A flag is what the user typed now: refuse it. A lower layer is reported, and the next one used.
  assertUsable(problems.filter(fromFlag), 'status');
  const warnings = [...problems.map((problem) => `invalid setting ignored: ${problem}`), ...resolved.overrides.map(describeOverride)];
  return {
    expected,
    profileDir: resolved.profileDir,
    managed: managedWinners(resolved),
    allowRemoteServers: resolved.values.allowRemoteServers,
    warnings,
  };
}

/** The one settings resolver, on the host's machine, with the config commands' flags on top. */
function resolveFor(flags: ConfigCommandFlags, host: ConfigHost, io: SettingsIo): Promise<ResolvedSettings> {
  return resolveSettings({
    ...io,
    env: host.env,
    home: host.home,
    cwd: host.cwd,
    platform: host.platform,
    ...(flags.profileDir === undefined ? {} : {profileDir: flags.profileDir}),
    flags: {tenantId: flags.tenantId, enforcementMode: flags.enforcementMode, allowRemoteServers: flags.allowRemoteServers},
  });
}

function problemsOf(resolved: ResolvedSettings, names: readonly string[]): string[] {
  return resolved.problems.filter((problem) => names.some((name) => problem.startsWith(`${name} from `)));
}

const fromFlag = (problem: string): boolean => / from --[a-z-]+: /.test(problem);

function assertUsable(problems: readonly string[], command: 'wrap-config' | 'status'): void {
  const [first, ...rest] = problems;
  if (first === undefined) return;
  const flag = fromFlag(first);
  throw new ThothError('SETTINGS_INVALID', `invalid setting: ${first}${rest.length > 0 ? ` (and ${rest.length} more)` : ''}`, {
    exitCode: flag ? ExitCode.USAGE : ExitCode.INVALID_INPUT,
    suggestions: flag
      ? [`Run \`thoth ${command} --help\` for the flags.`]
      : ['Fix or remove the value named above (`thoth config show` lists every setting and where it comes from), or pass the flag.'],
  });
}

/**
 * The API key for --embed-api-key, as the resolver found it: an explicitly set THOTH_API_KEY_FILE,
 * then THOTH_API_KEY, then the profile's key file (docs/fleet.md#api-key).
 */
function apiKey(resolved: ResolvedSettings): {key: string; source: string} {
  const key = resolved.values.apiKey;
  if (key !== undefined) return {key, source: resolved.origins.apiKey.origin};
  const keyProblems = resolved.problems.filter(
    (problem) => problem.startsWith('THOTH_API_KEY') || problem.includes(resolved.values.apiKeyFile),
  );
  const why = keyProblems.length > 0 ? `: ${keyProblems.join('; ')}` : '';
  throw new ThothError(
    'API_KEY_MISSING',
    `--embed-api-key: no usable API key (THOTH_API_KEY, THOTH_API_KEY_FILE or the profile key file ${resolved.values.apiKeyFile})${why}`,
    {
      exitCode: ExitCode.NOT_FOUND,
      suggestions: ['Store the key with `thoth api-key set < key.txt`, or set THOTH_API_KEY for this command.'],
    },
  );
}

function launcherFromFlag(value: string, host: ConfigHost): Launcher {
  if (value.trim() === '') throw usage('--thoth-bin needs a path to a thoth executable');
  // A bare name stays a bare name (the admin may know the client's PATH); a relative path is made absolute.
  const command = /[/\\]/.test(value) ? host.path.resolve(host.cwd, value) : value;
  return {command, prefix: []};
}

const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function parseEnvFlags(values: readonly string[]): Record<string, string> {
  // Object.fromEntries defines own properties, even for names such as __proto__.
  const pairs: Array<[string, string]> = [];
  for (const item of values) {
    const equals = item.indexOf('=');
    const key = equals === -1 ? item : item.slice(0, equals);
    if (equals === -1 || !ENV_KEY.test(key))
      throw usage(`--env "${equals === -1 ? item : key}": expected KEY=VALUE with KEY made of letters, digits and _`);
    if (key === '__proto__') throw usage('--env __proto__ is not a usable variable name');
    if (key === WRAP_RECORD_KEY) throw usage(`--env ${WRAP_RECORD_KEY} is reserved: thoth keeps what unwrap-config needs there`);
    // An entry's env is editable by anything that can edit the config: status calls any other
    // variable thoth itself reads drift there, so wrap-config does not write one either.
    if (isThothProcessKey(key) && !isWrapEnvKey(key)) {
      const instead = key.toUpperCase().startsWith('THOTH_')
        ? `set ${key} in managed preferences or ~/.thoth/settings.json instead`
        : `it would configure the thoth process, not only the server`;
      throw usage(`--env ${key}: wrap-config writes only ${WRAP_ENV_KEYS.join(', ')} of the variables thoth itself reads; ${instead}`);
    }
    pairs.push([key, item.slice(equals + 1)]);
  }
  return Object.fromEntries(pairs);
}

/** `intent_map.json`: server name → intent. A missing file is an empty map. */
export async function readIntentMap(host: ConfigHost, file: string): Promise<Record<string, string>> {
  let bytes: Uint8Array;
  try {
    bytes = await host.fs.readFile(file);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return {};
    throw error;
  }
  const document = parseConfigDocument(file, bytes, {jsonc: false});
  const value = document.value;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidConfig({file, pointer: ''}, 'expected an object mapping server names to intents, e.g. {"github": "code_review"}');
  }
  const pairs: Array<[string, string]> = [];
  for (const [server, intent] of Object.entries(value)) {
    if (typeof intent !== 'string')
      throw invalidConfig({file, pointer: `/${server.replaceAll('~', '~0').replaceAll('/', '~1')}`}, 'the intent must be a string');
    if (intent !== '') pairs.push([server, intent]);
  }
  return Object.fromEntries(pairs);
}

function usage(message: string): ThothError {
  return new ThothError('USAGE', message, {exitCode: ExitCode.USAGE, suggestions: ['Run `thoth wrap-config --help` for the flags.']});
}
