import {homedir} from 'node:os';
import path from 'node:path';

import {NODE_FILE_LINKS, type FileLinks} from './links.js';

/**
 * Path arguments are compared after the same normalisation a server's file system would apply,
 * so `~/work/../.ssh/id_rsa`, `/home/u//.ssh/./id_rsa` and (on macOS) `/Users/U/.SSH/ID_RSA`
 * all hit a rule written for `~/.ssh`. Everything the answer depends on is injected.
 */
export interface PathEnvironment {
  /** Expands `~`. */
  home: string;
  /** Resolves relative paths (the server inherits thoth's working directory). */
  cwd: string;
  /**
   * The other directories a server may resolve a relative path against, besides `cwd` and
   * `home`: those named on its command line (the filesystem server's roots) and the roots the
   * client declared. Asked once per decision: roots change during a session.
   */
  relativeBases?: (() => readonly string[]) | undefined;
  /** Path syntax: drive letters and backslashes on win32. */
  flavour: 'posix' | 'win32';
  /** Fold case (and Unicode composition) as macOS and Windows file systems do by default. */
  caseInsensitive: boolean;
  /**
   * Symbolic links are followed through this (see path-reader.ts); absent, paths are compared
   * lexically only. Defaults to the real file system when the flavour is the host's.
   */
  links?: FileLinks | undefined;
}

export type CaseSetting = 'auto' | boolean;

export function pathEnvironment(
  caseSetting: CaseSetting = 'auto',
  overrides: Partial<PathEnvironment> = {},
  platform: NodeJS.Platform = process.platform,
): PathEnvironment {
  const flavour = overrides.flavour ?? (platform === 'win32' ? 'win32' : 'posix');
  const caseInsensitive =
    overrides.caseInsensitive ?? (caseSetting === 'auto' ? platform === 'darwin' || platform === 'win32' : caseSetting);
  // A win32 policy checked on a POSIX host (or the reverse) names paths this file system does not have.
  const hostFlavour = process.platform === 'win32' ? 'win32' : 'posix';
  const links = Object.hasOwn(overrides, 'links') ? overrides.links : flavour === hostFlavour ? NODE_FILE_LINKS : undefined;
  const env: PathEnvironment = {home: overrides.home ?? homedir(), cwd: overrides.cwd ?? process.cwd(), flavour, caseInsensitive};
  if (links !== undefined) env.links = links;
  if (overrides.relativeBases !== undefined) env.relativeBases = overrides.relativeBases;
  return env;
}

/**
 * The absolute, normalised form of a path argument, with `/` as separator on every platform;
 * undefined when it cannot be interpreted safely (NUL byte, `~otheruser`, a malformed file:
 * URL). Callers treat undefined in the restrictive direction.
 */
export function normalisePath(raw: string, env: PathEnvironment): string | undefined {
  // Several rules usually check the same argument: remember the last answer.
  if (lastRaw === raw && lastEnv === env) return lastResult;
  const result = normaliseUncached(raw, env);
  lastRaw = raw;
  lastEnv = env;
  lastResult = result;
  return result;
}

let lastRaw: string | undefined;
let lastEnv: PathEnvironment | undefined;
let lastResult: string | undefined;

function normaliseUncached(raw: string, env: PathEnvironment): string | undefined {
  const expanded = expandArgument(raw, env);
  return expanded === undefined ? undefined : foldPath(lexicalAbsolute(expanded, env), env);
}

/**
 * The first steps of normalisePath: a file: URL decoded and `~` expanded, nothing resolved yet;
 * undefined when the argument cannot be interpreted.
 */
export function expandArgument(raw: string, env: PathEnvironment): string | undefined {
  if (raw.length === 0 || raw.includes('\0')) return undefined;
  let value = raw;
  if (/^file:/i.test(value)) {
    const fromUrl = fileUrlToPath(value, env.flavour);
    if (fromUrl === undefined) return undefined;
    value = fromUrl;
  }
  return expandHome(value, env);
}

/**
 * An expanded argument made absolute (against `base`, the working directory unless given) with
 * `.`/`..` resolved lexically, `/` separators, case kept. Linear in the length of the argument.
 */
export function lexicalAbsolute(expanded: string, env: PathEnvironment, base: string = env.cwd): string {
  return env.flavour === 'win32' ? resolveWin32(expanded, base) : path.posix.resolve(toPosixCwd(base), expanded);
}

/**
 * An expanded POSIX argument made absolute with its `..` kept: the kernel applies `..` to the
 * directory a link led to, not to the link's name. (Win32 drops `..` lexically itself.)
 */
export function physicalAbsolute(expanded: string, env: PathEnvironment, base: string = env.cwd): string {
  return expanded.startsWith('/') ? expanded : `${toPosixCwd(base)}/${expanded}`;
}

/**
 * No operating system opens a longer path (Windows long paths: 32 767 UTF-16 units; Linux
 * 4 096 bytes, macOS 1 024). A normalised form longer than this names no file, however it was
 * written; a raw argument may be far longer and still normalise to a short path.
 */
export const MAX_PATH_CHARS = 32_767;

/** Whether an expanded argument depends on the directory it is resolved against (win32: `\x` and `C:x` too). */
export function isRelative(expanded: string, flavour: PathEnvironment['flavour']): boolean {
  if (flavour === 'posix') return !expanded.startsWith('/');
  return !/^[a-z]:[\\/]/i.test(expanded) && !/^[\\/]{2}/.test(expanded);
}

/**
 * A relative argument with `.` and `..` taken lexically, once, so that resolving it against
 * several bases costs the length of what is left, not of what was written: `./././x` is `x`,
 * and `../../…/x` climbs at most as far as a base is deep.
 */
export function compactRelative(expanded: string, flavour: PathEnvironment['flavour']): {up: number; rest: string} {
  const separator = flavour === 'win32' ? '\\' : '/';
  const normal = flavour === 'win32' ? path.win32.normalize(expanded) : path.posix.normalize(expanded);
  let up = 0;
  let index = 0;
  while (
    normal.startsWith('..', index) &&
    (index + 2 === normal.length || normal[index + 2] === separator || (flavour === 'win32' && normal[index + 2] === '/'))
  ) {
    up++;
    index += 3;
  }
  const rest = index >= normal.length ? '' : normal.slice(index);
  return {up, rest: rest === '.' ? '' : rest};
}

/** `compactRelative`'s result as a relative path to resolve against `base` (at most as many `..` as `base` has components). */
export function relativeFor(compact: {up: number; rest: string}, base: string, flavour: PathEnvironment['flavour']): string {
  const separator = flavour === 'win32' ? '\\' : '/';
  const depth = base.split(/[\\/]+/).filter((part) => part !== '').length;
  const climb = `..${separator}`.repeat(Math.min(compact.up, depth));
  return `${climb}${compact.rest}` || '.';
}

/**
 * `~name/…`: another user's home, which thoth cannot look up. Read restrictively as what each
 * reader makes of it: a shell takes the sibling of the user's home (`/home/name`, `/Users/name`),
 * a server that does not expand it a relative path. Undefined when `raw` is not of that form.
 */
export function otherUsersHome(raw: string, env: PathEnvironment): string | undefined {
  const match = /^~([^\\/]+)(.*)$/s.exec(raw);
  if (match === null) return undefined;
  const parent = env.flavour === 'win32' ? path.win32.dirname(env.home) : path.posix.dirname(env.home);
  return `${parent}${env.flavour === 'win32' ? '\\' : '/'}${match[1]!}${match[2]!}`;
}

/** The last step of normalisePath: case and Unicode composition folded where the file system ignores them. */
export function foldPath(absolute: string, env: PathEnvironment): string {
  return env.caseInsensitive ? foldCase(absolute) : absolute;
}

/** Normalises a directory or glob written in the policy (must be absolute or start with `~`). */
export function normalisePolicyPath(raw: string, env: PathEnvironment, keepGlob = false): string | undefined {
  if (!isAnchored(raw, env.flavour)) return undefined;
  if (!keepGlob) return normalisePath(raw, env);
  const glob = expandPolicyGlob(raw, env);
  return glob === undefined ? undefined : foldPath(glob, env);
}

/** A glob of the policy before case folding: wildcards kept; only `~` and separators normalised. */
export function expandPolicyGlob(raw: string, env: PathEnvironment): string | undefined {
  const expanded = expandHome(raw, env);
  if (expanded === undefined) return undefined;
  let glob = env.flavour === 'win32' ? expanded.replaceAll('\\', '/') : expanded;
  glob = glob.replace(/\/{2,}/g, '/');
  if (env.flavour === 'win32' && /^[a-z]:/i.test(glob)) glob = glob[0]!.toUpperCase() + glob.slice(1);
  return glob;
}

export function isAnchored(raw: string, flavour: PathEnvironment['flavour']): boolean {
  if (raw === '~' || raw.startsWith('~/') || (flavour === 'win32' && raw.startsWith('~\\'))) return true;
  if (flavour === 'win32') return /^[a-z]:[\\/]/i.test(raw) || raw.startsWith('\\\\') || raw.startsWith('//');
  return raw.startsWith('/');
}

/** True when `candidate` is `root` or inside it (both normalised). */
export function isWithin(candidate: string, root: string): boolean {
  if (candidate === root) return true;
  const prefix = root.endsWith('/') ? root : `${root}/`;
  return candidate.startsWith(prefix);
}

function foldCase(value: string): string {
  return value.normalize('NFC').toLowerCase();
}

function expandHome(value: string, env: PathEnvironment): string | undefined {
  if (!value.startsWith('~')) return value;
  if (value === '~') return env.home;
  const separator = value[1];
  if (separator === '/' || (env.flavour === 'win32' && separator === '\\'))
    return `${env.home}${env.flavour === 'win32' ? '\\' : '/'}${value.slice(2)}`;
  // `~user/...`: another user's home, which thoth cannot resolve reliably.
  return undefined;
}

function toPosixCwd(cwd: string): string {
  return cwd.startsWith('/') ? cwd : '/';
}

function resolveWin32(value: string, cwd: string): string {
  let input = value;
  // Win32 device and long-path prefixes name the same files.
  if (/^[\\/][\\/][?.][\\/]/.test(input)) {
    input = input.slice(4);
    if (/^unc[\\/]/i.test(input)) input = `\\\\${input.slice(4)}`;
  }
  const resolved = path.win32.resolve(/^[a-z]:[\\/]/i.test(cwd) ? cwd : 'C:\\', input);
  // Windows ignores trailing dots and spaces in each component: `secret. ` is `secret`.
  const cleaned = resolved
    .split('\\')
    .map((segment, index) => (index === 0 ? segment : segment.replace(/[. ]+$/, '')))
    .join('\\');
  let slashed = cleaned.replaceAll('\\', '/');
  if (/^[a-z]:/i.test(slashed)) slashed = slashed[0]!.toUpperCase() + slashed.slice(1);
  return slashed.length > 3 && slashed.endsWith('/') ? slashed.slice(0, -1) : slashed;
}

function fileUrlToPath(value: string, flavour: PathEnvironment['flavour']): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'file:') return undefined;
  let pathname: string;
  try {
    pathname = decodeURIComponent(url.pathname);
  } catch {
    return undefined;
  }
  if (pathname.includes('\0')) return undefined;
  if (flavour === 'win32') {
    if (url.hostname !== '' && url.hostname !== 'localhost') return `\\\\${url.hostname}${pathname.replaceAll('/', '\\')}`;
    return /^\/[a-z]:/i.test(pathname) ? pathname.slice(1) : pathname;
  }
  if (url.hostname !== '' && url.hostname !== 'localhost') return undefined;
  return pathname;
}
