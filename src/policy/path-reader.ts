import {commandWords, needsTokenising} from './command-words.js';
import {LinkMemo, resolveLinks} from './links.js';
import {
  compactRelative,
  expandArgument,
  foldPath,
  isRelative,
  lexicalAbsolute,
  MAX_PATH_CHARS,
  otherUsersHome,
  physicalAbsolute,
  relativeFor,
  type PathEnvironment,
} from './paths.js';

/** How a path argument is read: as written (normalised), where its links lead, and against which directories. */
export interface PathReading {
  /** normalisePath's answer: `~`, `.`/`..`, separators and case handled, links not followed. */
  lexical: string;
  /**
   * Where the path really leads, normalised and folded the same way, when that differs from its
   * lexical form. Per base, two readings at most: the kernel's (`..` applied after following
   * links) and that of a server that resolves `..` lexically before opening (as the official
   * filesystem server does).
   */
  resolved: readonly string[];
  /**
   * A relative argument as read against the other directories a server may resolve it against
   * (the user's home, the directories on the server's command line, the client's roots), and
   * `~name/…` as the sibling of the user's home.
   */
  elsewhere: readonly string[];
  /**
   * Every form a check compares: lexical, elsewhere and resolved, without those too long to
   * name a file (MAX_PATH_CHARS). Empty when no form can: the argument names no file.
   */
  forms: readonly string[];
  /** Set when links could not be followed (ELOOP, EACCES, ...): the code. */
  unresolvable?: string;
}

/**
 * A string argument as path checks see it: the whole string as one path and, when it may be a
 * shell command (`cat ~/.ssh/id_rsa`), each of its words as another.
 */
export interface ArgumentReading {
  /** Undefined when the string cannot be interpreted as a path (NUL byte, malformed file: URL). */
  whole: PathReading | undefined;
  words: readonly WordReading[];
}

export interface WordReading {
  word: string;
  reading: PathReading | undefined;
  /**
   * A relative word that does not climb with `..`: counted when it matches a rule's paths, not
   * when it falls outside them. `Notes.md` in `~/work/My Notes.md` lies inside `~/work` only
   * when read against a base inside it; read strictly it would make every path with a space
   * fail an allow-list rule. Absolute, `~` and `..` words are counted both ways.
   */
  lenient: boolean;
}

/** Longer names exist on no file system (links.ts MAX_NAME): such a word takes the general path. */
const MAX_NAME_CHARS = 255;
const NONE: readonly string[] = [];

/** Trace lines about links per decision: a long command can name thousands of paths. */
const MAX_NOTES = 16;

/**
 * The file system's answers shared by the decisions made in one synchronous turn of the event
 * loop (the calls of one chunk of the client's input), and forgotten at its end: links change
 * between calls (that is the attack), but nothing thoth forwards runs between two decisions of
 * one turn, since every call of the turn goes out after it. A call that changes a link is
 * decided, forwarded and answered before the client can send the call that relies on the change,
 * which then meets a new turn and fresh answers.
 */
let turnMemo: LinkMemo | undefined;
const forgetTurn = (): void => {
  turnMemo = undefined;
};

export function memoForThisTurn(): LinkMemo {
  if (turnMemo === undefined) {
    turnMemo = new LinkMemo();
    process.nextTick(forgetTurn);
  }
  return turnMemo;
}

/** relativeBases() per environment, kept while the environment's own list is the same array. */
const basesByEnvironment = new WeakMap<PathEnvironment, {extra: readonly string[] | undefined; bases: readonly string[]}>();

/**
 * Reads the path arguments of one decision. Several rules usually check the same argument, so
 * each is read once; the file system's answers are kept for this decision only (or the turn's
 * decisions: memoForThisTurn), never across calls, because links change between calls.
 */
export class PathReader {
  private readonly readings = new Map<string, PathReading | undefined>();
  private lexicalReadings: Map<string, PathReading | undefined> | undefined;
  private readonly arguments = new Map<string, ArgumentReading>();
  private readonly memo: LinkMemo;
  private bases: readonly string[] | undefined;
  private notes: string[] = [];
  private notesLeftOut = 0;

  constructor(
    readonly env: PathEnvironment,
    memo: LinkMemo = new LinkMemo(),
  ) {
    this.memo = memo;
  }

  /** Whether links are followed at all (a file system was injected). */
  get followsLinks(): boolean {
    return this.env.links !== undefined;
  }

  /** The readings of a path argument; undefined when it cannot be interpreted (NUL, bad URL). */
  read(raw: string): PathReading | undefined {
    if (this.readings.has(raw)) return this.readings.get(raw);
    const reading = this.readUncached(raw, true);
    this.readings.set(raw, reading);
    if (reading?.unresolvable !== undefined)
      this.note(`symlink: "${shorten(raw)}" cannot be resolved (${reading.unresolvable}); path rules read it in the restrictive direction`);
    else if (reading !== undefined && reading.resolved.length > 0) this.note(`symlink: "${shorten(raw)}" → ${reading.resolved.join(', ')}`);
    return reading;
  }

  /**
   * The string as one path and, if it may be a shell command, its words (tokenised as a POSIX
   * shell would, quotes and escapes removed, `$HOME` expanded). Words that name a path by
   * themselves (a separator, or a leading `~` or `.`) are followed through links; bare words
   * (`notes.txt`) only compared as written against each base, to keep a long text cheap.
   * Bare words in command position (`cat`) are programs looked up in PATH, not paths.
   */
  readArgument(raw: string): ArgumentReading {
    let argument = this.arguments.get(raw);
    if (argument !== undefined) return argument;
    const words: WordReading[] = [];
    if (needsTokenising(raw)) {
      const separators = this.env.flavour === 'win32' ? /[\\/]/ : /\//;
      for (const {text, command} of commandWords(raw, {backslashEscapes: this.env.flavour === 'posix'})) {
        if (text === raw) continue;
        const pathLike = separators.test(text) || text.startsWith('~') || text.startsWith('.') || /^file:/i.test(text);
        if (command && !pathLike) continue;
        const reading = pathLike && !this.leadsNowhere(text) ? this.read(text) : this.readLexically(text);
        words.push({word: text, reading, lenient: isRelativeWord(text, this.env) && !CLIMBS.test(text)});
      }
    }
    argument = {whole: this.read(raw), words};
    this.arguments.set(raw, argument);
    return argument;
  }

  /**
   * Whether a relative word's first name exists under no base (not even as a dangling link):
   * then nothing below it exists and no link can lead it anywhere, so its lexical forms are
   * all there is. One question per first name and base, shared by the words that start with
   * it: lines of base64 in a long text are path-like words, but lead nowhere. Words that climb
   * with `..` are read in full (a lexical-first server drops `missing/..`).
   */
  private leadsNowhere(word: string): boolean {
    const links = this.env.links;
    if (links === undefined || !isRelativeWord(word, this.env) || CLIMBS.test(word)) return false;
    const first = word.split(this.env.flavour === 'win32' ? /[\\/]+/ : /\/+/).find((name) => name !== '' && name !== '.');
    if (first === undefined || first.length > MAX_NAME_CHARS || (this.env.flavour === 'win32' && first.includes(':'))) return false;
    for (const base of this.relativeBases()) {
      // The question resolveLinks asks first: what the name is, not followed.
      const answer = this.memo.ask(links, 'entry', `${base === '/' ? '' : base}/${first}`);
      // EACCES and the like: read it in full, restrictively.
      if (!answer.ok || answer.value !== undefined) return false;
    }
    return true;
  }

  /** takeNotes, appended to `trace` (nothing allocated when there is nothing to say). */
  moveNotes(trace: string[]): void {
    if (this.notes.length === 0 && this.notesLeftOut === 0) return;
    for (const note of this.takeNotes()) trace.push(note);
  }

  /** What the trace should say about links followed since the last call. */
  takeNotes(): string[] {
    const notes = this.notes;
    this.notes = [];
    if (this.notesLeftOut > 0) notes.push(`symlink: ${this.notesLeftOut} more paths led through links (not listed)`);
    this.notesLeftOut = 0;
    return notes;
  }

  private note(text: string): void {
    if (this.notes.length < MAX_NOTES) this.notes.push(text);
    else this.notesLeftOut++;
  }

  /** A word compared as written against each base, links not followed; a bare one (`notes.txt`) at the cost of a string per base. */
  private readLexically(raw: string): PathReading | undefined {
    this.lexicalReadings ??= new Map();
    let reading = this.lexicalReadings.get(raw);
    if (reading !== undefined || this.lexicalReadings.has(raw)) return reading;
    // A text of a million words reads most of them here: one string per base, nothing else.
    // (POSIX only: Windows drops trailing dots and spaces, and `C:x` is relative to a drive.)
    const plain =
      this.env.flavour === 'posix' &&
      raw.length <= MAX_NAME_CHARS &&
      !raw.includes('/') &&
      !raw.includes('\0') &&
      !raw.startsWith('.') &&
      !raw.startsWith('~') &&
      !/^file:/i.test(raw);
    if (plain) {
      const forms = this.relativeBases().map((base) => foldPath(`${base === '/' ? '' : base}/${raw}`, this.env));
      reading = {lexical: forms[0]!, resolved: NONE, elsewhere: forms.slice(1), forms};
    } else {
      reading = this.readUncached(raw, false);
    }
    this.lexicalReadings.set(raw, reading);
    return reading;
  }

  /** The working directory first, then home and the environment's other bases: absolute, distinct. */
  private relativeBases(): readonly string[] {
    if (this.bases !== undefined) return this.bases;
    const env = this.env;
    // Asked once per decision (a client's roots change during a session), computed again only when they did.
    const extra = env.relativeBases?.();
    const known = basesByEnvironment.get(env);
    if (known !== undefined && known.extra === extra) {
      this.bases = known.bases;
      return known.bases;
    }
    const bases = [lexicalAbsolute(env.cwd, env)];
    const add = (base: string): void => {
      const expanded = expandArgument(base, env);
      if (expanded === undefined) return;
      const absolute = lexicalAbsolute(expanded, env);
      if (!bases.includes(absolute)) bases.push(absolute);
    };
    add(env.home);
    for (const base of extra ?? []) add(base);
    basesByEnvironment.set(env, {extra, bases});
    this.bases = bases;
    return bases;
  }

  private readUncached(raw: string, followLinks: boolean): PathReading | undefined {
    const env = this.env;
    const expanded = expandArgument(raw, env);
    const otherUser = expanded === undefined && !raw.includes('\0') ? otherUsersHome(raw, env) : undefined;
    // `~name/…`: read as written (relative) and as the other user's home.
    const written = expanded ?? (otherUser === undefined ? undefined : raw);
    if (written === undefined) return undefined;

    const forms = new Set<string>();
    const elsewhere: string[] = [];
    const resolved: string[] = [];
    let unresolvable: string | undefined;
    let lexical: string | undefined;
    const readAt = (absolute: string, physical: string | undefined, other: boolean): void => {
      // A longer path names no file (ENAMETOOLONG), links or not: it is kept for the trace only.
      if (absolute.length > MAX_PATH_CHARS) {
        lexical ??= absolute;
        return;
      }
      const form = foldPath(absolute, env);
      if (lexical === undefined) lexical = form;
      else if (other && form !== lexical && !elsewhere.includes(form)) elsewhere.push(form);
      forms.add(form);
      if (!followLinks || env.links === undefined || unresolvable !== undefined) return;
      if (physical !== undefined && physical.length <= MAX_PATH_CHARS) follow(physical, form);
      follow(absolute, form);
    };
    const follow = (source: string, form: string): void => {
      if (unresolvable !== undefined) return;
      const result = resolveLinks(source, env.flavour, env.links!, this.memo);
      if (!result.ok) {
        unresolvable = result.code;
        return;
      }
      // Case is folded after resolution: the file system is asked with the spelling given. A
      // POSIX answer is already absolute and normal (realpath's, or built from it).
      const target = foldPath(env.flavour === 'posix' ? result.path : lexicalAbsolute(result.path, env), env);
      if (target !== form && !resolved.includes(target)) resolved.push(target);
      forms.add(target);
    };
    // The kernel's reading keeps every `..` as written: beyond MAX_PATH_CHARS the kernel refuses it.
    const climbs = env.flavour === 'posix' && written.length <= MAX_PATH_CHARS && CLIMBS.test(written);
    if (!isRelative(written, env.flavour)) {
      readAt(lexicalAbsolute(written, env), climbs ? physicalAbsolute(written, env) : undefined, false);
    } else if (env.flavour === 'posix' && written.length <= MAX_PATH_CHARS && NORMAL_RELATIVE.test(written)) {
      // Names only (no `.`, `..` or empty ones): under each base as written, without
      // normalising anything (the bases are absolute and normal already).
      const bases = this.relativeBases();
      for (let index = 0; index < bases.length; index++) {
        const base = bases[index]!;
        readAt(base === '/' ? `/${written}` : `${base}/${written}`, undefined, index > 0);
      }
    } else if (env.flavour === 'posix' && written.length > MAX_PATH_CHARS && !written.includes('/')) {
      // One name longer than any path (a long text without a slash): nothing to compact, names no file.
      return {lexical: shorten(written), resolved: [], elsewhere: [], forms: []};
    } else {
      // Every base a server could resolve it against; `./././x` is compacted once, not per base.
      const compact = compactRelative(written, env.flavour);
      const bases = this.relativeBases();
      // What is left after the climb comes after every base, whole: too long for one, too long for all (POSIX).
      if (env.flavour === 'posix' && compact.rest.length > MAX_PATH_CHARS)
        return {lexical: shorten(written), resolved: [], elsewhere: [], forms: []};
      for (const [index, base] of bases.entries()) {
        const relative = relativeFor(compact, base, env.flavour);
        readAt(lexicalAbsolute(relative, env, base), climbs ? physicalAbsolute(written, env, base) : undefined, index > 0);
      }
    }
    if (otherUser !== undefined) readAt(lexicalAbsolute(otherUser, env), undefined, true);
    const reading: PathReading = {lexical: lexical!, resolved, elsewhere, forms: [...forms]};
    if (unresolvable !== undefined) reading.unresolvable = unresolvable;
    return reading;
  }
}

/** A relative POSIX path of names only: no `.`, `..` or empty name, no trailing `/`. */
const NORMAL_RELATIVE = /^(?:[^/.]|\.[^/.]|\.\.[^/])[^/]*(?:\/(?:[^/.]|\.[^/.]|\.\.[^/])[^/]*)*$/;

/** A `..` component: the kernel applies it after following links, and it climbs out of a base. */
const CLIMBS = /(^|[\\/])\.\.([\\/]|$)/;

function isRelativeWord(word: string, env: PathEnvironment): boolean {
  if (word.startsWith('~') || /^file:/i.test(word)) return false;
  return isRelative(word, env.flavour);
}

function shorten(text: string): string {
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}
