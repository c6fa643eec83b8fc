import {errorMessage} from '../core/errors.js';
import {
  locatePolicy,
  nodePolicyFs,
  readPolicySnapshot,
  type FileStamp,
  type PolicyCandidate,
  type PolicyFs,
  type PolicyLocation,
  type PolicySnapshot,
} from './load.js';

/**
 * Notices when the policy that governs a running `thoth run` changes on disk: its content, an
 * atomic replacement (rename over it, as MDM tools install files), its deletion (the next source
 * in precedence applies, as at start-up), or a source of higher precedence appearing.
 *
 * Mechanism: a stat of the candidates, highest precedence first up to the one in use, every
 * interval, from an unref'd timer. Not fs.watch: it reports renames and deletions differently on
 * each platform, loses the watched inode when a file is replaced by rename, and cannot watch a
 * file that does not exist yet (the managed policy installed after the session started). A
 * check costs at most one stat per candidate (four) and reads the file only when its stamp
 * changed; a tool call costs nothing, since decisions read the policy already compiled in memory.
 */

/** A file written within this long before it was read may change again without its stamp changing (coarse mtimes: 1 s HFS+, 2 s FAT). */
export const RACY_WINDOW_MS = 2000;

/** What the watcher last acted on. */
export interface WatchState {
  location: PolicyLocation;
  /** PolicySnapshot.fingerprint of what was loaded (or last confirmed the same). */
  fingerprint: string;
  /** When that fingerprint was taken (clock ms). */
  checkedAtMs: number;
  /** The file in use was seen gone once: it must be gone at the next check too before anything else applies. */
  vanishedOnce: boolean;
}

export type CheckPlan =
  | {action: 'none'}
  /** The file in use is gone: installers delete and then write, so look once more before falling back. */
  | {action: 'confirm'}
  /** Read the located policy; `compare`: reload only if its bytes differ from what was loaded. */
  | {action: 'read'; compare: boolean; change: string};

/** Pure: what one check should do, from the last state and where the policy is now. */
export function planCheck(state: WatchState, next: PolicyLocation): CheckPlan {
  const previous = state.location;
  if (sameSource(previous, next)) {
    if (previous.kind !== 'file' || next.kind !== 'file') return {action: 'none'};
    const racy = next.stamp.mtimeMs > state.checkedAtMs - RACY_WINDOW_MS;
    if (sameStamp(previous.stamp, next.stamp) && !racy) return {action: 'none'};
    const replaced = previous.stamp.ino !== next.stamp.ino || previous.stamp.dev !== next.stamp.dev;
    return {action: 'read', compare: true, change: `${next.candidate.path} ${replaced ? 'was replaced' : 'changed'}`};
  }
  if (next.index < previous.index)
    return {action: 'read', compare: false, change: `${describeLocation(next)} appeared, ahead of ${describeLocation(previous)}`};
  if (previous.kind === 'file' && !state.vanishedOnce) return {action: 'confirm'};
  const gone = previous.kind === 'file' ? `${previous.candidate.path} is gone` : `${describeLocation(previous)} changed`;
  return {action: 'read', compare: false, change: `${gone}; ${describeLocation(next)} applies`};
}

/** Same candidate in the same state (a file, missing, or unreadable for the same reason). */
function sameSource(a: PolicyLocation, b: PolicyLocation): boolean {
  if (a.index !== b.index || a.kind !== b.kind) return false;
  return a.kind !== 'unreadable' || b.kind !== 'unreadable' || a.code === b.code;
}

function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return (
    a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.isFile === b.isFile
  );
}

export function describeLocation(location: PolicyLocation): string {
  switch (location.kind) {
    case 'builtin':
      return 'the built-in policy';
    case 'absent':
      return `${location.candidate.path} (missing)`;
    default:
      return `the ${location.candidate.kind} policy ${location.candidate.path}`;
  }
}

export interface PolicyChange {
  snapshot: PolicySnapshot;
  /** One phrase for stderr and the audit trail: what was seen. */
  change: string;
}

export interface PolicyWatchIo {
  fs: PolicyFs;
  now(): number;
  /** Runs `fn` after `ms`; the timer must never keep the process alive. */
  setTimer(fn: () => void, ms: number): {cancel(): void};
}

export const nodeWatchIo: PolicyWatchIo = {
  fs: nodePolicyFs,
  now: Date.now,
  setTimer(fn, ms) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return {cancel: () => clearTimeout(timer)};
  },
};

export interface PolicySourceWatcherOptions {
  /** policyCandidates(...): fixed for the session. */
  candidates: readonly PolicyCandidate[];
  intervalMs: number;
  io?: PolicyWatchIo;
  /** Awaited before the next check is scheduled: reloads never overlap. */
  onChange(change: PolicyChange): Promise<void> | void;
  warn(message: string): void;
}

/** Polls the policy sources (see the module comment); `initial()` first, then `start()`. */
export class PolicySourceWatcher {
  private readonly options: PolicySourceWatcherOptions;
  private readonly io: PolicyWatchIo;
  private state: WatchState | undefined;
  private timer: {cancel(): void} | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(options: PolicySourceWatcherOptions) {
    this.options = options;
    this.io = options.io ?? nodeWatchIo;
  }

  /** The snapshot start-up loads; later checks compare against it. */
  async initial(): Promise<PolicySnapshot> {
    const location = await locatePolicy(this.options.candidates, this.io.fs);
    const snapshot = await readPolicySnapshot(location, this.io.fs);
    this.state = {location, fingerprint: snapshot.fingerprint, checkedAtMs: this.io.now(), vanishedOnce: false};
    return snapshot;
  }

  start(): void {
    if (!this.stopped) this.schedule();
  }

  /** No check starts after this; resolves once a check (and its reload) in progress is done. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    await this.running;
  }

  /** One check: the change it found (already handed to onChange), if any. The timer runs it; tests call it. */
  async check(): Promise<PolicyChange | undefined> {
    const state = this.state;
    if (!state) throw new Error('PolicySourceWatcher.check() before initial()');
    const {fs} = this.io;
    const location = await locatePolicy(this.options.candidates, fs);
    const plan = planCheck(state, location);
    if (plan.action === 'none') {
      if (state.vanishedOnce) this.state = {...state, vanishedOnce: false};
      return undefined;
    }
    if (plan.action === 'confirm') {
      this.state = {...state, vanishedOnce: true};
      return undefined;
    }
    const checkedAtMs = this.io.now();
    const snapshot = await readPolicySnapshot(location, fs);
    if (location.kind === 'file' && snapshot.content !== undefined && !(await this.unchangedSince(location))) {
      // Written to while being read (an in-place rewrite): the next check reads it whole.
      return undefined;
    }
    this.state = {location, fingerprint: snapshot.fingerprint, checkedAtMs, vanishedOnce: false};
    if (plan.compare && snapshot.fingerprint === state.fingerprint) return undefined; // touched, not changed
    const change: PolicyChange = {snapshot, change: plan.change};
    await this.options.onChange(change);
    return change;
  }

  private async unchangedSince(location: Extract<PolicyLocation, {kind: 'file'}>): Promise<boolean> {
    // A document held in memory cannot be written to meanwhile (and has no file to stat).
    if (location.candidate.inline !== undefined) return true;
    try {
      return sameStamp(location.stamp, await this.io.fs.stat(location.candidate.path));
    } catch {
      return false;
    }
  }

  private schedule(): void {
    this.timer = this.io.setTimer(() => {
      this.timer = undefined;
      this.running = this.check()
        .then(
          () => undefined,
          (error: unknown) => this.options.warn(`checking the policy for changes failed: ${errorMessage(error)}`),
        )
        .finally(() => {
          this.running = undefined;
          if (!this.stopped) this.schedule();
        });
    }, this.options.intervalMs);
  }
}
