import {randomBytes} from 'node:crypto';
import {hostname} from 'node:os';
import {link, open, readFile, rm, stat, writeFile} from 'node:fs/promises';
import {setTimeout as sleep} from 'node:timers/promises';

import {ThothError, errnoCode} from '../core/errors.js';
import {ExitCode} from '../core/exit-codes.js';

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
    const abandoned = await abandonedContent(lockPath, staleMs);
    if (abandoned !== undefined) {
      // Only remove the lock we judged abandoned, not one another process took meanwhile.
      const again = await readFile(lockPath, 'utf8').catch(() => undefined);
      if (again === abandoned) await rm(lockPath, {force: true});
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

/**
 * Creates the lock with its owner already written: the owner record goes to a temporary file
 * that is then hard-linked to the lock path (fails if it exists). A lock file is therefore never
 * seen empty, which other processes would take for one abandoned by a crash.
 */
async function tryAcquire(lockPath: string): Promise<boolean> {
  const owner: LockOwner = {pid: process.pid, host: hostname(), created: Date.now()};
  const temp = `${lockPath}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temp, JSON.stringify(owner), {mode: 0o600, flag: 'wx'});
  try {
    await link(temp, lockPath);
    return true;
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'EEXIST') return false;
    // File systems without hard links: create exclusively, then write.
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'ENOSYS' || code === 'EXDEV') return tryAcquireExclusive(lockPath, owner);
    throw error;
  } finally {
    await rm(temp, {force: true});
  }
}

async function tryAcquireExclusive(lockPath: string, owner: LockOwner): Promise<boolean> {
  try {
    const handle = await open(lockPath, 'wx', 0o600);
    await handle.writeFile(JSON.stringify(owner));
    await handle.close();
    return true;
  } catch (error) {
    if (errnoCode(error) === 'EEXIST') return false;
    throw error;
  }
}

/** The lock's content when its owner is gone (so it may be removed), else undefined. */
async function abandonedContent(lockPath: string, staleMs: number): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(lockPath, 'utf8');
  } catch {
    return undefined;
  }
  let owner: Partial<LockOwner>;
  try {
    owner = JSON.parse(text) as Partial<LockOwner>;
  } catch {
    // Unreadable: abandoned only once it is old (a live owner on the fallback path writes it right after creating it).
    const age = await stat(lockPath).then(
      (info) => Date.now() - info.mtimeMs,
      () => 0,
    );
    return age > Math.min(staleMs, 5000) ? text : undefined;
  }
  if (owner.host === hostname() && typeof owner.pid === 'number') return isProcessAlive(owner.pid) ? undefined : text;
  return typeof owner.created !== 'number' || Date.now() - owner.created > staleMs ? text : undefined;
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoCode(error) === 'EPERM';
  }
}
