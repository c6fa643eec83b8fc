/**
 * Whether a client message that thoth parsed can be forwarded as the bytes the client sent, or
 * must be re-serialised from thoth's own reading so that the server reads what thoth decided on.
 *
 * Bytes are forwarded only when every JSON parser reads them as thoth did:
 * - they are valid UTF-8 (thoth decodes a bad sequence to U+FFFD; a lenient decoder may read
 *   an overlong `C0 AE` as `.`);
 * - no object has the same key twice (JSON.parse keeps the last one, a server may keep the
 *   first): counted here and compared with the keys of the parsed objects;
 * - every number is written as JavaScript writes it back (`1.0`, `1e2`, `-0`, `1e400` and
 *   digits beyond a double's precision are read differently by parsers that keep decimals, or
 *   keep `1.0` a float). Integers are always fine: those beyond 2^53 are kept exact as text.
 * Keys that fold together, other spellings of envelope keys and nesting beyond the bound are
 * refused before this question is asked (message-checks.ts).
 *
 * One pass over the text: strings are skipped with indexOf, so a 10 MB argument costs a search,
 * not a loop in JavaScript.
 */

export interface TextReading {
  /** Object keys in the text, duplicates included. */
  keys: number;
  /** Every number token is in the form JavaScript would write it. */
  canonicalNumbers: boolean;
  /** Where the value of `params.arguments` of the top-level object is, when there is one. */
  argumentsStart: number;
  argumentsEnd: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;

/** Reads `text`, which JSON.parse has already accepted (so it is valid JSON). */
export function readText(text: string): TextReading {
  const reading: TextReading = {keys: 0, canonicalNumbers: true, argumentsStart: -1, argumentsEnd: -1};
  // Containers open at `pos`: the top-level object is depth 1, `params` depth 2.
  let depth = 0;
  /** The depth at which the value of `params` (an object) is open, or -1. */
  let paramsDepth = -1;
  /** The key just read at depth 1 or in `params`, until its value starts. */
  let pendingKey: 'params' | 'arguments' | undefined;
  let argumentsDepth = -1;
  let pos = 0;
  const end = text.length;
  while (pos < end) {
    const code = text.charCodeAt(pos);
    if (code === QUOTE) {
      const close = stringEnd(text, pos + 1);
      let next = close + 1;
      while (next < end && isWhitespace(text.charCodeAt(next))) next++;
      if (text.charCodeAt(next) === COLON) {
        reading.keys++;
        if (depth === 1 && paramsDepth === -1) pendingKey = keyIs(text, pos, close, 'params') ? 'params' : undefined;
        else if (depth === 2 && paramsDepth === 2) pendingKey = keyIs(text, pos, close, 'arguments') ? 'arguments' : undefined;
        else pendingKey = undefined;
        pos = next + 1;
        continue;
      }
      if (pendingKey === 'arguments') recordArguments(reading, pos, close + 1);
      pendingKey = undefined;
      pos = close + 1;
      continue;
    }
    if (code === 0x7b || code === 0x5b) {
      // `{` or `[`
      depth++;
      if (pendingKey === 'params' && code === 0x7b) paramsDepth = depth;
      else if (pendingKey === 'arguments') argumentsDepth = depth;
      if (pendingKey === 'arguments') reading.argumentsStart = pos;
      pendingKey = undefined;
      pos++;
      continue;
    }
    if (code === 0x7d || code === 0x5d) {
      // `}` or `]`
      if (depth === argumentsDepth) {
        reading.argumentsEnd = pos + 1;
        argumentsDepth = -1;
      }
      if (depth === paramsDepth) paramsDepth = -3; // params is closed: nothing more to find
      depth--;
      pos++;
      continue;
    }
    if (code === 0x2d || (code >= 0x30 && code <= 0x39)) {
      let tokenEnd = pos + 1;
      while (tokenEnd < end && isNumberCharacter(text.charCodeAt(tokenEnd))) tokenEnd++;
      if (reading.canonicalNumbers && !isCanonicalNumber(text, pos, tokenEnd)) reading.canonicalNumbers = false;
      if (pendingKey === 'arguments') recordArguments(reading, pos, tokenEnd);
      pendingKey = undefined;
      pos = tokenEnd;
      continue;
    }
    if (code === 0x74 || code === 0x66 || code === 0x6e) {
      // true, false, null
      let tokenEnd = pos + 1;
      while (tokenEnd < end && text.charCodeAt(tokenEnd) >= 0x61 && text.charCodeAt(tokenEnd) <= 0x7a) tokenEnd++;
      if (pendingKey === 'arguments') recordArguments(reading, pos, tokenEnd);
      pendingKey = undefined;
      pos = tokenEnd;
      continue;
    }
    pos++;
  }
  return reading;
}

function recordArguments(reading: TextReading, start: number, end: number): void {
  reading.argumentsStart = start;
  reading.argumentsEnd = end;
}

/** Index of the closing quote of the string whose content starts at `from` (the text is valid JSON). */
function stringEnd(text: string, from: number): number {
  let pos = from;
  for (;;) {
    const quote = text.indexOf('"', pos);
    if (quote === -1) return text.length;
    let backslashes = 0;
    for (let i = quote - 1; i >= from && text.charCodeAt(i) === BACKSLASH; i--) backslashes++;
    if (backslashes % 2 === 0) return quote;
    pos = quote + 1;
  }
}

/** Whether the key between the quotes at `open` and `close` is `name` (escapes decoded). */
function keyIs(text: string, open: number, close: number, name: string): boolean {
  if (close - open - 1 === name.length && text.startsWith(name, open + 1)) return true;
  let escaped = false;
  for (let i = open + 1; i < close && !escaped; i++) escaped = text.charCodeAt(i) === BACKSLASH;
  if (!escaped) return false;
  try {
    return JSON.parse(text.slice(open, close + 1)) === name;
  } catch {
    return false;
  }
}

function isWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}

function isNumberCharacter(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || code === 0x2e || code === 0x65 || code === 0x45 || code === 0x2b || code === 0x2d;
}

/**
 * An integer without a leading zero (any length: thoth keeps those beyond 2^53 as text) other
 * than `-0`, or a number JavaScript writes back exactly as it is written.
 */
function isCanonicalNumber(text: string, start: number, end: number): boolean {
  let pos = start;
  if (text.charCodeAt(pos) === 0x2d) pos++;
  const first = pos;
  while (pos < end) {
    const code = text.charCodeAt(pos);
    if (code < 0x30 || code > 0x39) break;
    pos++;
  }
  if (pos === end) {
    const digits = end - first;
    if (digits === 1) return !(text.charCodeAt(first) === 0x30 && first > start); // `-0`
    return text.charCodeAt(first) !== 0x30;
  }
  const token = text.slice(start, end);
  return String(Number(token)) === token;
}
