import {readFile} from 'node:fs/promises';
import {join} from 'node:path';

import {errnoCode, errorMessage} from '../core/errors.js';
import type {CommandRunner} from './command-runner.js';
import {THOTH_PREFERENCE_DOMAIN, WINDOWS_POLICY_KEYS} from './definitions.js';
import {queryRegistry, registryValueText, type RegistryKeyValues} from './reg-query.js';

/** Managed values by key (THOTH_* names, plus `jssID`), each with the file or registry key it came from. */
export interface ManagedPreferences {
  entries: Map<string, {value: unknown; origin: string}>;
  /** Managed sources that exist but could not be read: reported, never silently skipped. */
  problems: string[];
}

export type ManagedPreferencesReader = () => Promise<ManagedPreferences>;

export const NO_MANAGED_PREFERENCES: ManagedPreferencesReader = async () => ({entries: new Map(), problems: []});

/**
 * macOS: `/Library/Managed Preferences/<domain>.plist` (device scope) first, then
 * `/Library/Managed Preferences/<user>/<domain>.plist` (user scope) for keys the device file does
 * not set. Both are written by the MDM agent, XML or binary; `plist` is imported only when a file
 * exists, so unmanaged machines never pay for it.
 */
export function macManagedPreferencesReader(
  options: {root?: string; username?: string | undefined; domain?: string} = {},
): ManagedPreferencesReader {
  return async () => {
    const base = join(options.root ?? '/', 'Library', 'Managed Preferences');
    const domain = options.domain ?? THOTH_PREFERENCE_DOMAIN;
    const files = [join(base, `${domain}.plist`)];
    if (options.username !== undefined && options.username !== '' && !options.username.includes('/')) {
      files.push(join(base, options.username, `${domain}.plist`));
    }
    const result: ManagedPreferences = {entries: new Map(), problems: []};
    for (const file of files) {
      let bytes: Buffer;
      try {
        bytes = await readFile(file);
      } catch (error) {
        if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') continue;
        result.problems.push(`${file}: cannot be read (${errnoCode(error) ?? errorMessage(error)})`);
        continue;
      }
      let parsed: unknown;
      try {
        parsed = await parsePlist(bytes);
      } catch (error) {
        result.problems.push(`${file}: not a valid property list (${errorMessage(error)})`);
        continue;
      }
      if (
        parsed === null ||
        typeof parsed !== 'object' ||
        Array.isArray(parsed) ||
        parsed instanceof Date ||
        parsed instanceof Uint8Array
      ) {
        result.problems.push(`${file}: expected a dictionary at the top level`);
        continue;
      }
      for (const [key, value] of Object.entries(parsed)) {
        if (!result.entries.has(key)) result.entries.set(key, {value, origin: file});
      }
    }
    return result;
  };
}

export async function parsePlist(bytes: Uint8Array): Promise<unknown> {
  const plist = await import('plist');
  const header = Buffer.from(bytes.subarray(0, 8)).toString('latin1');
  if (header === 'bplist00') return plist.parseBinary(new Uint8Array(bytes));
  return plist.parse(Buffer.from(bytes).toString('utf8'));
}

/**
 * Windows: the policy keys `HKLM\SOFTWARE\Policies\Thoth` then `HKCU\SOFTWARE\Policies\Thoth`
 * (only administrators can write under Policies), read with `reg query` in the 64-bit view.
 */
export function windowsPolicyReader(options: {
  run: CommandRunner;
  env?: NodeJS.ProcessEnv;
  readRegistry?: (key: string) => Promise<RegistryKeyValues | undefined>;
}): ManagedPreferencesReader {
  const env = options.env ?? process.env;
  const read = options.readRegistry ?? ((key: string) => queryRegistry(key, {run: options.run, env}));
  return async () => {
    const result: ManagedPreferences = {entries: new Map(), problems: []};
    for (const key of WINDOWS_POLICY_KEYS) {
      let values: RegistryKeyValues | undefined;
      try {
        values = await read(key);
      } catch (error) {
        result.problems.push(`${key}: cannot be read (${errorMessage(error)})`);
        continue;
      }
      for (const value of values?.values ?? []) {
        if (result.entries.has(value.name)) continue;
        const text = registryValueText(value, env);
        result.entries.set(value.name, {value: text === undefined ? {unsupportedRegistryType: value.type} : text, origin: key});
      }
    }
    return result;
  };
}
