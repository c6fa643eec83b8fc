import type {CommandRunner} from './command-runner.js';

/**
 * Parser for the text `reg query` prints (Windows reg.exe). Layout, byte for byte as Wine's
 * conformance tests check it against Windows (programs/reg/tests/query.c): a blank line, the key
 * path, then one line per value, `    <name>    <REG_TYPE>    <data>`, CRLF line ends, a blank
 * line after each key. See fixtures/identity/README.md.
 */
export interface RegistryValue {
  name: string;
  type: string;
  data: string;
}

export interface RegistryKeyValues {
  path: string;
  values: RegistryValue[];
}

const VALUE_LINE = /^ {4}(.+?) {4}(REG_[A-Z0-9_]+)(?: {4}(.*))?$/;

export function parseRegQuery(output: string): RegistryKeyValues[] {
  const keys: RegistryKeyValues[] = [];
  let current: RegistryKeyValues | undefined;
  for (const rawLine of output.split('\n')) {
    const line = rawLine.replace(/\r$/, '');
    if (line.trim() === '') continue;
    if (/^HKEY_[A-Z_]+(\\|$)/.test(line)) {
      current = {path: line, values: []};
      keys.push(current);
      continue;
    }
    const match = VALUE_LINE.exec(line);
    if (match && current) {
      current.values.push({name: match[1]!, type: match[2]!, data: match[3] ?? ''});
    }
  }
  return keys;
}

/** The value as text a setting parser understands, or undefined for types thoth does not read. */
export function registryValueText(value: RegistryValue, env: NodeJS.ProcessEnv = process.env): string | undefined {
  switch (value.type) {
    case 'REG_SZ':
      return value.data;
    case 'REG_EXPAND_SZ':
      return value.data.replace(/%([^%]+)%/g, (whole, name: string) => env[name] ?? env[name.toUpperCase()] ?? whole);
    case 'REG_DWORD':
    case 'REG_QWORD': {
      const parsed = /^0x[0-9a-f]+$/i.test(value.data) ? BigInt(value.data) : undefined;
      return parsed === undefined ? undefined : parsed.toString(10);
    }
    case 'REG_MULTI_SZ':
      // reg.exe prints the separators of a multi-string as the two characters `\0`.
      return value.data
        .split('\\0')
        .filter((part) => part !== '')
        .join(',');
    default:
      return undefined;
  }
}

/** Absolute path: never whatever `reg` the PATH offers, and System32 even from a 32-bit node. */
export function regExePath(env: NodeJS.ProcessEnv = process.env): string {
  const root = env['SystemRoot'] ?? env['SYSTEMROOT'] ?? 'C:\\Windows';
  return `${root}\\System32\\reg.exe`;
}

/**
 * Reads one key (its values only) from the 64-bit registry view. Undefined when the key or value
 * does not exist: reg.exe exits 1 with a localised message, so the exit code decides, not the text.
 * Throws when reg.exe cannot run or fails in another way.
 */
export async function queryRegistry(
  key: string,
  options: {value?: string; run: CommandRunner; env?: NodeJS.ProcessEnv},
): Promise<RegistryKeyValues | undefined> {
  const args = ['query', key, ...(options.value === undefined ? [] : ['/v', options.value]), '/reg:64'];
  const result = await options.run(regExePath(options.env), args);
  if (result.code === 1) return undefined;
  if (result.code !== 0) {
    throw new Error(`reg query ${key} exited ${String(result.code)}: ${(result.stderr || result.stdout).trim().split(/\r?\n/)[0] ?? ''}`);
  }
  return (
    parseRegQuery(result.stdout).find((entry) => entry.path.toUpperCase() === expandHive(key).toUpperCase()) ?? {
      path: expandHive(key),
      values: [],
    }
  );
}

function expandHive(key: string): string {
  return key.replace(/^HKLM(?=\\|$)/i, 'HKEY_LOCAL_MACHINE').replace(/^HKCU(?=\\|$)/i, 'HKEY_CURRENT_USER');
}
