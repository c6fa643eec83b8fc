import {randomBytes} from 'node:crypto';
import {chmod, chown, open, rename, rm, stat} from 'node:fs/promises';
import {basename, dirname, join} from 'node:path';

import {errnoCode} from '../core/errors.js';

export interface AtomicWriteOptions {
  /** File mode for the new file. Defaults to the mode of the file being replaced, else 0o600. */
  mode?: number;
  /** Keep the owner of the file being replaced (thoth may run as root for the console user). */
  preserveOwner?: boolean;
  /** fsync the file and its directory before returning (default true). */
  durable?: boolean;
  /**
   * Runs after the new content is on disk and just before the rename; throwing aborts the write
   * (the temporary file is removed). Callers use it to refuse when the target changed meanwhile.
   */
  beforeRename?: () => Promise<void>;
}

/**
 * Replaces `path` with `data` so that readers see either the old or the new content, never a
 * mix: write a temporary file in the same directory, fsync it, then rename it over the target.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const durable = options.durable ?? true;
  const existing = await stat(path).catch((error: unknown) => {
    if (errnoCode(error) === 'ENOENT') return undefined;
    throw error;
  });
  const mode = options.mode ?? (existing ? existing.mode & 0o7777 : 0o600);
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(data);
    // open() applies the umask; set the mode explicitly so 0600 stays 0600.
    await handle.chmod(mode);
    if (durable) await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(temp, {force: true});
    throw error;
  }
  await handle.close();
  try {
    if (existing && (options.preserveOwner ?? true) && typeof process.getuid === 'function' && process.getuid() === 0) {
      await chown(temp, existing.uid, existing.gid);
    }
    if (options.beforeRename) await options.beforeRename();
    await rename(temp, path);
  } catch (error) {
    await rm(temp, {force: true});
    throw error;
  }
  if (durable) await syncDirectory(dirname(path));
}

/** Makes a rename or a new file durable: on POSIX the directory entry must be flushed too. */
export async function syncDirectory(directory: string): Promise<void> {
  if (process.platform === 'win32') return;
  const handle = await open(directory, 'r').catch(() => undefined);
  if (!handle) return;
  try {
    await handle.sync();
  } catch {
    // Some file systems refuse fsync on directories; the rename itself already happened.
  } finally {
    await handle.close();
  }
}

/** Sets a file's mode to `mode` when it is looser; returns true when it had to change it. */
export async function tightenMode(path: string, mode: number): Promise<boolean> {
  if (process.platform === 'win32') return false;
  const current = (await stat(path)).mode & 0o777;
  if ((current & ~mode) === 0) return false;
  await chmod(path, mode);
  return true;
}
