import {hostname} from 'node:os';
import {open, readFile, rm} from 'node:fs/promises';
import {setTimeout as sleep} from 'node:timers/promises';

import {ThothError, errnoCode} from '../cli/errors.js';
import {ExitCode} from '../cli/exit-codes.js';

export interface LockOptions {
  /** How long to keep trying before giving up (default 10 s). */
  timeoutMs?: number;
  /** A lock older than this whose owner cannot be checked is considered abandoned (default 60 s). */
  staleMs?: number;
}

interface LockOwner {
  pid: number;
  host: string;
  created: number;
}

/**
 * Runs `fn` while holding an exclusive lock file (O_EXCL create). A lock whose owning process
 * on this host is gone is taken over, so a crashed thoth never wedges MDM runs forever.
 */
export async function withFileLock<T>(lockPath: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const staleMs = options.staleMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  let delay = 5;
  for (;;) {
    const acquired = await tryAcquire(lockPath);
    if (acquired) break;
    if (await isAbandoned(lockPath, staleMs)) {
      await rm(lockPath, {force: true});
      continue;
    }
    if (Date.now() >= deadline) {
      throw new ThothError('LOCK_TIMEOUT', `${lockPath}: another thoth process holds this lock`, {
        exitCode: ExitCode.CONFLICT,
        suggestions: [`Wait for the other thoth process to finish, or remove ${lockPath} if no thoth is running.`],
      });
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 200);
  }
  try {
    return await fn();
  } finally {
    await rm(lockPath, {force: true});
  }
}

async function tryAcquire(lockPath: string): Promise<boolean> {
  try {
    const handle = await open(lockPath, 'wx', 0o600);
    const owner: LockOwner = {pid: process.pid, host: hostname(), created: Date.now()};
    await handle.writeFile(JSON.stringify(owner));
    await handle.close();
    return true;
  } catch (error) {
    if (errnoCode(error) === 'EEXIST') return false;
    throw error;
  }
}

async function isAbandoned(lockPath: string, staleMs: number): Promise<boolean> {
  let owner: Partial<LockOwner>;
  try {
    owner = JSON.parse(await readFile(lockPath, 'utf8')) as Partial<LockOwner>;
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return false;
    // Half-written by an owner that died between create and write.
    return true;
  }
  if (owner.host === hostname() && typeof owner.pid === 'number') return !isProcessAlive(owner.pid);
  return typeof owner.created !== 'number' || Date.now() - owner.created > staleMs;
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoCode(error) === 'EPERM';
  }
}
