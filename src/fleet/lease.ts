import {randomUUID} from 'node:crypto';
import {mkdir, readFile, rm} from 'node:fs/promises';
import {hostname} from 'node:os';
import {dirname} from 'node:path';

import {errnoCode, errorMessage} from '../core/errors.js';
import {writeFileAtomic} from '../util/atomic-write.js';
import {withFileLock} from '../util/file-lock.js';

export interface LeaseOptions {
  /** The lease file; `<path>.lock` guards its read-modify-write. */
  path: string;
  /** A lease not renewed for this long is free (a holder that hangs loses it). */
  ttlMs: number;
  /** How often the holder renews and the others try to take it. */
  renewMs: number;
  now?: () => number;
  /** True while `pid` runs on this host (a holder that was killed frees the lease at once). */
  isAlive?: (pid: number) => boolean;
  warn?: (message: string) => void;
}

interface LeaseRecord {
  holder: string;
  pid: number;
  host: string;
  expiresAt: number;
}

/**
 * "Exactly one of many `thoth run` processes does this": a lease file that the holder renews
 * every `renewMs` and that expires after `ttlMs`. Taken when it is free, expired, or held by a
 * process of this host that no longer exists (SIGKILL leaves no time to release it).
 */
export class Lease {
  readonly holderId = randomUUID();
  private held = false;
  /** Expiry this process last wrote while holding the lease (no one else can take it before). */
  private heldUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private inFlight: Promise<unknown> | undefined;
  private readonly listeners: Array<(held: boolean) => void> = [];
  private readonly now: () => number;
  private readonly isAlive: (pid: number) => boolean;

  constructor(private readonly options: LeaseOptions) {
    this.now = options.now ?? Date.now;
    this.isAlive = options.isAlive ?? processAlive;
  }

  get isHeld(): boolean {
    return this.held;
  }

  /** Called with true when this process becomes the holder and false when it stops being it. */
  onChange(listener: (held: boolean) => void): void {
    this.listeners.push(listener);
  }

  /** Tries at once, then every renewMs (the timer never keeps the process alive). */
  start(): void {
    this.stopped = false;
    void this.tick();
  }

  /** Takes or renews the lease; false when another live process holds it (or after stop()). */
  async tryAcquire(): Promise<boolean> {
    const attempt = this.acquire();
    this.inFlight = attempt;
    return attempt;
  }

  private async acquire(): Promise<boolean> {
    if (this.stopped) return false;
    await mkdir(dirname(this.options.path), {recursive: true, mode: 0o700});
    let acquired: boolean;
    try {
      acquired = await withFileLock(
        `${this.options.path}.lock`,
        async () => {
          if (this.stopped) return false;
          const current = await this.read();
          const now = this.now();
          const free =
            !current ||
            current.holder === this.holderId ||
            current.expiresAt <= now ||
            (current.host === hostname() && !this.isAlive(current.pid));
          if (!free) return false;
          const record: LeaseRecord = {holder: this.holderId, pid: process.pid, host: hostname(), expiresAt: now + this.options.ttlMs};
          await writeFileAtomic(this.options.path, `${JSON.stringify(record)}\n`, {mode: 0o600, durable: false});
          this.heldUntil = record.expiresAt;
          return true;
        },
        {timeoutMs: Math.min(2000, this.options.renewMs), staleMs: this.options.ttlMs},
      );
    } catch (error) {
      this.options.warn?.(`lease ${this.options.path}: ${errorMessage(error)}`);
      // A renewal that could not run (lock contention on a loaded machine, a transient I/O
      // error) does not end a lease whose record still stands: no other process can take it
      // before it expires. Keeping it avoids a pause and resume of the holder's work. The
      // margin of one renewal leaves the others a clean hand-over after expiry.
      acquired = this.held && this.now() < this.heldUntil - this.options.renewMs;
    }
    this.setHeld(acquired && !this.stopped);
    return acquired && !this.stopped;
  }

  /** Stops renewing and frees the lease if this process holds it. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    // A renewal in flight may still write the file: let it finish, then release.
    await this.inFlight?.catch(() => undefined);
    this.setHeld(false);
    try {
      await withFileLock(
        `${this.options.path}.lock`,
        async () => {
          const current = await this.read();
          if (current?.holder === this.holderId) await rm(this.options.path, {force: true});
        },
        {timeoutMs: 1000, staleMs: this.options.ttlMs},
      );
    } catch {
      // It expires by itself.
    }
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    await this.tryAcquire();
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), this.options.renewMs);
    this.timer.unref();
  }

  private setHeld(held: boolean): void {
    if (held === this.held) return;
    this.held = held;
    for (const listener of this.listeners) listener(held);
  }

  private async read(): Promise<LeaseRecord | undefined> {
    let text: string;
    try {
      text = await readFile(this.options.path, 'utf8');
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return undefined;
      throw error;
    }
    try {
      const value = JSON.parse(text) as Partial<LeaseRecord>;
      if (
        typeof value.holder === 'string' &&
        typeof value.pid === 'number' &&
        typeof value.host === 'string' &&
        typeof value.expiresAt === 'number'
      ) {
        return value as LeaseRecord;
      }
    } catch {
      // A damaged lease is a free lease.
    }
    return undefined;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoCode(error) === 'EPERM';
  }
}
