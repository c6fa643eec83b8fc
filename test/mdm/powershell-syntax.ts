/**
 * PowerShell cannot run on the Linux machines that test thoth, so the Intune scripts are checked
 * by a lexer that knows PowerShell's quoting: comments (`#`, `<# #>`), single-quoted strings (''
 * escapes a quote), double-quoted strings (backtick escapes, `$( … )` subexpressions that hold
 * code, strings included), here-strings (@' '@, @" "@ on lines of their own) and backtick line
 * continuations. It reports what breaks a script before it runs: an unterminated string, comment or
 * here-string, and brackets ((), {}, [], @( ), $( ), @{ }) that do not pair up. It does not check
 * that commands or parameters exist; a Windows runner (or PSScriptAnalyzer) would.
 */

export interface SyntaxProblem {
  line: number;
  message: string;
}

const CLOSER: Record<string, string> = {'(': ')', '{': '}', '[': ']'};

export function powershellSyntaxProblems(source: string): SyntaxProblem[] {
  const problems: SyntaxProblem[] = [];
  const stack: Array<{open: string; line: number}> = [];
  let i = 0;
  let line = 1;
  const peek = (offset = 0): string => source[i + offset] ?? '';
  const advance = (): string => {
    const ch = source[i++] ?? '';
    if (ch === '\n') line++;
    return ch;
  };
  // A here-string ends only with its closing quote and @ in the first column.
  const atLineStart = (): boolean => i === 0 || source[i - 1] === '\n';
  const tokenBoundary = (): boolean => i === 0 || /[\s;(){}[\]|,=]/.test(source[i - 1]!);

  /** Code until `until` closes the bracket that started this level (a subexpression), or the end. */
  const code = (until: string | undefined): void => {
    const base = stack.length;
    while (i < source.length) {
      const ch = peek();
      if (ch === '`') {
        advance();
        advance();
        continue;
      }
      if (ch === '<' && peek(1) === '#') {
        const start = line;
        advance();
        advance();
        while (i < source.length && !(peek() === '#' && peek(1) === '>')) advance();
        if (i >= source.length) {
          problems.push({line: start, message: 'block comment <# not closed with #>'});
          return;
        }
        advance();
        advance();
        continue;
      }
      if (ch === '#' && tokenBoundary()) {
        while (i < source.length && peek() !== '\n') advance();
        continue;
      }
      if (ch === '@' && (peek(1) === "'" || peek(1) === '"') && (peek(2) === '\n' || (peek(2) === '\r' && peek(3) === '\n'))) {
        hereString(peek(1));
        continue;
      }
      if (ch === "'") {
        singleQuoted();
        continue;
      }
      if (ch === '"') {
        doubleQuoted();
        continue;
      }
      if (ch === '(' || ch === '{' || ch === '[') {
        stack.push({open: ch, line});
        advance();
        continue;
      }
      if (ch === ')' || ch === '}' || ch === ']') {
        if (stack.length === base) {
          if (until !== undefined && ch === until) {
            advance();
            return;
          }
          problems.push({line, message: `unexpected ${ch}`});
          advance();
          continue;
        }
        const open = stack.pop()!;
        if (CLOSER[open.open] !== ch) problems.push({line, message: `${open.open} from line ${open.line} closed by ${ch}`});
        advance();
        continue;
      }
      advance();
    }
    if (until !== undefined) problems.push({line, message: `$( not closed with ${until}`});
  };

  const singleQuoted = (): void => {
    const start = line;
    advance();
    while (i < source.length) {
      if (peek() === "'" && peek(1) === "'") {
        advance();
        advance();
        continue;
      }
      if (advance() === "'") return;
    }
    problems.push({line: start, message: "string ' not closed"});
  };

  const doubleQuoted = (): void => {
    const start = line;
    advance();
    while (i < source.length) {
      const ch = peek();
      if (ch === '`') {
        advance();
        advance();
        continue;
      }
      if (ch === '"' && peek(1) === '"') {
        advance();
        advance();
        continue;
      }
      if (ch === '$' && peek(1) === '(') {
        advance();
        advance();
        code(')');
        continue;
      }
      if (advance() === '"') return;
    }
    problems.push({line: start, message: 'string " not closed'});
  };

  const hereString = (quote: string): void => {
    const start = line;
    advance();
    advance();
    while (i < source.length) {
      if (peek() === quote && peek(1) === '@' && atLineStart()) {
        advance();
        advance();
        return;
      }
      advance();
    }
    problems.push({line: start, message: `here-string @${quote} not closed with ${quote}@ at the start of a line`});
  };

  code(undefined);
  for (const open of stack) problems.push({line: open.line, message: `${open.open} never closed`});
  return problems;
}
