import {chmod, mkdir, readFile, readdir, stat, writeFile} from 'node:fs/promises';
import {dirname, join} from 'node:path';

import {createConfigHost, type ConfigHost, type HostOptions} from '../../src/client-config/host.js';
import {FIXED_LAUNCHER} from './helpers.js';
import {tempDir} from '../helpers/tmp.js';

/** A fake machine in a temporary directory: logical paths of `platform` mapped below `root`. */
export interface Machine {
  root: string;
  host: ConfigHost;
  real(logical: string): string;
  write(logical: string, content: string | Uint8Array, mode?: number): Promise<void>;
  read(logical: string): Promise<string>;
  bytes(logical: string): Promise<Buffer>;
  list(logicalDirectory: string): Promise<string[]>;
  mode(logical: string): Promise<number>;
}

export const MAC = {platform: 'darwin' as const, home: '/Users/jane', env: {HOME: '/Users/jane', PATH: '/usr/bin:/bin'}};
export const LINUX = {platform: 'linux' as const, home: '/home/jane', env: {HOME: '/home/jane', PATH: '/usr/bin:/bin'}};
export const WINDOWS = {
  platform: 'win32' as const,
  home: 'C:\\Users\\jane',
  env: {
    USERPROFILE: 'C:\\Users\\jane',
    APPDATA: 'C:\\Users\\jane\\AppData\\Roaming',
    LOCALAPPDATA: 'C:\\Users\\jane\\AppData\\Local',
    PATH: 'C:\\Windows\\System32',
    PATHEXT: '.COM;.EXE;.BAT;.CMD',
  },
};

export async function machine(options: Omit<HostOptions, 'root'> & {home: string}): Promise<Machine> {
  const root = await tempDir('thoth-machine-');
  const host = createConfigHost({cwd: options.home, ...options, root});
  const real = (logical: string) => mapReal(root, options.platform ?? process.platform, logical);
  return {
    root,
    host,
    real,
    async write(logical, content, mode = 0o644) {
      await mkdir(dirname(real(logical)), {recursive: true});
      await writeFile(real(logical), content);
      await chmod(real(logical), mode);
    },
    read: (logical) => readFile(real(logical), 'utf8'),
    bytes: (logical) => readFile(real(logical)),
    list: async (directory) => (await readdir(real(directory)).catch(() => [] as string[])).sort(),
    mode: async (logical) => (await stat(real(logical))).mode & 0o777,
  };
}

function mapReal(root: string, platform: NodeJS.Platform, logical: string): string {
  if (platform === 'win32') {
    const [drive, ...rest] = logical.split('\\').filter((s) => s !== '');
    return join(root, drive!.replace(':', '').toUpperCase(), ...rest);
  }
  return join(root, ...logical.split('/').filter((s) => s !== ''));
}

export const WRAP_SETTINGS = {launcher: FIXED_LAUNCHER, intentMap: {}, env: {}, tenantId: 'acme', enforcementMode: 'block'};
