import {spawn} from 'node:child_process';
import {describe, expect, it} from 'vitest';

import {policyFromSnapshot, type FileStamp, type PolicyCandidate, type PolicyFs} from '../../src/policy/load.js';
import {planCheck, PolicySourceWatcher, RACY_WINDOW_MS, type PolicyChange, type PolicyWatchIo} from '../../src/policy/source-watch.js';
import {REPO_ROOT} from '../helpers/cli.js';

const FLAG = '/work/flag.json';
const MANAGED = '/etc/thoth/policy.json';
const PROFILE = '/home/ann/.thoth/policy.json';

const managed: PolicyCandidate = {kind: 'managed', path: MANAGED, required: false};
const profile: PolicyCandidate = {kind: 'profile', path: PROFILE, required: false};
const flag: PolicyCandidate = {kind: 'flag', path: FLAG, required: true};

interface FakeFile {
  content: Buffer;
  stamp: FileStamp;
}

/** A file system and a clock the test moves by hand; rename, touch and in-place writes as the OS does them. */
class FakeWorld implements PolicyFs {
  nowMs = 1_000_000;
  reads = 0;
  /** Runs during the next read (a writer racing the reader). */
  duringRead: (() => void) | undefined;
  private readonly files = new Map<string, FakeFile>();
  private nextIno = 100;

  /** A new file, or a new inode moved over the old one (what MDM tools and atomic writers do). */
  replace(path: string, text: string): void {
    this.files.set(path, {content: Buffer.from(text), stamp: this.stamp(Buffer.byteLength(text), this.nextIno++)});
  }

  /** The same inode rewritten (truncate and write). */
  rewrite(path: string, text: string, options: {keepMtime?: boolean} = {}): void {
    const file = this.files.get(path)!;
    const stamp = this.stamp(Buffer.byteLength(text), file.stamp.ino);
    if (options.keepMtime) {
      stamp.mtimeMs = file.stamp.mtimeMs;
      stamp.ctimeMs = file.stamp.ctimeMs;
    }
    this.files.set(path, {content: Buffer.from(text), stamp});
  }

  touch(path: string): void {
    const file = this.files.get(path)!;
    this.files.set(path, {content: file.content, stamp: {...file.stamp, mtimeMs: this.nowMs, ctimeMs: this.nowMs}});
  }

  remove(path: string): void {
    this.files.delete(path);
  }

  advance(ms: number): void {
    this.nowMs += ms;
  }

  async stat(path: string): Promise<FileStamp> {
    const file = this.files.get(path);
    if (!file) throw Object.assign(new Error(`ENOENT: ${path}`), {code: 'ENOENT'});
    return {...file.stamp};
  }

  async readFile(path: string): Promise<Buffer> {
    this.reads++;
    const file = this.files.get(path);
    if (!file) throw Object.assign(new Error(`ENOENT: ${path}`), {code: 'ENOENT'});
    const content = file.content;
    const racing = this.duringRead;
    this.duringRead = undefined;
    racing?.();
    return content;
  }

  private stamp(size: number, ino: number): FileStamp {
    return {dev: 1, ino, size, mtimeMs: this.nowMs, ctimeMs: this.nowMs, isFile: true};
  }
}

function setup(candidates: PolicyCandidate[]) {
  const world = new FakeWorld();
  const changes: PolicyChange[] = [];
  const timers: Array<{fn: () => void; ms: number; cancelled: boolean}> = [];
  const io: PolicyWatchIo = {
    fs: world,
    now: () => world.nowMs,
    setTimer(fn, ms) {
      const timer = {fn, ms, cancelled: false};
      timers.push(timer);
      return {cancel: () => (timer.cancelled = true)};
    },
  };
  const warnings: string[] = [];
  const watcher = new PolicySourceWatcher({
    candidates,
    intervalMs: 2000,
    io,
    onChange: (change) => void changes.push(change),
    warn: (m) => warnings.push(m),
  });
  /** A check well after the last write: stamps alone decide whether anything is read. */
  const settledCheck = async () => {
    world.advance(RACY_WINDOW_MS + 1000);
    return watcher.check();
  };
  return {world, watcher, changes, timers, warnings, settledCheck};
}

const label = async (change: PolicyChange | undefined) => {
  if (!change) return undefined;
  const loaded = await policyFromSnapshot(change.snapshot);
  return loaded.ok ? `${loaded.policy.source.kind}:${loaded.policy.label ?? ''}` : `failed: ${loaded.failure.message}`;
};

describe('the policy change detector', () => {
  it('reads nothing while the file in use keeps its stamp, and ignores a touch that leaves the content as it was', async () => {
    const {world, watcher, changes, settledCheck} = setup([managed, profile]);
    world.replace(MANAGED, '{"version": "m1"}');
    world.advance(RACY_WINDOW_MS + 1000);
    const first = await watcher.initial();
    expect(first.location).toMatchObject({kind: 'file', candidate: {kind: 'managed'}});
    expect(first.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(world.reads).toBe(1);

    expect(await settledCheck()).toBeUndefined();
    expect(world.reads).toBe(1);

    world.touch(MANAGED);
    expect(await settledCheck()).toBeUndefined();
    expect(world.reads).toBe(2); // the stamp changed, so the bytes were compared
    expect(await settledCheck()).toBeUndefined();
    expect(world.reads).toBe(2); // and the new stamp is remembered
    expect(changes).toEqual([]);
  });

  it('an in-place edit and a replacement by rename are both reloads; a replacement with the same bytes is not', async () => {
    const {world, watcher, changes, settledCheck} = setup([managed, profile]);
    world.replace(MANAGED, '{"version": "m1"}');
    await watcher.initial();

    world.advance(5000);
    world.rewrite(MANAGED, '{"version": "m2", "rules": []}');
    const edited = await settledCheck();
    expect(edited?.change).toBe(`${MANAGED} changed`);
    expect(await label(edited)).toBe('managed:m2');

    world.replace(MANAGED, '{"version": "m3"}');
    const replaced = await settledCheck();
    expect(replaced?.change).toBe(`${MANAGED} was replaced`);
    expect(await label(replaced)).toBe('managed:m3');

    world.replace(MANAGED, '{"version": "m3"}');
    expect(await settledCheck()).toBeUndefined();
    expect(changes.map((change) => change.change)).toEqual([`${MANAGED} changed`, `${MANAGED} was replaced`]);
  });

  it('a deleted managed policy gives way to the next source only once it is still gone at the next check', async () => {
    const {world, watcher, changes, settledCheck} = setup([managed, profile]);
    world.replace(MANAGED, '{"version": "m1"}');
    world.replace(PROFILE, '{"version": "p1"}');
    await watcher.initial();

    world.remove(MANAGED);
    expect(await settledCheck()).toBeUndefined(); // gone once: look again
    const fallback = await settledCheck();
    expect(fallback?.change).toBe(`${MANAGED} is gone; the profile policy ${PROFILE} applies`);
    expect(await label(fallback)).toBe('profile:p1');

    world.remove(PROFILE);
    await settledCheck();
    expect(await label(await settledCheck())).toBe('builtin:builtin-1');
    expect(changes).toHaveLength(2);
  });

  it('an installer that deletes and then writes the same policy between two checks changes nothing', async () => {
    const {world, watcher, changes, settledCheck} = setup([managed, profile]);
    world.replace(MANAGED, '{"version": "m1"}');
    world.replace(PROFILE, '{"version": "weaker"}');
    await watcher.initial();

    world.remove(MANAGED);
    expect(await settledCheck()).toBeUndefined();
    world.replace(MANAGED, '{"version": "m1"}');
    expect(await settledCheck()).toBeUndefined();
    // And the deletion seen once does not count towards a later one.
    world.remove(MANAGED);
    expect(await settledCheck()).toBeUndefined();
    expect(changes).toEqual([]);
  });

  it('a source of higher precedence that appears applies at once: the profile over the built-in, the managed over the profile', async () => {
    const {world, watcher, settledCheck} = setup([managed, profile]);
    expect((await watcher.initial()).location.kind).toBe('builtin');
    expect(await settledCheck()).toBeUndefined();

    world.replace(PROFILE, '{"version": "p1"}');
    const profileAppeared = await settledCheck();
    expect(profileAppeared?.change).toBe(`the profile policy ${PROFILE} appeared, ahead of the built-in policy`);
    expect(await label(profileAppeared)).toBe('profile:p1');

    world.replace(MANAGED, '{"version": "m1"}');
    const managedAppeared = await settledCheck();
    expect(managedAppeared?.change).toBe(`the managed policy ${MANAGED} appeared, ahead of the profile policy ${PROFILE}`);
    expect(await label(managedAppeared)).toBe('managed:m1');
    // A lower-precedence file changing is not looked at while a higher one is in force.
    world.rewrite(PROFILE, '{"version": "p2"}');
    expect(await settledCheck()).toBeUndefined();
  });

  it('a file named by --policy that is deleted fails closed (it never falls back), and recovers when it is back', async () => {
    const {world, watcher, settledCheck} = setup([flag, managed, profile]);
    world.replace(FLAG, '{"version": "f1"}');
    world.replace(PROFILE, '{"version": "p1"}');
    await watcher.initial();

    world.remove(FLAG);
    expect(await settledCheck()).toBeUndefined();
    const gone = await settledCheck();
    expect(await label(gone)).toBe(
      `failed: policy ${FLAG} does not exist (named by --policy): create it or point --policy at an existing policy`,
    );

    world.replace(FLAG, '{"version": "f2"}');
    expect(await label(await settledCheck())).toBe('flag:f2');
  });

  it('a rewrite that keeps size and mtime (coarse timestamps) is still seen while the file is recent', async () => {
    const {world, watcher} = setup([managed, profile]);
    world.replace(MANAGED, '{"version": "a1"}');
    await watcher.initial();
    world.advance(300);
    world.rewrite(MANAGED, '{"version": "a2"}', {keepMtime: true});
    const change = await watcher.check();
    expect(await label(change)).toBe('managed:a2');
  });

  it('a file being written while it is read is read again at the next check, whole', async () => {
    const {world, watcher, changes, settledCheck} = setup([managed, profile]);
    world.replace(MANAGED, '{"version": "w1"}');
    await watcher.initial();
    world.rewrite(MANAGED, '{"version": "w2", "ru');
    world.duringRead = () => world.rewrite(MANAGED, '{"version": "w2", "rules": []}');
    expect(await settledCheck()).toBeUndefined();
    expect(changes).toEqual([]);
    expect(await label(await settledCheck())).toBe('managed:w2');
  });

  it('planCheck: the same file with the same stamp, long after it was read, needs nothing', () => {
    const stamp: FileStamp = {dev: 1, ino: 5, size: 10, mtimeMs: 0, ctimeMs: 0, isFile: true};
    const location = {kind: 'file' as const, index: 0, candidate: managed, stamp};
    const state = {location, fingerprint: 'sha256:x', checkedAtMs: 10_000, vanishedOnce: false};
    expect(planCheck(state, location)).toEqual({action: 'none'});
    expect(planCheck({...state, checkedAtMs: 1000}, location)).toMatchObject({action: 'read', compare: true});
    expect(planCheck(state, {kind: 'builtin', index: 2})).toEqual({action: 'confirm'});
    expect(planCheck({...state, vanishedOnce: true}, {kind: 'builtin', index: 2})).toMatchObject({action: 'read', compare: false});
  });

  it('runs one check per interval on its timer, never two at once, and stop() cancels the next one', async () => {
    const {world, watcher, timers} = setup([managed, profile]);
    world.replace(MANAGED, '{"version": "t1"}');
    await watcher.initial();
    watcher.start();
    expect(timers).toHaveLength(1);
    expect(timers[0]!.ms).toBe(2000);
    timers[0]!.fn();
    expect(timers).toHaveLength(1); // the next one is scheduled when this check is done
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(timers).toHaveLength(2);
    await watcher.stop();
    expect(timers[1]!.cancelled).toBe(true);
  });

  it('the real timer does not keep a process alive (a session ends when its client goes, whatever the interval)', async () => {
    const script = `import {nodeWatchIo} from './dist/policy/source-watch.js'; nodeWatchIo.setTimer(() => console.log('fired'), 120000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe']});
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.on('close', (c, s) => resolve([c, s])),
    );
    clearTimeout(killer);
    expect({code, signal, output}).toEqual({code: 0, signal: null, output: ''});
  });
});
