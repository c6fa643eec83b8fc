import {randomBytes} from 'node:crypto';
import {chown, mkdir, open, readFile, readdir, realpath, rename, rm, stat} from 'node:fs/promises';
import {realpathSync} from 'node:fs';
import {homedir} from 'node:os';
import path from 'node:path';

import {errnoCode} from '../core/errors.js';
import {writeFileAtomic} from '../util/atomic-write.js';
import {withFileLock} from '../util/file-lock.js';

/**
 * Everything the config engine needs from the machine, passed in: the platform whose layout we
 * follow, its environment, home and working directory, a clock, and file access. Paths given to
 * and returned by this interface are *logical* paths of that platform (`C:\Users\me\...` when
 * `platform` is win32). With `root` set, they are mapped below a real directory, so tests drive
 * macOS, Windows and Linux layouts in a temporary directory; without it they are used as is.
 */
export interface ConfigHost {
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  home: string;
  cwd: string;
  /** `path.win32` on Windows, `path.posix` elsewhere: logical paths follow the target platform. */
  path: path.PlatformPath;
  fs: ConfigFs;
  now(): Date;
}

export interface FileInfo {
  isFile: boolean;
  isDirectory: boolean;
  mode: number;
  uid: number;
  gid: number;
}

export interface ConfigFs {
  /** Throws ENOENT when the file does not exist. */
  readFile(file: string): Promise<Buffer>;
  /** undefined when nothing exists at `file`. */
  stat(file: string): Promise<FileInfo | undefined>;
  /** The file a (possibly symlinked) path ends at, as a logical path; the path itself when it does not exist. */
  realpath(file: string): Promise<string>;
  /** Entry names; [] when the directory does not exist. */
  readdir(directory: string): Promise<string[]>;
  /** Atomic replace; keeps mode and owner; `beforeRename` runs after the data is durable. */
  writeFileAtomic(file: string, data: Uint8Array, options?: {beforeRename?: () => Promise<void>}): Promise<void>;
  /** Creates a new file (never overwrites) with `mode`, owned like `owner` when running as root. */
  writeNewFile(file: string, data: Uint8Array, options: {mode: number; owner?: FileInfo}): Promise<void>;
  remove(file: string): Promise<void>;
  /** Runs `fn` while holding an exclusive lock file (see util/file-lock). */
  withLock<T>(lockFile: string, fn: () => Promise<T>): Promise<T>;
}

export interface HostOptions {
  platform?: NodeJS.Platform;
  env?: NodeJS.ProcessEnv;
  home?: string;
  cwd?: string;
  /** A real directory under which logical paths are mapped (tests); omit in production. */
  root?: string;
  now?: () => Date;
  /** How long to wait for another thoth holding a config's lock (default 10 s). */
  lockTimeoutMs?: number;
}

export function createConfigHost(options: HostOptions = {}): ConfigHost {
  const platform = options.platform ?? process.platform;
  const logical = platform === 'win32' ? path.win32 : path.posix;
  const env = options.env ?? process.env;
  const home = options.home ?? (options.root === undefined ? homedir() : defaultHome(platform, env));
  const cwd = options.cwd ?? (options.root === undefined ? process.cwd() : home);
  const toReal = options.root === undefined ? (file: string) => file : mapBelow(options.root, platform);
  const toLogical = options.root === undefined ? (file: string) => file : mapBack(realpathSync.native(options.root), platform);
  return {
    platform,
    env,
    home,
    cwd,
    path: logical,
    now: options.now ?? (() => new Date()),
    fs: nodeFs(toReal, toLogical, options.lockTimeoutMs),
  };
}

function defaultHome(platform: NodeJS.Platform, env: NodeJS.ProcessEnv): string {
  if (platform === 'win32') return env['USERPROFILE'] ?? 'C:\\Users\\user';
  return env['HOME'] ?? (platform === 'darwin' ? '/Users/user' : '/home/user');
}

/** `C:\Users\me\x` → `<root>/C/Users/me/x`; `/Users/me/x` → `<root>/Users/me/x`. */
function mapBelow(root: string, platform: NodeJS.Platform): (file: string) => string {
  return (file: string) => {
    if (platform === 'win32') {
      const absolute = path.win32.resolve('C:\\', file);
      const drive = absolute.slice(0, 1).toUpperCase();
      const rest = absolute
        .slice(path.win32.parse(absolute).root.length)
        .split('\\')
        .filter((s) => s !== '');
      return path.join(root, drive, ...rest);
    }
    return path.join(
      root,
      ...path.posix
        .resolve('/', file)
        .split('/')
        .filter((s) => s !== ''),
    );
  };
}

/** The inverse of mapBelow, for paths that resolve inside `root`. */
function mapBack(root: string, platform: NodeJS.Platform): (real: string) => string {
  return (real: string) => {
    const parts = path
      .relative(root, real)
      .split(path.sep)
      .filter((s) => s !== '');
    if (platform === 'win32') return `${parts[0] ?? 'C'}:\\${parts.slice(1).join('\\')}`;
    return `/${parts.join('/')}`;
  };
}

function nodeFs(toReal: (file: string) => string, toLogical: (real: string) => string, lockTimeoutMs: number | undefined): ConfigFs {
  return {
    readFile: (file) => readFile(toReal(file)),
    async realpath(file) {
      try {
        return toLogical(await realpath(toReal(file)));
      } catch (error) {
        if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') return file;
        throw error;
      }
    },
    async stat(file) {
      try {
        const info = await stat(toReal(file));
        return {isFile: info.isFile(), isDirectory: info.isDirectory(), mode: info.mode & 0o7777, uid: info.uid, gid: info.gid};
      } catch (error) {
        if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') return undefined;
        throw error;
      }
    },
    async readdir(directory) {
      try {
        return await readdir(toReal(directory));
      } catch (error) {
        if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') return [];
        throw error;
      }
    },
    writeFileAtomic: (file, data, options = {}) =>
      writeFileAtomic(toReal(file), data, options.beforeRename === undefined ? {} : {beforeRename: options.beforeRename}),
    async writeNewFile(file, data, {mode, owner}) {
      const real = toReal(file);
      await mkdir(path.dirname(real), {recursive: true});
      const temp = `${real}.${randomBytes(6).toString('hex')}.tmp`;
      const handle = await open(temp, 'wx', mode);
      try {
        await handle.writeFile(data);
        await handle.chmod(mode);
        await handle.sync();
      } finally {
        await handle.close();
      }
      try {
        if (owner && typeof process.getuid === 'function' && process.getuid() === 0) await chown(temp, owner.uid, owner.gid);
        await rename(temp, real);
      } catch (error) {
        await rm(temp, {force: true});
        throw error;
      }
    },
    remove: (file) => rm(toReal(file), {force: true}),
    withLock: (lockFile, fn) => withFileLock(toReal(lockFile), fn, lockTimeoutMs === undefined ? {} : {timeoutMs: lockTimeoutMs}),
  };
}
