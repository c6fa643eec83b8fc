import {lstatSync, readlinkSync, realpathSync, statSync} from 'node:fs';

/**
 * The questions link resolution asks the file system. Injected so tests can stage any layout;
 * production answers them synchronously, because decisions are synchronous and each answer
 * costs a microsecond or a few. "Nothing there" is an answer, not an exception: most strings a
 * `*` rule reads do not exist, and Node takes ~7 µs to build an ENOENT error.
 */
export interface FileLinks {
  /** Whether something exists at `path`, links followed; false only for ENOENT; throws other errors (with a `code`). */
  exists(path: string): boolean;
  /** What the last name of `path` is, not followed: 'link', 'other', or undefined for nothing (ENOENT); throws other errors. */
  entry(path: string): 'link' | 'other' | undefined;
  /** The path with every link resolved, when all of it exists; throws otherwise. */
  realpath(path: string): string;
  /** A link's target as written; throws for anything else. */
  readlink(path: string): string;
}

export const NODE_FILE_LINKS: FileLinks = {
  exists: (path) => statSync(path, {throwIfNoEntry: false}) !== undefined,
  entry: (path) => {
    const stats = lstatSync(path, {throwIfNoEntry: false});
    return stats === undefined ? undefined : stats.isSymbolicLink() ? 'link' : 'other';
  },
  realpath: (path) => realpathSync.native(path),
  readlink: (path) => readlinkSync(path),
};

export type LinkResolution = {ok: true; path: string} | {ok: false; code: string};

type Answer<T> = {ok: true; value: T} | {ok: false; code: string};

type Kind = keyof FileLinks;
type Value<K extends Kind> = ReturnType<FileLinks[K]>;

/**
 * Answers already given, by question and path: one decision (or the decisions of one turn, see
 * path-reader.ts) asks about the same directories often.
 */
export class LinkMemo {
  // Created on first use: a memo lives for one turn of the event loop, and most turns ask one or
  // two kinds of question (a Map each would be garbage for every call otherwise).
  private readonly answers: {[K in Kind]?: Map<string, Answer<Value<K>>>} = {};

  /** The answer to `kind` about `path`, asked of `io` the first time only. Never throws. */
  ask<K extends Kind>(io: FileLinks, kind: K, path: string): Answer<Value<K>> {
    const answers = this.mapOf(kind);
    let answer = answers.get(path);
    if (answer === undefined) {
      try {
        answer = {ok: true, value: io[kind](path) as Value<K>};
      } catch (error) {
        const code = (error as NodeJS.ErrnoException | undefined)?.code;
        answer = {ok: false, code: typeof code === 'string' ? code : 'EUNKNOWN'};
      }
      answers.set(path, answer);
    }
    return answer;
  }

  /** The answer already given, if any. */
  known<K extends Kind>(kind: K, path: string): Answer<Value<K>> | undefined {
    return (this.answers[kind] as Map<string, Answer<Value<K>>> | undefined)?.get(path);
  }

  /** Records what is known without asking (what another answer already implies). */
  learn<K extends Kind>(kind: K, path: string, answer: Answer<Value<K>>): void {
    this.mapOf(kind).set(path, answer);
  }

  private mapOf<K extends Kind>(kind: K): Map<string, Answer<Value<K>>> {
    let answers = this.answers[kind] as Map<string, Answer<Value<K>>> | undefined;
    if (answers === undefined) {
      answers = new Map();
      (this.answers as Record<Kind, unknown>)[kind] = answers;
    }
    return answers;
  }
}

export type Flavour = 'posix' | 'win32';

/** Linux follows at most 40 links in one lookup (macOS 32): more is a loop. */
const MAX_LINKS = 40;

/**
 * "No such name": nothing below it exists, so there is no link below it to follow. A name too
 * long for the file system (ENAMETOOLONG) or that it refuses (EINVAL on Windows: `?`, `*`, `:`)
 * cannot exist either; counting those as errors would make every long sentence in a `content`
 * argument "unresolvable".
 */
const ABSENT = new Set(['ENOENT', 'ENOTDIR', 'ENAMETOOLONG', 'EINVAL']);

/**
 * No file system supported takes a longer name (Linux and macOS: 255 bytes, which a string of
 * more than 255 UTF-16 units always exceeds; Windows: 255 UTF-16 units). Such a name is absent
 * without asking, which spares an ENAMETOOLONG exception per long sentence.
 */
const MAX_NAME = 255;

/**
 * Where an absolute path (`/` separators, win32 drive or UNC root) really leads: every symbolic
 * link on the way followed, as the kernel would follow them when the server opens it.
 *
 * - The longest existing part is resolved by `realpath`; the part that does not exist yet (a file
 *   about to be written) is appended as written, so a write target still resolves through its
 *   existing parent directories.
 * - A dangling link at the boundary is followed to where it points: creating a file through it
 *   creates the target.
 * - `..` is applied to the directory reached so far, as the kernel does (`~/work/link/..` is the
 *   parent of the link's target, not `~/work`). After a name that does not exist, the OS would
 *   fail; the rest is then taken lexically.
 * - Errors other than "absent" (ELOOP, EACCES, EIO) are returned: the caller treats the path in
 *   the restrictive direction.
 */
export function resolveLinks(absolute: string, flavour: Flavour, io: FileLinks, memo: LinkMemo = new LinkMemo()): LinkResolution {
  if (flavour === 'posix' && NORMAL_POSIX.test(absolute) && namesFit(absolute)) {
    const quick = resolveQuickly(absolute, io, memo);
    if (quick !== undefined) return quick;
  }
  const ask = <K extends Kind>(kind: K, path: string): Answer<Value<K>> => memo.ask(io, kind, path);
  const real = (path: string): LinkResolution => realOf(memo, io, flavour, path);
  /** true / false (absent), or the error that is neither. */
  const present = (path: string): Answer<boolean> => {
    // A path that resolved exists: no need to ask again.
    if (memo.known('realpath', path)?.ok === true) return {ok: true, value: true};
    const answer = ask('exists', path);
    return answer.ok || !ABSENT.has(answer.code) ? answer : {ok: true, value: false};
  };

  const start = splitRoot(absolute, flavour);
  if (start === undefined) return {ok: false, code: 'EINVAL'};

  // The POSIX root is itself; a win32 root is asked, for the spelling of its drive or share.
  const root = flavour === 'posix' ? {ok: true as const, path: '/'} : real(start.root);
  if (!root.ok) return root;
  let base = root.path;
  // What is left to walk is `queue` from `at` on: a cursor, so that a path of thousands of
  // names (`a/../a/../…`) costs their number, not its square. Only a link's target replaces
  // the queue, at most MAX_LINKS times.
  let queue = start.parts.filter(isName);
  let at = 0;
  let followed = 0;
  for (;;) {
    if (at === queue.length) return {ok: true, path: base};
    if (queue[at] === '..') {
      // `base` has no links left in it, so its textual parent is the physical one.
      base = parentOf(base, flavour);
      at++;
      continue;
    }
    let dotDot = at;
    while (dotDot < queue.length && queue[dotDot] !== '..') dotDot++;
    const run = queue.slice(at, dotDot);
    const tooLong = run.findIndex((part) => part.length > MAX_NAME);

    if (tooLong === -1) {
      const whole = present(join(base, run));
      if (!whole.ok) return whole;
      if (whole.value) {
        const resolved = real(join(base, run));
        if (resolved.ok) {
          base = resolved.path;
          at = dotDot;
          continue;
        }
        if (!ABSENT.has(resolved.code)) return resolved;
      }
    }

    // The longest prefix of `run` that exists. Existence is monotone along a path, so a search
    // works: galloping back from the end (usually only the last name or two are new), then
    // halving, so that a path of thousands of names costs a few dozen questions.
    let found = 0;
    let missing = tooLong === -1 ? run.length : tooLong + 1;
    let misses = 0;
    let galloping = true;
    while (missing - found > 1) {
      // Back 1, 1, 2, 4… names: the first probe (the parent) is usually answered already.
      const probe = galloping ? Math.max(found + 1, missing - (misses < 2 ? 1 : 2 ** (misses - 1))) : (found + missing) >>> 1;
      const prefix = present(join(base, run.slice(0, probe)));
      if (!prefix.ok) return prefix;
      if (prefix.value) {
        found = probe;
        galloping = false;
      } else {
        missing = probe;
        misses++;
      }
    }
    let foundPath = base;
    if (found > 0) {
      const resolved = real(join(base, run.slice(0, found)));
      if (!resolved.ok) return resolved;
      foundPath = resolved.path;
    }

    // `run[found]` does not resolve: either nothing has that name, or it is a link whose target
    // does not exist (yet).
    const name = run[found]!;
    const entry = name.length > MAX_NAME ? ({ok: true, value: undefined} as const) : ask('entry', join(foundPath, [name]));
    if (!entry.ok && !ABSENT.has(entry.code)) return entry;
    if (!entry.ok || entry.value !== 'link') return {ok: true, path: appendLexically(foundPath, queue.slice(at + found), flavour)};
    const link = ask('readlink', join(foundPath, [name]));
    if (!link.ok) return link;
    if (++followed > MAX_LINKS) return {ok: false, code: 'ELOOP'};
    const target = splitTarget(link.value, foundPath, flavour);
    if (target.root === undefined) {
      base = foundPath;
    } else {
      const targetRoot = flavour === 'posix' ? {ok: true as const, path: '/'} : real(target.root);
      if (!targetRoot.ok) return targetRoot;
      base = targetRoot.path;
    }
    queue = [...target.parts.filter(isName), ...queue.slice(at + found + 1)];
    at = 0;
  }
}

/** An absolute POSIX path without `.`, `..`, empty names or a trailing `/` (what lexical normalisation gives). */
const NORMAL_POSIX = /^(?:\/(?:[^/.]|\.[^/.]|\.\.[^/])[^/]*)+$/;

/** The real path of `path` as an answer (win32 answers in `/` form). */
function realOf(memo: LinkMemo, io: FileLinks, flavour: Flavour, path: string): LinkResolution {
  const answer = memo.ask(io, 'realpath', path);
  return answer.ok ? {ok: true, path: flavour === 'win32' ? toSlashes(answer.value) : answer.value} : answer;
}

/**
 * The common cases in two questions, one of them shared: most strings a rule reads name nothing,
 * and most that do name something that exists. What the last name is (lstat, links in the
 * directories before it followed): something that exists resolves with one `realpath`;
 * nothing, in a directory that exists, is that directory's real path (asked once per
 * directory and decision: the words of a text share their base) and the name. Anything else (a
 * dangling link, a missing directory, a name too long to ask about) is left to the full walk:
 * undefined. POSIX paths only.
 */
function resolveQuickly(absolute: string, io: FileLinks, memo: LinkMemo): LinkResolution | undefined {
  const slash = absolute.lastIndexOf('/');
  const entry = memo.ask(io, 'entry', absolute);
  if (entry.ok && entry.value !== undefined) {
    const resolved = realOf(memo, io, 'posix', absolute);
    // A link whose target is missing (or a name that vanished meanwhile): the full walk follows it.
    return resolved.ok || !ABSENT.has(resolved.code) ? resolved : undefined;
  }
  if (!entry.ok && !ABSENT.has(entry.code)) return entry;
  // Nothing has that name, or a directory on the way is missing (then so is the parent).
  const parentPath = slash === 0 ? '/' : absolute.slice(0, slash);
  const parent = realOf(memo, io, 'posix', parentPath);
  if (!parent.ok) {
    if (!ABSENT.has(parent.code)) return parent;
    // What the full walk would ask first is known: neither the path nor its parent resolves.
    memo.learn('exists', absolute, entry.ok ? {ok: true, value: false} : entry);
    memo.learn('exists', parentPath, parent);
    return undefined;
  }
  return {ok: true, path: parent.path === '/' ? absolute.slice(slash) : `${parent.path}${absolute.slice(slash)}`};
}

/** Whether no name of the path is longer than a file system takes (longer ones are absent without asking). */
function namesFit(path: string): boolean {
  let start = 0;
  for (;;) {
    const slash = path.indexOf('/', start);
    const end = slash === -1 ? path.length : slash;
    if (end - start > MAX_NAME) return false;
    if (slash === -1) return true;
    start = slash + 1;
  }
}

function isName(part: string): boolean {
  return part !== '' && part !== '.';
}

/** `C:\Users\x` → `C:/Users/x`; `\\?\C:\x` → `C:/x`; `\\?\UNC\s\share` → `//s/share`. */
function toSlashes(native: string): string {
  let path = native.replaceAll('\\', '/');
  if (/^\/\/\?\/unc\//i.test(path)) path = `//${path.slice(8)}`;
  else if (path.startsWith('//?/')) path = path.slice(4);
  const root = splitRoot(path, 'win32')?.root;
  return path.length > (root?.length ?? 1) && path.endsWith('/') ? path.slice(0, -1) : path;
}

function splitRoot(path: string, flavour: Flavour): {root: string; parts: string[]} | undefined {
  if (flavour === 'posix') return path.startsWith('/') ? {root: '/', parts: path.slice(1).split('/')} : undefined;
  const drive = /^[a-z]:\//i.exec(path);
  if (drive) return {root: drive[0], parts: path.slice(3).split('/')};
  const unc = /^\/\/[^/]+\/[^/]+(?:\/|$)/.exec(path);
  if (unc) return {root: unc[0].endsWith('/') ? unc[0] : `${unc[0]}/`, parts: path.slice(unc[0].length).split('/')};
  return undefined;
}

/** A link target: absolute (with its root) or relative to the link's directory. */
function splitTarget(target: string, directory: string, flavour: Flavour): {root: string | undefined; parts: string[]} {
  const text = flavour === 'win32' ? toSlashes(target) : target;
  const absolute = splitRoot(text, flavour);
  if (absolute !== undefined) return absolute;
  // Windows `\dir`: absolute on the drive of the link.
  if (flavour === 'win32' && text.startsWith('/'))
    return {root: splitRoot(directory, flavour)?.root ?? '/', parts: text.slice(1).split('/')};
  return {root: undefined, parts: text.split('/')};
}

function join(base: string, parts: readonly string[]): string {
  if (parts.length === 0) return base;
  return base.endsWith('/') ? `${base}${parts.join('/')}` : `${base}/${parts.join('/')}`;
}

function parentOf(path: string, flavour: Flavour): string {
  const root = splitRoot(path, flavour)?.root ?? '/';
  if (path.length <= root.length) return root;
  const cut = path.lastIndexOf('/');
  return cut < root.length ? root : path.slice(0, cut);
}

/** `base` + `parts` with `.` and `..` taken textually, never above the root. */
function appendLexically(base: string, parts: readonly string[], flavour: Flavour): string {
  const root = splitRoot(base, flavour)?.root ?? '/';
  const stack = base.length > root.length ? base.slice(root.length).split('/') : [];
  for (const part of parts) {
    if (part === '' || part === '.') continue;
    if (part === '..') stack.pop();
    else stack.push(part);
  }
  return `${root}${stack.join('/')}`;
}
