import {homedir, userInfo} from 'node:os';

import {ThothError} from '../core/errors.js';
import {ExitCode} from '../core/exit-codes.js';
import {octal} from '../profile/bootstrap.js';
import {readApiKeyFile} from '../profile/api-key.js';
import {thothHome} from '../profile/paths.js';
import {runCommand as realRunCommand, type CommandRunner} from './command-runner.js';
import {
  SETTINGS,
  SETTING_KEYS,
  settingKeyForName,
  type DefaultContext,
  type SettingDefinition,
  type SettingKey,
  type Settings,
} from './definitions.js';
import {
  macManagedPreferencesReader,
  NO_MANAGED_PREFERENCES,
  windowsPolicyReader,
  type ManagedPreferences,
  type ManagedPreferencesReader,
} from './managed.js';
import {SettingValueError, type ParseContext} from './parsers.js';
import {readProfileSettings, type ProfileSettings} from './profile-file.js';
import type {RegistryKeyValues} from './reg-query.js';

/** Where an effective value came from, highest precedence first. */
export type SettingSource = 'flag' | 'env' | 'managed' | 'profile' | 'default';

export interface SettingOrigin {
  source: SettingSource;
  /** The flag, variable, file or registry key; `default`, a derivation, or `unset`. */
  origin: string;
}

/**
 * A flag or variable that tried to set a `managedWins` setting which managed preferences set to
 * something else: refused (the managed value is in force). Never carries either value.
 */
export interface SettingOverride {
  key: SettingKey;
  /** The setting's variable name, e.g. THOTH_AUDIT. */
  name: string;
  /** The flag or variable that was refused. */
  attempted: {source: 'flag' | 'env'; origin: string};
  /** The managed preference that won: file or registry key, and the key. */
  managed: string;
}

export interface ResolvedSettings {
  values: Settings;
  origins: Record<SettingKey, SettingOrigin>;
  /** Flags and variables refused because managed preferences set the setting (see SettingDefinition.managedWins). */
  overrides: SettingOverride[];
  /** Values that were set but invalid (each fell through to the next layer): one line each. */
  problems: string[];
  warnings: string[];
  profileDir: string;
}

/** Values given on the command line, raw (they go through the same parsers as every layer). */
export type SettingFlags = Partial<Record<SettingKey, string | number | boolean | undefined>>;

export interface ResolveSettingsOptions {
  flags?: SettingFlags;
  /**
   * How the front door names its flags in origins, warnings and refused overrides (the SDK's
   * options: `auditDir option`); default the command-line flag (`--audit-dir`).
   */
  flagOrigins?: Partial<Record<SettingKey, string>>;
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  /** The user's home directory (for `~` and the default profile directory). */
  home?: string;
  cwd?: string;
  /** The profile directory; default `$THOTH_HOME` or `<home>/.thoth`. */
  profileDir?: string;
  /** The login name, for macOS per-user managed preferences. */
  username?: string;
  /** Replaces the platform's managed-preference reader entirely. */
  readManagedPreferences?: ManagedPreferencesReader;
  /** Windows: replaces `reg query` for the policy keys. */
  readRegistry?: (key: string) => Promise<RegistryKeyValues | undefined>;
  runCommand?: CommandRunner;
  /** macOS: the file-system root under which `/Library/Managed Preferences` is read (tests). */
  fsRoot?: string;
}

/**
 * The one settings resolver: every command and `thoth run` call it. Precedence per setting:
 * flags > environment > managed preferences > profile (`settings.json`, the key file) > defaults,
 * except for the `managedWins` settings, where a valid managed value comes first and the flags
 * and variables it beats are recorded in `overrides`.
 * Never throws for bad values: they are listed in `problems` (see `assertValidSettings`).
 */
export async function resolveSettings(options: ResolveSettingsOptions = {}): Promise<ResolvedSettings> {
  const env = options.env ?? process.env;
  const platform = options.platform ?? process.platform;
  const home = options.home ?? homedir();
  const cwd = options.cwd ?? process.cwd();
  const profileDir = options.profileDir ?? thothHome(env, home);
  const parseContext: ParseContext = {home, cwd, platform};

  const readManaged = options.readManagedPreferences ?? defaultManagedReader(platform, options, env);
  const [managed, profile] = await Promise.all([readManaged(), readProfileSettings(profileDir)]);

  const values: Partial<Settings> = {};
  const origins = {} as Record<SettingKey, SettingOrigin>;
  const problems: string[] = [...managed.problems, ...profile.problems];
  const warnings: string[] = unknownKeyWarnings(managed, profile);
  const overrides: SettingOverride[] = [];
  const context: DefaultContext = {profileDir, resolved: values, sourceOf: (key) => describeOrigin(origins[key])};

  for (const key of SETTING_KEYS) {
    if (key === 'apiKey') continue;
    const definition = SETTINGS[key] as SettingDefinition<unknown>;
    const candidates = candidatesFor(key, definition, {
      flags: options.flags,
      flagOrigin: options.flagOrigins?.[key],
      env,
      managed,
      profile,
      warnings,
    });
    const ordered = definition.managedWins
      ? [...candidates.filter((c) => c.source === 'managed'), ...candidates.filter((c) => c.source !== 'managed')]
      : candidates;
    let chosen: Candidate | undefined;
    for (const candidate of ordered) {
      if (candidate.unsupported !== undefined) {
        problems.push(`${definition.name} from ${candidate.origin}: ${candidate.unsupported}`);
        continue;
      }
      try {
        (values as Record<string, unknown>)[key] = definition.parse(candidate.raw, parseContext);
        origins[key] = {source: candidate.source, origin: candidate.origin};
        chosen = candidate;
        break;
      } catch (error) {
        if (!(error instanceof SettingValueError)) throw error;
        problems.push(`${definition.name} from ${candidate.origin}: ${error.message}`);
      }
    }
    if (chosen?.source === 'managed' && definition.managedWins) {
      overrides.push(
        ...refusedCandidates(key, definition, candidates, (values as Record<string, unknown>)[key], chosen.origin, parseContext),
      );
    }
    if (chosen) continue;
    const fallback = definition.fallback?.(context);
    if (fallback) {
      (values as Record<string, unknown>)[key] = fallback.value;
      origins[key] = {source: 'default', origin: fallback.origin};
    } else {
      origins[key] = {source: 'default', origin: 'unset'};
    }
  }

  await resolveApiKey({values, origins, problems, warnings, flags: options.flags, env, platform, managed});
  applyCrossChecks(values as Settings, origins, problems, warnings);
  return {values: values as Settings, origins, overrides, problems, warnings, profileDir};
}

/**
 * The flags and variables a managed value beat. One that asks for the managed value anyway is
 * not an attempt (wrap-config writes the managed mode into the entries it wraps); one whose value
 * does not even parse is.
 */
function refusedCandidates(
  key: SettingKey,
  definition: SettingDefinition<unknown>,
  candidates: readonly Candidate[],
  managedValue: unknown,
  managedOrigin: string,
  context: ParseContext,
): SettingOverride[] {
  const refused: SettingOverride[] = [];
  for (const candidate of candidates) {
    if (candidate.source !== 'flag' && candidate.source !== 'env') continue;
    let same = false;
    try {
      same = JSON.stringify(definition.parse(candidate.raw, context)) === JSON.stringify(managedValue);
    } catch (error) {
      if (!(error instanceof SettingValueError)) throw error;
    }
    if (!same)
      refused.push({key, name: definition.name, attempted: {source: candidate.source, origin: candidate.origin}, managed: managedOrigin});
  }
  return refused;
}

/** The managedWins settings that managed preferences set: variable name → the managed preference. */
export function managedWinners(resolved: Pick<ResolvedSettings, 'origins'>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of SETTING_KEYS) {
    const definition = SETTINGS[key] as SettingDefinition<unknown>;
    const origin = resolved.origins[key];
    if (definition.managedWins && origin?.source === 'managed') out[definition.name] = origin.origin;
  }
  return out;
}

/** One line for stderr and the reports, without either value. */
export function describeOverride(override: SettingOverride): string {
  const what = override.attempted.source === 'flag' ? override.attempted.origin : `environment variable ${override.attempted.origin}`;
  return `${what} is ignored: managed preferences set ${override.name} (${override.managed}), and for this setting they win`;
}

/** Throws the first problem as a one-line INVALID_INPUT error (for `thoth run`, which fails closed). */
export function assertValidSettings(settings: ResolvedSettings): void {
  const [first, ...rest] = settings.problems;
  if (first === undefined) return;
  const more = rest.length > 0 ? ` (and ${rest.length} more)` : '';
  throw new ThothError('SETTINGS_INVALID', `invalid setting: ${first}${more}`, {
    exitCode: ExitCode.INVALID_INPUT,
    suggestions: ['Run `thoth config show` to see every setting and where it comes from, then fix or remove the value named above.'],
  });
}

export function describeOrigin(origin: SettingOrigin | undefined): string {
  if (!origin) return 'unset';
  return origin.source === 'default' ? origin.origin : `${origin.source}: ${origin.origin}`;
}

interface Candidate {
  source: SettingSource;
  origin: string;
  raw: string;
  /** Set when the layer holds a value of a type no setting accepts (a plist date, REG_BINARY). */
  unsupported?: string;
}

function candidatesFor(
  key: SettingKey,
  definition: SettingDefinition<unknown>,
  layers: {
    flags: SettingFlags | undefined;
    flagOrigin: string | undefined;
    env: NodeJS.ProcessEnv;
    managed: ManagedPreferences;
    profile: ProfileSettings;
    warnings: string[];
  },
): Candidate[] {
  const candidates: Candidate[] = [];
  const flag = layers.flags?.[key];
  if (flag !== undefined && flag !== '')
    candidates.push({source: 'flag', origin: layers.flagOrigin ?? definition.flag ?? key, raw: String(flag)});

  const envNames = [definition.name, ...(definition.aliases ?? [])];
  const setNames = envNames.filter((name) => layers.env[name] !== undefined && layers.env[name] !== '');
  for (const name of setNames) candidates.push({source: 'env', origin: name, raw: layers.env[name]!});
  if (setNames.length > 1 && new Set(setNames.map((name) => layers.env[name])).size > 1) {
    layers.warnings.push(`${setNames.join(' and ')} are both set and differ: ${setNames[0]} wins`);
  }

  for (const name of [definition.name, ...(definition.managedAliases ?? [])]) {
    const entry = layers.managed.entries.get(name);
    if (!entry) continue;
    if (definition.secret) {
      layers.warnings.push(
        `${name} in ${entry.origin} is ignored: secrets are never read from managed preferences (every local user can read them)`,
      );
      continue;
    }
    candidates.push(textCandidate('managed', `${entry.origin} (${name})`, entry.value));
  }

  const profileValue = layers.profile.entries.get(definition.name);
  if (profileValue !== undefined && !definition.secret) {
    candidates.push(textCandidate('profile', layers.profile.file, profileValue));
  }
  return candidates;
}

function textCandidate(source: SettingSource, origin: string, value: unknown): Candidate {
  const raw = managedText(value);
  if (raw !== undefined) return {source, origin, raw};
  const type =
    (value as {unsupportedRegistryType?: string} | null)?.unsupportedRegistryType ??
    (value instanceof Date ? 'date' : Array.isArray(value) ? 'array' : typeof value);
  return {source, origin, raw: '', unsupported: `has a value of type ${type}; use a string, number or boolean`};
}

/** Managed and profile values may be typed (plist booleans, integers, arrays): give parsers text. */
function managedText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'bigint') return value.toString(10);
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value.join(',');
  return undefined;
}

/** Keys of the profile machinery itself, not settings: never worth a warning. */
const IGNORED_MANAGED_KEYS = /^(Payload|mcx_)/;

function unknownKeyWarnings(managed: ManagedPreferences, profile: ProfileSettings): string[] {
  const warnings: string[] = [];
  for (const [name, entry] of managed.entries) {
    if (settingKeyForName(name) === undefined && !IGNORED_MANAGED_KEYS.test(name)) {
      warnings.push(`unknown key ${name} in ${entry.origin} is ignored (keys are THOTH_* variable names; see \`thoth config show\`)`);
    }
  }
  for (const name of profile.entries.keys()) {
    if (settingKeyForName(name) === undefined) warnings.push(`unknown key ${name} in ${profile.file} is ignored`);
  }
  return warnings;
}

function defaultManagedReader(
  platform: NodeJS.Platform,
  options: ResolveSettingsOptions,
  env: NodeJS.ProcessEnv,
): ManagedPreferencesReader {
  if (platform === 'darwin') {
    return macManagedPreferencesReader({
      ...(options.fsRoot === undefined ? {} : {root: options.fsRoot}),
      username: options.username ?? currentUsername(),
    });
  }
  if (platform === 'win32') {
    return windowsPolicyReader({
      run: options.runCommand ?? realRunCommand,
      env,
      ...(options.readRegistry ? {readRegistry: options.readRegistry} : {}),
    });
  }
  return NO_MANAGED_PREFERENCES;
}

function currentUsername(): string | undefined {
  try {
    return userInfo().username;
  } catch {
    return undefined;
  }
}

/**
 * The API key, by design a little different from the other settings: `--api-key`, then the key
 * file when THOTH_API_KEY_FILE was set explicitly (env or managed), then THOTH_API_KEY ("optional
 * fallback", as documented), then the profile's key file (what `thoth api-key set` writes).
 */
async function resolveApiKey(state: {
  values: Partial<Settings>;
  origins: Record<SettingKey, SettingOrigin>;
  problems: string[];
  warnings: string[];
  flags: SettingFlags | undefined;
  env: NodeJS.ProcessEnv;
  platform: NodeJS.Platform;
  managed: ManagedPreferences;
}): Promise<void> {
  const definition = SETTINGS.apiKey;
  const {values, origins} = state;
  const flag = state.flags?.apiKey;
  if (state.managed.entries.has(definition.name)) {
    state.warnings.push(
      `${definition.name} in ${state.managed.entries.get(definition.name)!.origin} is ignored: secrets are never read from managed preferences (every local user can read them)`,
    );
  }
  if (typeof flag === 'string' && flag !== '') {
    if (setKey(state, flag, {source: 'flag', origin: definition.flag ?? 'apiKey'})) return;
  }
  const file = values.apiKeyFile!;
  const fileOrigin = origins.apiKeyFile;
  const explicitFile = fileOrigin.source !== 'default';
  const fromFile = await readApiKeyFile(file);
  const fileLabel = `key file ${file}`;
  const tryFile = (): boolean => {
    if (fromFile.state === 'invalid') {
      state.problems.push(fromFile.message);
      return false;
    }
    if (fromFile.state === 'missing') {
      if (explicitFile) state.problems.push(`THOTH_API_KEY_FILE from ${describeOrigin(fileOrigin)}: ${file} does not exist`);
      return false;
    }
    if (fromFile.mode !== undefined && (fromFile.mode & 0o077) !== 0 && state.platform !== 'win32') {
      state.warnings.push(
        `${file} holds an API key and is readable by other users (mode ${octal(fromFile.mode)}): run \`chmod 600 ${file}\``,
      );
    }
    if (fromFile.state !== 'ok') return false;
    return setKey(state, fromFile.key, {source: explicitFile ? fileOrigin.source : 'profile', origin: fileLabel});
  };
  if (explicitFile && tryFile()) return;
  const envValue = state.env[definition.name];
  if (envValue !== undefined && envValue !== '') {
    if (setKey(state, envValue, {source: 'env', origin: definition.name})) return;
  }
  if (!explicitFile && tryFile()) return;
  origins.apiKey = {source: 'default', origin: 'unset'};
}

function setKey(
  state: {values: Partial<Settings>; origins: Record<SettingKey, SettingOrigin>; problems: string[]},
  raw: string,
  origin: SettingOrigin,
): boolean {
  try {
    state.values.apiKey = SETTINGS.apiKey.parse(raw, {home: '', cwd: ''});
    state.origins.apiKey = origin;
    return true;
  } catch (error) {
    if (!(error instanceof SettingValueError)) throw error;
    state.problems.push(`${SETTINGS.apiKey.name} from ${origin.origin}: ${error.message}`);
    return false;
  }
}

function applyCrossChecks(values: Settings, origins: Record<SettingKey, SettingOrigin>, problems: string[], warnings: string[]): void {
  if (values.enforcerFailureDecision === 'allow' && values.env !== 'dev' && !values.enforcerAllowFallbackOverride) {
    warnings.push(
      `THOTH_ENFORCER_FAILURE_DECISION=allow (${describeOrigin(origins.enforcerFailureDecision)}) is ignored in ${values.env}: using block; set THOTH_ENFORCER_ALLOW_FALLBACK_OVERRIDE=true only in an emergency`,
    );
    values.enforcerFailureDecision = 'block';
    origins.enforcerFailureDecision = {
      source: 'default',
      origin: `default (allow is ignored in ${values.env} without THOTH_ENFORCER_ALLOW_FALLBACK_OVERRIDE)`,
    };
  }
  if (values.tlsRequireAwsBackedCerts && values.tlsAwsAcmCertArn === undefined && values.tlsAwsPrivateCaArn === undefined) {
    problems.push(
      'THOTH_TLS_REQUIRE_AWS_BACKED_CERTS is true but neither THOTH_TLS_AWS_ACM_CERT_ARN nor THOTH_TLS_AWS_PRIVATE_CA_ARN is set',
    );
  }
  if (!values.tlsVerify && values.env !== 'dev') {
    warnings.push(`THOTH_TLS_VERIFY is false in ${values.env}: certificates of the enforcer and GovAPI are not checked`);
  }
}
