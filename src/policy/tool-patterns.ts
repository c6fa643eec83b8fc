import picomatch from 'picomatch';

/** A compiled set of tool-name patterns: exact names in a Set, globs as regular expressions. */
export interface ToolPatternSet {
  readonly patterns: readonly string[];
  /** True when any pattern matches `name`. */
  matches(name: string): boolean;
  /** True when the set matches every possible name (`*`, `**`). */
  readonly matchesAll: boolean;
}

const NOTHING: ToolPatternSet = {patterns: [], matches: () => false, matchesAll: false};

/**
 * Tool names are matched case-sensitively (servers dispatch them exactly). In globs `*` also
 * matches `/` and `.`: tool names are not paths.
 */
export function compileToolPatterns(input: string | readonly string[] | undefined): ToolPatternSet {
  if (input === undefined) return NOTHING;
  const patterns = typeof input === 'string' ? [input] : [...input];
  const exact = new Set<string>();
  const globs: RegExp[] = [];
  let matchesAll = false;
  for (const pattern of patterns) {
    if (pattern === '*' || pattern === '**') matchesAll = true;
    if (isGlob(pattern)) globs.push(globToRegExp(pattern));
    else exact.add(pattern);
  }
  if (matchesAll) return {patterns, matches: () => true, matchesAll: true};
  if (globs.length === 0) return {patterns, matches: (name) => exact.has(name), matchesAll: false};
  return {
    patterns,
    matches: (name) => {
      if (exact.has(name)) return true;
      for (const glob of globs) if (glob.test(name)) return true;
      return false;
    },
    matchesAll: false,
  };
}

export function isGlob(pattern: string): boolean {
  return picomatch.scan(pattern).isGlob;
}

export function globToRegExp(pattern: string, options: {ignoreCase?: boolean} = {}): RegExp {
  return picomatch.makeRe(pattern, {bash: true, dot: true, nocase: options.ignoreCase === true});
}
