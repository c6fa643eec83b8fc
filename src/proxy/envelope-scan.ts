/**
 * A structural JSON scanner for one line. It checks that the line is a single JSON value (objects,
 * arrays, strings, numbers, literals in a valid arrangement) and reports the top-level members of
 * an object message (id, method, result, error) with their byte ranges, without building objects.
 *
 * Strings are skipped with Buffer#indexOf, so a 10 MB base64 payload costs one memchr rather than
 * a JSON.parse and a JSON.stringify. String contents are not validated (raw control characters,
 * escape sequences): a server sending such a string breaks only its own message at the client.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LEFT_BRACE = 0x7b;
const RIGHT_BRACE = 0x7d;
const LEFT_BRACKET = 0x5b;
const RIGHT_BRACKET = 0x5d;
const COLON = 0x3a;
const COMMA = 0x2c;

export interface MemberRange {
  start: number;
  end: number;
}

export interface EnvelopeScan {
  /** The shape of the top-level value. */
  kind: 'object' | 'array' | 'scalar' | 'invalid';
  /** Why the line is not JSON (kind === 'invalid'). */
  problem?: string;
  /** Byte ranges of the top-level members of an object (last occurrence wins, as in JSON.parse). */
  members: Map<string, MemberRange>;
  /** A top-level key appeared twice: parsers may disagree about such a message. */
  duplicateKeys: boolean;
  /** Every top-level key read, including one whose value was cut off (partial scans). */
  keysSeen: Set<string>;
  /** A partial scan ran out of input before the value was complete. */
  truncated?: boolean;
  /** How deeply containers nest (the top-level object or array is 1). */
  depth: number;
}

const enum Expect {
  Value,
  KeyOrEnd,
  Key,
  Colon,
  CommaOrEndObject,
  ValueOrEndArray,
  CommaOrEndArray,
}

const enum Container {
  Object,
  Array,
}

/**
 * With `partial`, the buffer is only the beginning of a message (an oversized line's head): running
 * out of input is not an error, and the result lists what was seen so far.
 */
export function scanEnvelope(buf: Buffer, options: {partial?: boolean} = {}): EnvelopeScan {
  const members = new Map<string, MemberRange>();
  const keysSeen = new Set<string>();
  const result: EnvelopeScan = {kind: 'invalid', members, duplicateKeys: false, keysSeen, depth: 0};
  const stack: Container[] = [];
  let expect: Expect = Expect.Value;
  let pos = 0;
  const end = buf.length;
  let topKey: string | undefined;
  let topValueStart = -1;
  let sawTopValue = false;

  const fail = (problem: string): EnvelopeScan => {
    if (options.partial && (problem === 'unterminated string' || problem === 'unexpected end of message')) {
      result.truncated = true;
      return result;
    }
    result.kind = 'invalid';
    result.problem = `${problem} at byte ${pos}`;
    return result;
  };

  // Called when a value (scalar or container) finished; returns what may follow it.
  const valueDone = (valueEnd: number): Expect => {
    if (stack.length === 1 && stack[0] === Container.Object && topKey !== undefined) {
      if (members.has(topKey)) result.duplicateKeys = true;
      members.set(topKey, {start: topValueStart, end: valueEnd});
      topKey = undefined;
    }
    const top = stack[stack.length - 1];
    if (top === undefined) {
      sawTopValue = true;
      return Expect.Value;
    }
    return top === Container.Object ? Expect.CommaOrEndObject : Expect.CommaOrEndArray;
  };

  while (pos < end) {
    const byte = buf[pos]!;
    if (byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d) {
      pos++;
      continue;
    }
    if (sawTopValue) return fail('unexpected data after the JSON value');

    switch (expect) {
      case Expect.Key:
      case Expect.KeyOrEnd: {
        if (byte === RIGHT_BRACE && expect === Expect.KeyOrEnd) {
          stack.pop();
          pos++;
          expect = valueDone(pos);
          continue;
        }
        if (byte !== QUOTE) return fail('expected a property name');
        const close = findStringEnd(buf, pos + 1);
        if (close === -1) return fail('unterminated string');
        if (stack.length === 1) {
          topKey = decodeKey(buf, pos, close + 1);
          keysSeen.add(topKey);
        }
        pos = close + 1;
        expect = Expect.Colon;
        continue;
      }
      case Expect.Colon:
        if (byte !== COLON) return fail('expected ":"');
        pos++;
        expect = Expect.Value;
        continue;
      case Expect.CommaOrEndObject:
        if (byte === COMMA) {
          pos++;
          expect = Expect.Key;
          continue;
        }
        if (byte === RIGHT_BRACE) {
          stack.pop();
          pos++;
          expect = valueDone(pos);
          continue;
        }
        return fail('expected "," or "}"');
      case Expect.CommaOrEndArray:
        if (byte === COMMA) {
          pos++;
          expect = Expect.Value;
          continue;
        }
        if (byte === RIGHT_BRACKET) {
          stack.pop();
          pos++;
          expect = valueDone(pos);
          continue;
        }
        return fail('expected "," or "]"');
      case Expect.ValueOrEndArray:
        if (byte === RIGHT_BRACKET) {
          stack.pop();
          pos++;
          expect = valueDone(pos);
          continue;
        }
        expect = Expect.Value;
        continue;
      case Expect.Value: {
        if (stack.length === 1 && stack[0] === Container.Object) topValueStart = pos;
        if (stack.length === 0) result.kind = byte === LEFT_BRACE ? 'object' : byte === LEFT_BRACKET ? 'array' : 'scalar';
        if (byte === LEFT_BRACE) {
          stack.push(Container.Object);
          if (stack.length > result.depth) result.depth = stack.length;
          pos++;
          expect = Expect.KeyOrEnd;
          continue;
        }
        if (byte === LEFT_BRACKET) {
          stack.push(Container.Array);
          if (stack.length > result.depth) result.depth = stack.length;
          pos++;
          expect = Expect.ValueOrEndArray;
          continue;
        }
        if (byte === QUOTE) {
          const close = findStringEnd(buf, pos + 1);
          if (close === -1) return fail('unterminated string');
          pos = close + 1;
          expect = valueDone(pos);
          continue;
        }
        const tokenEnd = scanToken(buf, pos);
        if (options.partial && tokenEnd === end) {
          result.truncated = true;
          return result;
        }
        if (!isValidScalarToken(buf, pos, tokenEnd)) return fail('invalid literal or number');
        pos = tokenEnd;
        expect = valueDone(pos);
        continue;
      }
    }
  }
  if (stack.length > 0) return fail('unexpected end of message');
  if (!sawTopValue) return options.partial ? result : fail('empty message');
  if (result.kind === 'invalid') result.kind = 'scalar';
  return result;
}

/** Index of the closing quote of a string whose content starts at `from`, or -1. */
function findStringEnd(buf: Buffer, from: number): number {
  let pos = from;
  for (;;) {
    const quote = buf.indexOf(QUOTE, pos);
    if (quote === -1) return -1;
    let backslashes = 0;
    for (let i = quote - 1; i >= from && buf[i] === BACKSLASH; i--) backslashes++;
    if (backslashes % 2 === 0) return quote;
    pos = quote + 1;
  }
}

function decodeKey(buf: Buffer, start: number, end: number): string {
  const raw = buf.toString('utf8', start, end);
  if (!raw.includes('\\')) return raw.slice(1, -1);
  try {
    return JSON.parse(raw) as string;
  } catch {
    return raw;
  }
}

function scanToken(buf: Buffer, from: number): number {
  let pos = from;
  while (pos < buf.length) {
    const byte = buf[pos]!;
    const isTokenByte =
      (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x7a) || byte === 0x2d || byte === 0x2b || byte === 0x2e || byte === 0x45;
    if (!isTokenByte) break;
    pos++;
  }
  return pos;
}

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

function isValidScalarToken(buf: Buffer, start: number, end: number): boolean {
  if (end === start) return false;
  const token = buf.toString('latin1', start, end);
  return token === 'true' || token === 'false' || token === 'null' || NUMBER.test(token);
}

/** The text of a top-level member's value, e.g. the raw `id` token. */
export function memberText(buf: Buffer, range: MemberRange | undefined): string | undefined {
  return range === undefined ? undefined : buf.toString('utf8', range.start, range.end);
}
