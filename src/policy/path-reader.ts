import {resolveLinks, type LinkMemo} from './links.js';
import {expandArgument, foldPath, lexicalAbsolute, physicalAbsolute, type PathEnvironment} from './paths.js';

/** How a path argument is read: as written (normalised) and where its links lead. */
export interface PathReading {
  /** normalisePath's answer: `~`, `.`/`..`, separators and case handled, links not followed. */
  lexical: string;
  /**
   * Where the path really leads, normalised and folded the same way, when that differs from
   * `lexical`. Two readings at most: the kernel's (`..` applied after following links) and that
   * of a server that resolves `..` lexically before opening (as the official filesystem server does).
   */
  resolved: readonly string[];
  /** Set when links could not be followed (ELOOP, EACCES, ...): the code. */
  unresolvable?: string;
}

/**
 * Reads the path arguments of one decision. Several rules usually check the same argument, so
 * each is read once; the file system answers are kept for this decision only, never across
 * calls, because links change between calls (that is the attack).
 */
export class PathReader {
  private readonly readings = new Map<string, PathReading | undefined>();
  private readonly memo: LinkMemo = new Map();
  private notes: string[] = [];

  constructor(readonly env: PathEnvironment) {}

  /** Whether links are followed at all (a file system was injected). */
  get followsLinks(): boolean {
    return this.env.links !== undefined;
  }

  /** The readings of a path argument; undefined when it cannot be interpreted (NUL, `~user`, bad URL). */
  read(raw: string): PathReading | undefined {
    if (this.readings.has(raw)) return this.readings.get(raw);
    const reading = this.readUncached(raw);
    this.readings.set(raw, reading);
    if (reading?.unresolvable !== undefined) this.notes.push(`symlink: "${shorten(raw)}" cannot be resolved (${reading.unresolvable}); path rules read it in the restrictive direction`);
    else if (reading !== undefined && reading.resolved.length > 0) this.notes.push(`symlink: "${shorten(raw)}" → ${reading.resolved.join(', ')}`);
    return reading;
  }

  /** What the trace should say about links followed since the last call. */
  takeNotes(): string[] {
    const notes = this.notes;
    this.notes = [];
    return notes;
  }

  private readUncached(raw: string): PathReading | undefined {
    const env = this.env;
    const expanded = expandArgument(raw, env);
    if (expanded === undefined) return undefined;
    const absolute = lexicalAbsolute(expanded, env);
    const lexical = foldPath(absolute, env);
    if (env.links === undefined) return {lexical, resolved: []};

    const sources = [absolute];
    if (env.flavour === 'posix' && /(^|\/)\.\.(\/|$)/.test(expanded)) sources.unshift(physicalAbsolute(expanded, env));
    const resolved: string[] = [];
    for (const source of sources) {
      const result = resolveLinks(source, env.flavour, env.links, this.memo);
      if (!result.ok) return {lexical, resolved, unresolvable: result.code};
      // Case is folded after resolution: the file system is asked with the spelling given.
      const form = foldPath(lexicalAbsolute(result.path, env), env);
      if (form !== lexical && !resolved.includes(form)) resolved.push(form);
    }
    return {lexical, resolved};
  }
}

function shorten(text: string): string {
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}
