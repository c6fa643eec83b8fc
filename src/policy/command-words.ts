/**
 * The words of a string read as a POSIX shell command line, so that path rules and the
 * protection of thoth's own files see `~/.ssh/id_rsa` in `{"command": "cat ~/.ssh/id_rsa"}`.
 *
 * A static reading, not a shell: words, quotes and escapes, operators, redirections, and
 * `$(…)`, `<(…)` and backquotes (whose words are read as well). It does not expand variables
 * other than HOME, globs or braces, and cannot see through computation (`eval`, `base64 -d`):
 * the limits are stated in the documentation. One pass over the string, whatever its length.
 */

export interface CommandWord {
  /** The word with quotes and escapes removed; a leading `$HOME` or `${HOME}` written `~`. */
  text: string;
  /**
   * Whether it only ever stands where the shell expects a command name (`cat`): a bare name
   * there is looked up in PATH, not in the working directory.
   */
  command: boolean;
}

export interface TokeniseOptions {
  /** POSIX shells escape with a backslash; cmd.exe and PowerShell take it as a path separator. */
  backslashEscapes: boolean;
}

/** Characters without which a string is one word as it stands (and has no `--opt=` or `@file` part). */
const SHELL_SYNTAX = /[\s'"\\;&|<>(){}`$=@]/;

/** Whether tokenising `text` can give anything but `text` itself. */
export function needsTokenising(text: string): boolean {
  return SHELL_SYNTAX.test(text);
}

type Context = 'top' | 'double' | 'paren' | 'backquote';

const WHITESPACE = ' \t\n\r\f\v';
/** After these the shell expects a command. */
const COMMAND_SEPARATORS = new Set([';', '&', '|', '(', '\n', '{', '}', '!']);
const IDENTIFIER = /[A-Za-z0-9_]/;

/**
 * The distinct words of `text`, with the parts a word may hide a path in added as words of their
 * own: the value of `--option=value` or `NAME=value`, and what follows a leading `@` (`curl -d
 * @file`). A word seen both as a command name and as an argument counts as an argument.
 */
export function commandWords(text: string, options: TokeniseOptions): CommandWord[] {
  const words = new Map<string, boolean>();
  const add = (word: string, command: boolean): void => {
    if (word.includes('{')) for (const expansion of expandBraces(word)) if (expansion !== word) addOne(expansion, command);
    addOne(word, command);
  };
  const addOne = (word: string, command: boolean): void => {
    const written = homeVariable(word);
    const seen = words.get(written);
    if (seen === undefined || (seen && !command)) words.set(written, command);
    const equals = written.indexOf('=');
    let value = equals === -1 ? undefined : homeVariable(written.slice(equals + 1));
    if (value !== undefined && value !== '' && words.get(value) !== false) words.set(value, false);
    value ??= written;
    if (value.startsWith('@') && value.length > 1) {
      const file = homeVariable(value.slice(1));
      if (words.get(file) !== false) words.set(file, false);
    }
  };

  const stack: Context[] = ['top'];
  let word = '';
  let inWord = false;
  let commandPosition = true;
  // The next word is a redirection's target: an argument, and the command is still to come.
  let redirectTarget = false;

  const endWord = (): void => {
    if (!inWord) return;
    const assignment = word.includes('=') && /^[A-Za-z_][A-Za-z0-9_]*=/.test(word);
    add(word, commandPosition && !redirectTarget && !assignment);
    if (!redirectTarget && !assignment) commandPosition = false;
    redirectTarget = false;
    word = '';
    inWord = false;
  };
  const startCommand = (): void => {
    endWord();
    commandPosition = true;
    redirectTarget = false;
  };

  const length = text.length;
  let i = 0;
  while (i < length) {
    const context = stack[stack.length - 1]!;
    const c = text[i]!;

    if (context === 'double') {
      if (c === '"') {
        stack.pop();
        i++;
      } else if (c === '\\' && options.backslashEscapes && i + 1 < length && '$`"\\\n'.includes(text[i + 1]!)) {
        if (text[i + 1] !== '\n') word += text[i + 1];
        i += 2;
      } else if (c === '$' && text[i + 1] === '(') {
        // The substitution's output joins the word; its own words are read as a command.
        endWord();
        stack.push('paren');
        startCommand();
        i += 2;
      } else if (c === '`') {
        endWord();
        stack.push('backquote');
        startCommand();
        i++;
      } else {
        const end = runEnd(text, i, DOUBLE_SPECIAL);
        word += text.slice(i, end);
        i = end;
      }
      continue;
    }

    if (isWhitespace(c)) {
      if (c === '\n') startCommand();
      else endWord();
      i++;
      continue;
    }
    if (c === '\\' && options.backslashEscapes) {
      inWord = true;
      if (i + 1 < length && text[i + 1] !== '\n') word += text[i + 1];
      i += 2;
      continue;
    }
    if (c === "'") {
      inWord = true;
      const close = text.indexOf("'", i + 1);
      const end = close === -1 ? length : close;
      word += text.slice(i + 1, end);
      i = end + 1;
      continue;
    }
    if (c === '"') {
      inWord = true;
      stack.push('double');
      i++;
      continue;
    }
    if (c === '$') {
      const next = text[i + 1];
      if (next === '(') {
        endWord();
        stack.push('paren');
        startCommand();
        i += 2;
        continue;
      }
      if (next === "'") {
        // ANSI-C quoting: $'\x2essh' is .ssh.
        inWord = true;
        const {value, end} = ansiC(text, i + 2);
        word += value;
        i = end;
        continue;
      }
      if (next === '"') {
        inWord = true;
        stack.push('double');
        i += 2;
        continue;
      }
      // $IFS splits words as whitespace would: cat${IFS}~/.ssh/id_rsa.
      const ifs = text.startsWith('IFS', i + 1) && !IDENTIFIER.test(text[i + 4] ?? '') ? 4 : text.startsWith('{IFS}', i + 1) ? 6 : 0;
      if (ifs > 0) {
        endWord();
        i += ifs;
        continue;
      }
      if (next === '{') {
        // ${NAME}: kept whole, braces included, so that ${HOME} can be recognised.
        const close = text.indexOf('}', i + 2);
        const end = close === -1 ? length : close + 1;
        inWord = true;
        word += text.slice(i, end);
        i = end;
        continue;
      }
      inWord = true;
      word += c;
      i++;
      continue;
    }
    if (c === '`') {
      endWord();
      if (context === 'backquote') stack.pop();
      else stack.push('backquote');
      // After a substitution closes, the words around it continue the command it was part of.
      if (stack[stack.length - 1] === 'backquote') startCommand();
      else if (stack[stack.length - 1] === 'double') inWord = true;
      i++;
      continue;
    }
    if (c === ')') {
      endWord();
      if (context === 'paren') {
        stack.pop();
        if (stack[stack.length - 1] === 'double') inWord = true;
      }
      commandPosition = false;
      i++;
      continue;
    }
    if (c === '<' || c === '>') {
      endWord();
      let end = i + 1;
      while (end < length && (text[end] === '<' || text[end] === '>' || text[end] === '&' || text[end] === '|')) end++;
      if (text[end] === '(') {
        // Process substitution <(…) / >(…): a command of its own.
        stack.push('paren');
        startCommand();
        i = end + 1;
        continue;
      }
      redirectTarget = true;
      i = end;
      continue;
    }
    if (COMMAND_SEPARATORS.has(c)) {
      if (c === '(') stack.push('paren');
      // `!` and braces only separate where they stand alone; inside a word they are characters.
      if ((c === '!' || c === '{' || c === '}') && (inWord || !isBoundary(text[i + 1]))) {
        inWord = true;
        word += c;
        i++;
        continue;
      }
      startCommand();
      i++;
      continue;
    }
    // A run of ordinary characters is appended at once: a 10 MB word is one slice, not ten million.
    inWord = true;
    const end = runEnd(text, i, TOP_SPECIAL);
    word += text.slice(i, end);
    i = end;
  }
  endWord();
  return [...words].map(([text, command]) => ({text, command}));
}

/** Brace expansion does not go beyond this many words, nor look into longer words. */
const MAX_BRACE_WORDS = 64;
const MAX_BRACE_WORD_CHARS = 4096;

/** `~/.{ssh,aws}/config` → `~/.ssh/config`, `~/.aws/config` (alternatives only, nested too; no `{a..z}` ranges). */
export function expandBraces(word: string): string[] {
  if (word.length > MAX_BRACE_WORD_CHARS) return [word];
  const out: string[] = [];
  const expand = (text: string, from: number): void => {
    if (out.length >= MAX_BRACE_WORDS) return;
    const open = text.indexOf('{', from);
    if (open === -1) {
      out.push(text);
      return;
    }
    let depth = 0;
    const commas: number[] = [];
    let close = -1;
    for (let i = open; i < text.length && close === -1; i++) {
      if (text[i] === '{') depth++;
      else if (text[i] === '}' && --depth === 0) close = i;
      else if (text[i] === ',' && depth === 1) commas.push(i);
    }
    // Not an alternation: look for the next brace.
    if (close === -1 || commas.length === 0) return expand(text, open + 1);
    const prefix = text.slice(0, open);
    const suffix = text.slice(close + 1);
    const bounds = [open, ...commas, close];
    for (let k = 0; k + 1 < bounds.length; k++) expand(`${prefix}${text.slice(bounds[k]! + 1, bounds[k + 1])}${suffix}`, open);
  };
  expand(word, 0);
  return out;
}

/** Per ASCII code: 1 special outside double quotes, 2 inside them too. */
const SPECIAL = (() => {
  const table = new Uint8Array(128);
  for (const character of `${WHITESPACE}\\'"$\`()<>;&|{}!`) table[character.charCodeAt(0)] = 1;
  for (const character of '"\\$`') table[character.charCodeAt(0)] = 2;
  return table;
})();
const TOP_SPECIAL = 1;
const DOUBLE_SPECIAL = 2;

/** The end of the run of characters from `start` (at least one) that are not special in this context. */
function runEnd(text: string, start: number, level: number): number {
  let end = start + 1;
  for (; end < text.length; end++) {
    const code = text.charCodeAt(end);
    if (code < 128 && SPECIAL[code]! >= level) break;
  }
  return end;
}

function isWhitespace(character: string): boolean {
  return character.length === 1 && WHITESPACE.includes(character);
}

function isBoundary(character: string | undefined): boolean {
  return character === undefined || isWhitespace(character);
}

/** A leading `$HOME` or `${HOME}` (alone or before a `/`) as `~`. */
function homeVariable(word: string): string {
  if (!word.startsWith('$')) return word;
  const match = /^(?:\$HOME|\$\{HOME\})(?=$|\/)/.exec(word);
  return match === null ? word : `~${word.slice(match[0].length)}`;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  e: '\x1b',
  E: '\x1b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  "'": "'",
  '"': '"',
  '?': '?',
};

/** The value of `$'…'` starting after its opening quote, and the index after its closing one. */
function ansiC(text: string, start: number): {value: string; end: number} {
  let value = '';
  let i = start;
  while (i < text.length && text[i] !== "'") {
    if (text[i] !== '\\' || i + 1 >= text.length) {
      value += text[i];
      i++;
      continue;
    }
    const kind = text[i + 1]!;
    const simple = SIMPLE_ESCAPES[kind];
    if (simple !== undefined) {
      value += simple;
      i += 2;
      continue;
    }
    const numeric = /^(?:x([0-9a-fA-F]{1,2})|u([0-9a-fA-F]{1,4})|U([0-9a-fA-F]{1,8})|([0-7]{1,3}))/.exec(text.slice(i + 1, i + 11));
    if (numeric !== null) {
      const [whole, hex, unicode, wide, octal] = numeric;
      const codePoint =
        hex !== undefined
          ? Number.parseInt(hex, 16)
          : octal !== undefined
            ? Number.parseInt(octal, 8)
            : Number.parseInt((unicode ?? wide)!, 16);
      value += codePoint <= 0x10ffff ? String.fromCodePoint(codePoint) : '';
      i += 1 + whole.length;
      continue;
    }
    if (kind === 'c' && i + 2 < text.length) {
      value += String.fromCharCode(text.charCodeAt(i + 2) & 0x1f);
      i += 3;
      continue;
    }
    value += `\\${kind}`;
    i += 2;
  }
  return {value, end: i + 1};
}
