import picomatch from 'picomatch';

import {LargeNumber} from '../core/json-rpc.js';
import {canonicalJson} from '../core/canonical-json.js';
import {foldKey} from '../core/fold-key.js';
import type {Check, CompiledArgCondition, MatcherDocument, Selection} from './model.js';
import {PathReader, type PathReading} from './path-reader.js';
import {expandPolicyGlob, foldPath, isAnchored, isWithin, normalisePolicyPath, type PathEnvironment} from './paths.js';
import {errorMessage} from '../core/errors.js';

/** A problem found while compiling, located by JSON pointer into the policy document. */
export interface CompileProblem {
  pointer: string;
  message: string;
}

/** Compiles one `args` entry of a rule. */
export function compileArgCondition(
  selector: string,
  doc: MatcherDocument,
  pointer: string,
  env: PathEnvironment,
  problems: CompileProblem[],
): CompiledArgCondition {
  const select = compileSelector(selector, pointer, problems);
  const check = compileMatcher(doc, pointer, env, problems, false);
  return {selector, select, present: doc.present, check, describe: `${selector} ${describeMatcher(doc)}`};
}

/** Combines per-element results: `any` or `all`, unknown resolved as `unknownAs`. */
export function quantify(
  values: readonly unknown[],
  check: Check,
  quantifier: 'any' | 'all',
  unknownAs: boolean,
  paths: PathReader,
): boolean {
  if (quantifier === 'any') {
    for (const value of values) if (check(value, paths) ?? unknownAs) return true;
    return false;
  }
  for (const value of values) if (!(check(value, paths) ?? unknownAs)) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------

/**
 * Selects by name, JSON pointer or `*`. Names and pointer segments also select every key that
 * folds to them (fold-key.ts): a server written in Go or .NET reads `{"PATH": …}` as `path`.
 */
function compileSelector(selector: string, pointer: string, problems: CompileProblem[]): (args: unknown) => Selection | undefined {
  if (selector === '*') {
    return (args) => {
      const strings: string[] = [];
      collectStrings(args, strings, 0);
      return strings.length === 0 ? undefined : {groups: [strings], exact: true};
    };
  }
  if (selector.startsWith('/')) {
    const segments = selector
      .slice(1)
      .split('/')
      .map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'));
    if (selector.includes('~') && /~[^01]/.test(selector))
      problems.push({pointer, message: `"${selector}" is not a valid JSON pointer (use ~0 for ~ and ~1 for /)`});
    const folded = segments.map(foldKey);
    return (args) => {
      const groups: unknown[][] = [];
      let exact = false;
      // Every branch goes into a different value, so the walk visits each value at most once.
      const walk = (current: unknown, depth: number, exactSoFar: boolean): void => {
        if (current === undefined) return;
        if (depth === segments.length) {
          groups.push(flatten(current));
          exact ||= exactSoFar;
          return;
        }
        const segment = segments[depth]!;
        if (Array.isArray(current)) {
          if (/^(0|[1-9]\d*)$/.test(segment)) walk(current[Number(segment)], depth + 1, exactSoFar);
        } else if (isPlainObject(current)) {
          forEachFoldedKey(current, segment, folded[depth]!, (value, isExact) => walk(value, depth + 1, exactSoFar && isExact));
        }
      };
      walk(args, 0, true);
      return groups.length === 0 ? undefined : {groups, exact};
    };
  }
  const folded = foldKey(selector);
  return (args) => {
    if (!isPlainObject(args)) return undefined;
    const groups: unknown[][] = [];
    let exact = false;
    forEachFoldedKey(args, selector, folded, (value, isExact) => {
      if (value === undefined) return;
      groups.push(flatten(value));
      exact ||= isExact;
    });
    return groups.length === 0 ? undefined : {groups, exact};
  };
}

/** Calls `visit` with the value of `key` and of every other own key that folds to `folded`. */
function forEachFoldedKey(
  object: Record<string, unknown>,
  key: string,
  folded: string,
  visit: (value: unknown, exact: boolean) => void,
): void {
  for (const candidate of Object.keys(object)) {
    if (candidate === key) visit(object[candidate], true);
    // Folding keeps the length in UTF-16 units (checked over every code point in the tests).
    else if (candidate.length === key.length && foldKey(candidate) === folded) visit(object[candidate], false);
  }
}

function compileMatcher(
  doc: MatcherDocument,
  pointer: string,
  env: PathEnvironment,
  problems: CompileProblem[],
  nested: boolean,
): Check | undefined {
  const checks: Check[] = [];
  if (nested && doc.present !== undefined)
    problems.push({
      pointer: `${pointer}/present`,
      message: '"present" cannot be used inside "not" (use present: false on the argument instead)',
    });

  if (doc.equals !== undefined) {
    const expected = canonicalJson(doc.equals);
    checks.push((value) => canonicalJson(value) === expected);
  }
  if (doc.one_of !== undefined) {
    const allowed = new Set(doc.one_of.map((item) => canonicalJson(item)));
    checks.push((value) => allowed.has(canonicalJson(value)));
  }
  if (doc.glob !== undefined) {
    const regexes = list(doc.glob).map((glob) => picomatch.makeRe(glob, {bash: true, dot: true, nocase: doc.ignore_case === true}));
    checks.push(stringCheck((value) => regexes.some((regex) => regex.test(value))));
  }
  if (doc.regex !== undefined) {
    const regexes: RegExp[] = [];
    list(doc.regex).forEach((source, index) => {
      try {
        regexes.push(new RegExp(source, doc.ignore_case === true ? 'iu' : 'u'));
      } catch (error) {
        const where = typeof doc.regex === 'string' ? `${pointer}/regex` : `${pointer}/regex/${index}`;
        problems.push({pointer: where, message: `invalid regular expression: ${errorMessage(error)}`});
      }
    });
    checks.push(stringCheck((value) => regexes.some((regex) => regex.test(value))));
  }
  if (doc.path_within !== undefined) {
    const roots = compilePaths(doc.path_within, `${pointer}/path_within`, env, problems, false);
    checks.push(pathCheck((path) => roots.some((root) => isWithin(path, root))));
  }
  if (doc.path_glob !== undefined) {
    const globs = compilePaths(doc.path_glob, `${pointer}/path_glob`, env, problems, true).map((glob) =>
      picomatch.makeRe(glob, {dot: true, nocase: env.caseInsensitive}),
    );
    // One expression for all of them (each is anchored, ^…$): a long text has many words to test.
    const anyGlob = globs.length === 0 ? undefined : new RegExp(globs.map((glob) => glob.source).join('|'), globs[0]!.flags);
    checks.push(pathCheck((path) => anyGlob?.test(path) === true));
  }
  if (doc.min !== undefined || doc.max !== undefined) {
    const min = doc.min ?? -Infinity;
    const max = doc.max ?? Infinity;
    if (min > max) problems.push({pointer: `${pointer}/min`, message: `min (${min}) is greater than max (${max}): nothing can match`});
    checks.push((value) => {
      const number = toNumber(value);
      return number === undefined ? undefined : number >= min && number <= max;
    });
  }
  if (doc.max_length !== undefined) {
    const limit = doc.max_length;
    checks.push((value) => (typeof value === 'string' ? value.length : canonicalJson(value).length) <= limit);
  }
  if (doc.not !== undefined) {
    const inner = compileMatcher(doc.not, `${pointer}/not`, env, problems, true);
    if (inner === undefined) problems.push({pointer: `${pointer}/not`, message: '"not" needs at least one check'});
    else
      checks.push((value, paths) => {
        const result = inner(value, paths);
        return result === undefined ? undefined : !result;
      });
  }
  if (checks.length === 0) return undefined;
  if (checks.length === 1) return checks[0]!;
  return (value, paths) => {
    let unknown = false;
    for (const check of checks) {
      const result = check(value, paths);
      if (result === false) return false;
      if (result === undefined) unknown = true;
    }
    return unknown ? undefined : true;
  };
}

/**
 * The directories or globs of the policy, normalised, each followed by where its links lead
 * today (macOS `/tmp` is `/private/tmp`), so a rule matches both an argument as written and its
 * resolved form. Resolved once, when the policy is loaded; one that cannot be resolved keeps
 * only its written form (arguments under it cannot be resolved either, and count as unknown).
 */
function compilePaths(
  input: string | string[],
  pointer: string,
  env: PathEnvironment,
  problems: CompileProblem[],
  glob: boolean,
): string[] {
  const out: string[] = [];
  const reader = new PathReader(env);
  list(input).forEach((raw, index) => {
    const where = typeof input === 'string' ? pointer : `${pointer}/${index}`;
    if (!isAnchored(raw, env.flavour)) {
      problems.push({pointer: where, message: `"${raw}" must be an absolute path or start with ~/`});
      return;
    }
    const normalised = normalisePolicyPath(raw, env, glob);
    if (normalised === undefined) {
      problems.push({pointer: where, message: `"${raw}" cannot be normalised (use ~/ for your own home, not ~user)`});
      return;
    }
    out.push(normalised);
    if (!reader.followsLinks) return;
    const forms = glob ? resolvedGlobs(raw, env, reader) : (reader.read(raw)?.resolved ?? []);
    for (const form of forms) if (!out.includes(form)) out.push(form);
  });
  return out;
}

/** A glob with its literal leading directories (picomatch's `base`) resolved: `/tmp/*.log` → `/private/tmp/*.log`. */
function resolvedGlobs(raw: string, env: PathEnvironment, reader: PathReader): string[] {
  const expanded = expandPolicyGlob(raw, env);
  if (expanded === undefined) return [];
  const {base, glob} = picomatch.scan(expanded);
  if (!isAnchored(base, env.flavour)) return [];
  const rest = glob === '' ? '' : foldPath(glob, env);
  return (reader.read(base)?.resolved ?? []).map((directory) => {
    const literal = escapeGlob(directory);
    return rest === '' ? literal : `${literal.endsWith('/') ? literal : `${literal}/`}${rest}`;
  });
}

/** A real path as a glob that matches only itself: each special character in a bracket of its own. */
function escapeGlob(path: string): string {
  return path.replace(/[\\*?[\]{}()]/g, (character) => `[${character}]`);
}

function stringCheck(test: (value: string) => boolean): Check {
  return (value) => (typeof value === 'string' ? test(value) : undefined);
}

/**
 * A path check sees an argument as written, where its links lead and, when it is relative,
 * as each base a server could resolve it against (path-reader.ts); when these disagree the
 * answer is unknown, which the rule resolves in its restrictive direction: a block or step_up
 * rule applies if any reading matches, an allow rule only if all do. The same holds under
 * `not`, since unknown stays unknown. A path whose links cannot be followed (ELOOP, EACCES) is
 * unknown too; one that no form of which could name a file (too long) matches nothing.
 *
 * A string that may be a shell command is also read word by word: absolute, `~` and `..` words
 * must agree with the whole string like its other readings; other relative words (`Notes.md`
 * of `~/work/My Notes.md`) only count when they match (a match makes the answer unknown).
 */
function pathCheck(test: (path: string) => boolean): Check {
  return (value, paths) => {
    if (typeof value !== 'string') return undefined;
    const argument = paths.readArgument(value);
    let result = readingCheck(argument.whole, test);
    if (result === undefined) return undefined;
    let lenientMatch = false;
    for (const {reading, lenient} of argument.words) {
      if (lenient && lenientMatch) continue;
      const word = readingCheck(reading, test);
      if (lenient) lenientMatch = word !== false;
      else if (word !== result) return undefined;
    }
    if (lenientMatch && !result) result = undefined;
    return result;
  };
}

function readingCheck(reading: PathReading | undefined, test: (path: string) => boolean): boolean | undefined {
  if (reading === undefined || reading.unresolvable !== undefined) return undefined;
  const {forms} = reading;
  if (forms.length === 0) return false;
  const answer = test(forms[0]!);
  for (let index = 1; index < forms.length; index++) if (test(forms[index]!) !== answer) return undefined;
  return answer;
}

const NUMERIC_STRING = /^\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?\s*$/i;

/** Numbers, large integers and numeric strings (servers often coerce them) as a number. */
export function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isNaN(value) ? undefined : value;
  if (value instanceof LargeNumber) return Number(value.text);
  if (typeof value === 'string' && NUMERIC_STRING.test(value)) return Number(value);
  return undefined;
}

function flatten(value: unknown): unknown[] {
  if (!Array.isArray(value)) return [value];
  const out: unknown[] = [];
  const walk = (items: unknown[], depth: number): void => {
    for (const item of items) {
      if (Array.isArray(item) && depth < 32) walk(item, depth + 1);
      else out.push(item);
    }
  };
  walk(value, 0);
  return out;
}

function collectStrings(value: unknown, out: string[], depth: number): void {
  if (typeof value === 'string') out.push(value);
  else if (depth >= 64) return;
  else if (Array.isArray(value)) for (const item of value) collectStrings(item, out, depth + 1);
  else if (isPlainObject(value)) for (const key of Object.keys(value)) collectStrings(value[key], out, depth + 1);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof LargeNumber);
}

function list(input: string | string[]): string[] {
  return typeof input === 'string' ? [input] : input;
}

function describeMatcher(doc: MatcherDocument): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(doc)) {
    if (key === 'not') parts.push(`not(${describeMatcher(value as MatcherDocument)})`);
    else parts.push(`${key} ${JSON.stringify(value)}`);
  }
  return parts.join(', ');
}
