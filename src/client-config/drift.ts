import {SETTINGS, SETTING_KEYS, type SettingDefinition, type SettingKey} from '../settings/definitions.js';
import {WRAP_RECORD_KEY, type WrapRecord} from './wrap-record.js';
import {MANAGED_FLAGS, type Launcher, type RunFlag} from './wrapped-command.js';

/**
 * Drift of a wrapped entry, as pure functions: what is in the entry compared with exactly what
 * wrap-config writes. Anything that can edit the user's files (an agent's file tool) can edit an
 * MCP client config, so whatever changes how `thoth run` itself behaves and was not written by
 * wrap-config is drift: `thoth status` and `thoth health` report it, wrap-config removes it.
 */

/**
 * Variables of an entry's `env` that configure the thoth process rather than the server, beyond
 * the THOTH_* ones: code loaded into node (NODE_OPTIONS --require/--import, LD_PRELOAD,
 * DYLD_INSERT_LIBRARIES), TLS trust for the enforcer (NODE_TLS_REJECT_UNAUTHORIZED,
 * NODE_EXTRA_CA_CERTS), and the directories thoth's profile and the managed policy are found
 * from (HOME, USERPROFILE: ~/.thoth with its policy, intent map, approvals and audit trail;
 * ProgramData: the Windows managed policy location). Compared in upper case: Windows variable
 * names are case-insensitive.
 */
export const PROCESS_ENV_KEYS = [
  'NODE_OPTIONS',
  'NODE_TLS_REJECT_UNAUTHORIZED',
  'NODE_EXTRA_CA_CERTS',
  'LD_PRELOAD',
  'DYLD_INSERT_LIBRARIES',
  'HOME',
  'USERPROFILE',
  'PROGRAMDATA',
] as const;

/**
 * The THOTH_* variables wrap-config writes into an entry (`--env`): labels of the trail and the
 * fleet (the Jamf policy script sets THOTH_ENV and THOTH_FLEET_ID), never a setting that decides
 * how calls are governed. The record that says which keys wrap-config wrote is in the same
 * editable file, so it cannot make any other THOTH_* key legitimate.
 */
export const WRAP_ENV_KEYS = ['THOTH_USER_ID', 'THOTH_FLEET_ID', 'THOTH_TENANT_ID', 'THOTH_ENV'] as const;

/** An env key that changes how thoth itself runs (THOTH_* or one of PROCESS_ENV_KEYS). */
export function isThothProcessKey(key: string): boolean {
  const upper = key.toUpperCase();
  return upper.startsWith('THOTH_') || (PROCESS_ENV_KEYS as readonly string[]).includes(upper);
}

/** A THOTH_* key wrap-config may write into an entry with `--env`. */
export function isWrapEnvKey(key: string): boolean {
  return (WRAP_ENV_KEYS as readonly string[]).includes(key);
}

/** One reason an entry is drift; `attempted` when the key or flag sets a setting (for the managed-wins report). */
export interface DriftFinding {
  message: string;
  attempted?: {key: SettingKey; name: string; source: 'env' | 'flag'; origin: string};
}

/** Env keys of a wrapped entry that wrap-config did not write and that change how thoth runs. */
export function envDrift(env: Record<string, unknown> | undefined, record: WrapRecord | undefined): DriftFinding[] {
  if (env === undefined) return [];
  const written = new Set(record ? [...record.added, ...Object.keys(record.replaced)] : []);
  const findings: DriftFinding[] = [];
  for (const [key, value] of Object.entries(env)) {
    if (key === WRAP_RECORD_KEY || !isThothProcessKey(key)) continue;
    if (written.has(key) && isWrapEnvKey(key)) continue;
    const shown = `env ${key}=${shownValue(key, value)}`;
    const message = written.has(key)
      ? `${shown} is not a variable wrap-config writes (it writes only ${WRAP_ENV_KEYS.join(', ')})`
      : `${shown} was not written by wrap-config`;
    const setting = settingForEnv(key);
    findings.push(setting ? {message, attempted: {key: setting, name: SETTINGS[setting].name, source: 'env', origin: key}} : {message});
  }
  return findings;
}

/** `thoth run` flags of a wrapped entry that wrap-config never writes (--policy, --audit-dir, --no-filter-tools, ...). */
export function flagDrift(flags: readonly RunFlag[]): DriftFinding[] {
  const findings: DriftFinding[] = [];
  for (const flag of flags) {
    if ((MANAGED_FLAGS as readonly string[]).includes(flag.name)) continue;
    const shown = flag.value === undefined ? `--${flag.name}` : `--${flag.name} ${shownValue(flag.name, flag.value)}`;
    const message = `flag ${shown} was not written by wrap-config`;
    const setting = settingForFlag(flag.name);
    findings.push(
      setting ? {message, attempted: {key: setting, name: SETTINGS[setting].name, source: 'flag', origin: `--${flag.name}`}} : {message},
    );
  }
  return findings;
}

/** What one thoth installation looks like in a config: the launcher wrap-config writes, and its version. */
export interface Installation {
  /** node + this installation's bin/run.js (wrap-config's default). */
  launcher: Launcher;
  version: string;
  /** thoth executables wrap-config was told to write (`--thoth-bin`) that count as this installation. */
  thothBins: string[];
}

/** The launcher's files as found on disk (real paths, after a PATH lookup for a bare name). */
export interface LauncherFacts {
  /** Real path of the command; undefined when it cannot be found. */
  command?: string | undefined;
  /** Real path of each launcher argument that names an existing file (undefined for the others). */
  prefix: (string | undefined)[];
  /** A thoth installation the launcher points into (package.json `thoth-mcp`): its root and version. */
  install?: {root: string; version: string} | undefined;
}

/** The installation's own files, as real paths. */
export interface InstallationFacts {
  node?: string | undefined;
  script?: string | undefined;
  bins: string[];
}

/**
 * The launcher must be this installation: its node and its bin/run.js (nothing else before
 * "run": `node --require x.js bin/run.js` loads other code into thoth), or a thoth executable
 * that resolves to that bin/run.js (npm's link) or was named with --thoth-bin. Anything else (a
 * bin/run.js elsewhere, `npx thoth-mcp@<any version>`, an older install) is not what governs.
 */
export function launcherDrift(
  launcher: Launcher,
  facts: LauncherFacts,
  installation: Installation,
  own: InstallationFacts,
): DriftFinding[] {
  const nodeForm =
    launcher.prefix.length === 1 &&
    facts.command !== undefined &&
    facts.command === own.node &&
    facts.prefix[0] !== undefined &&
    facts.prefix[0] === own.script;
  const binaryForm =
    launcher.prefix.length === 0 && facts.command !== undefined && (facts.command === own.script || own.bins.includes(facts.command));
  if (nodeForm || binaryForm) return [];
  const other = facts.install ? ` (thoth ${facts.install.version} in ${facts.install.root})` : '';
  return [
    {
      message: `runs ${describeLauncher(launcher)}${other}, not this installation (${describeLauncher(installation.launcher)}, thoth ${installation.version})`,
    },
  ];
}

export function describeLauncher(launcher: Launcher): string {
  return [launcher.command, ...launcher.prefix].join(' ');
}

const SECRET_NAME = /KEY|TOKEN|SECRET|PASS|CREDENTIAL|AUTH|BEARER|COOKIE|SESSION|PRIVATE/i;
const PLAIN_VALUE = /^[\w./:@~+,=-]*$/;
const MAX_SHOWN = 80;

/** A variable whose value reports must not show: named like a key or token, or a secret setting. */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name) || secretSetting(name);
}

/** A value as reports show it: never for a name that looks like a secret, never more than a line. */
export function shownValue(name: string, value: unknown): string {
  if (isSecretName(name)) return '<hidden>';
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  const shown = PLAIN_VALUE.test(text) ? text : JSON.stringify(text);
  return shown.length > MAX_SHOWN ? `${shown.slice(0, MAX_SHOWN - 1)}…` : shown;
}

function secretSetting(name: string): boolean {
  const key = settingForEnv(name);
  return key !== undefined && (SETTINGS[key] as SettingDefinition<unknown>).secret === true;
}

/** The setting an environment variable sets (its canonical name or an alias). */
export function settingForEnv(name: string): SettingKey | undefined {
  return SETTING_KEYS.find((key) => {
    const definition = SETTINGS[key] as SettingDefinition<unknown>;
    return definition.name === name || (definition.aliases ?? []).includes(name);
  });
}

/** The setting a `thoth run` flag sets (`no-filter-tools` → filterTools). */
export function settingForFlag(flag: string): SettingKey | undefined {
  return SETTING_KEYS.find((key) => (SETTINGS[key] as SettingDefinition<unknown>).flag === `--${flag}`);
}
