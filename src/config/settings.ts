import {fileURLToPath} from 'node:url';

import {ThothError, errnoCode} from '../cli/errors.js';
import {ExitCode} from '../cli/exit-codes.js';
import {thothHome} from '../profile/paths.js';
import {invalidConfig} from './config-error.js';
import {parseConfigDocument} from './document.js';
import type {WrapSettings} from './entry-edit.js';
import type {ConfigHost} from './host.js';
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

export async function resolveWrapSettings(flags: WrapFlags, host: ConfigHost): Promise<ResolvedWrapSettings> {
  const profileDir = flags.profileDir ?? thothHome(host.env, host.home);
  const settings: WrapSettings = {
    launcher: flags.thothBin === undefined ? ownLauncher() : launcherFromFlag(flags.thothBin, host),
    intentMap: await readIntentMap(host, host.path.join(profileDir, 'intent_map.json')),
    env: parseEnvFlags(flags.env ?? []),
  };
  if (flags.tenantId !== undefined && flags.tenantId !== '') settings.tenantId = flags.tenantId;
  if (flags.enforcementMode !== undefined) settings.enforcementMode = flags.enforcementMode;
  if (flags.intent !== undefined && flags.intent !== '') settings.intent = flags.intent;
  const resolved: ResolvedWrapSettings = {settings};
  if (flags.embedApiKey) {
    const found = await readApiKey(host, profileDir);
    settings.apiKey = found.key;
    resolved.apiKeySource = found.source;
  }
  return resolved;
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
    if (equals === -1 || !ENV_KEY.test(key)) throw usage(`--env "${equals === -1 ? item : key}": expected KEY=VALUE with KEY made of letters, digits and _`);
    if (key === '__proto__') throw usage('--env __proto__ is not a usable variable name');
    if (key === WRAP_RECORD_KEY) throw usage(`--env ${WRAP_RECORD_KEY} is reserved: thoth keeps what unwrap-config needs there`);
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
    if (typeof intent !== 'string') throw invalidConfig({file, pointer: `/${server.replaceAll('~', '~0').replaceAll('/', '~1')}`}, 'the intent must be a string');
    if (intent !== '') pairs.push([server, intent]);
  }
  return Object.fromEntries(pairs);
}

/**
 * The API key for --embed-api-key: THOTH_API_KEY, else the file THOTH_API_KEY_FILE names, else the
 * profile's proxy_api_key.json (`{"api_key": "..."}`, or the key alone on one line).
 */
async function readApiKey(host: ConfigHost, profileDir: string): Promise<{key: string; source: string}> {
  const fromEnv = host.env['THOTH_API_KEY'];
  if (fromEnv !== undefined && fromEnv.trim() !== '') return {key: fromEnv.trim(), source: 'THOTH_API_KEY'};
  const file = host.env['THOTH_API_KEY_FILE'] || host.path.join(profileDir, 'proxy_api_key.json');
  let text: string;
  try {
    text = (await host.fs.readFile(file)).toString('utf8').trim();
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') throw error;
    text = '';
  }
  let key = text;
  if (text.startsWith('{')) {
    try {
      const parsed = JSON.parse(text) as {api_key?: unknown};
      key = typeof parsed.api_key === 'string' ? parsed.api_key.trim() : '';
    } catch {
      throw new ThothError('API_KEY_INVALID', `${file}: not valid JSON; expected {"api_key": "<key>"}`, {exitCode: ExitCode.INVALID_INPUT});
    }
  }
  if (key === '' || /\s/.test(key)) {
    throw new ThothError('API_KEY_MISSING', '--embed-api-key: no API key found (THOTH_API_KEY, THOTH_API_KEY_FILE or the profile key file)', {
      exitCode: ExitCode.NOT_FOUND,
      suggestions: [`Set THOTH_API_KEY for this command, or store the key in ${file}.`],
    });
  }
  return {key, source: file};
}

function usage(message: string): ThothError {
  return new ThothError('USAGE', message, {exitCode: ExitCode.USAGE, suggestions: ['Run `thoth wrap-config --help` for the flags.']});
}
