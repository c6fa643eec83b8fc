import {randomBytes} from 'node:crypto';

/**
 * JSON-RPC 2.0 as thoth needs it: message shapes, id keys, error replies, and a parse/serialise
 * pair that keeps integers beyond 2^53 exact (ids and arguments must reach the server unchanged).
 */

export type JsonRpcId = string | number | LargeNumber | null;

export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

export type JsonObject = Record<string, unknown>;

export {ErrorCode} from './error-codes.js';

/** Set once any LargeNumber exists: until then stringifyJson can take the fast path. */
let largeNumbersSeen = false;

/** An integer that a double cannot hold exactly, kept as its JSON text. */
export class LargeNumber {
  constructor(readonly text: string) {
    largeNumbersSeen = true;
  }
  valueOf(): number {
    return Number(this.text);
  }
  toString(): string {
    return this.text;
  }
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof LargeNumber);
}

/** A key under which an id is tracked; equal for ids that JSON-RPC peers consider equal. */
export function idKey(id: unknown): string | undefined {
  if (typeof id === 'string') return `s:${id}`;
  if (typeof id === 'number') return Number.isFinite(id) ? `n:${String(id)}` : undefined;
  if (id instanceof LargeNumber) return `n:${canonicalNumber(id.text)}`;
  return undefined;
}

/** The same key computed from the raw JSON token of an id (see envelope-scan). */
export function idKeyFromToken(token: string | undefined): string | undefined {
  if (token === undefined) return undefined;
  const trimmed = token.trim();
  if (trimmed.startsWith('"')) {
    try {
      return `s:${JSON.parse(trimmed) as string}`;
    } catch {
      return undefined;
    }
  }
  if (trimmed === 'null' || trimmed === 'true' || trimmed === 'false' || trimmed === '') return undefined;
  return `n:${canonicalNumber(trimmed)}`;
}

function canonicalNumber(text: string): string {
  const value = Number(text);
  if (Number.isSafeInteger(value) || !/^-?\d+$/.test(text)) return String(value);
  return text.replace(/^(-?)0+(?=\d)/, '$1');
}

/** The JSON token of an id as it must appear in a reply. */
export function idToJson(id: JsonRpcId | undefined): string {
  if (id === undefined) return 'null';
  if (id instanceof LargeNumber) return id.text;
  return JSON.stringify(id);
}

export function errorResponse(id: JsonRpcId | undefined, error: JsonRpcErrorObject): string {
  return `{"jsonrpc":"2.0","id":${idToJson(id)},"error":${JSON.stringify(error)}}`;
}

// ---------------------------------------------------------------------------------------------
// Parsing that keeps large integers exact.

/** Integers of 16+ digits might not survive a double; only then is the slower path taken. */
const LONG_DIGIT_RUN = /\d{16,}/;
const SENTINEL_NONCE = randomBytes(12).toString('hex');
const SENTINEL_PREFIX = `\u0000thoth-large-number:${SENTINEL_NONCE}:`;
const SENTINEL_JSON = new RegExp(`"\\\\u0000thoth-large-number:${SENTINEL_NONCE}:(-?\\d+)"`, 'g');

/** JSON.parse, except that integers beyond 2^53 become LargeNumber instead of being rounded. */
export function parseJson(text: string): unknown {
  if (!LONG_DIGIT_RUN.test(text)) return JSON.parse(text);
  const protectedText = protectLargeIntegers(text);
  if (protectedText === text) return JSON.parse(text);
  return JSON.parse(protectedText, (_key, value: unknown) =>
    typeof value === 'string' && value.startsWith(SENTINEL_PREFIX) ? new LargeNumber(value.slice(SENTINEL_PREFIX.length)) : value,
  );
}

/** JSON.stringify that writes LargeNumber values back as bare integers. */
export function stringifyJson(value: unknown): string {
  // A replacer function makes JSON.stringify several times slower; skip it until it can matter.
  if (!largeNumbersSeen) return JSON.stringify(value);
  let sawLarge = false;
  const text = JSON.stringify(value, (_key, item: unknown) => {
    if (item instanceof LargeNumber) {
      sawLarge = true;
      return SENTINEL_PREFIX + item.text;
    }
    return item;
  });
  return sawLarge ? text.replace(SENTINEL_JSON, '$1') : text;
}

/**
 * Rewrites integer tokens (outside strings) that a double cannot hold into sentinel strings.
 * The nonce is random per process, so a client cannot forge a sentinel inside its own strings.
 */
function protectLargeIntegers(text: string): string {
  let out = '';
  let copied = 0;
  let pos = 0;
  while (pos < text.length) {
    const ch = text.charCodeAt(pos);
    if (ch === 0x22) {
      pos = skipString(text, pos + 1);
      continue;
    }
    if (ch === 0x2d || (ch >= 0x30 && ch <= 0x39)) {
      let end = pos + 1;
      while (end < text.length && isNumberChar(text.charCodeAt(end))) end++;
      const token = text.slice(pos, end);
      if (/^-?\d{16,}$/.test(token) && !Number.isSafeInteger(Number(token))) {
        out += `${text.slice(copied, pos)}"${SENTINEL_PREFIX.replace('\u0000', '\\u0000')}${token}"`;
        copied = end;
      }
      pos = end;
      continue;
    }
    pos++;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

function skipString(text: string, from: number): number {
  let pos = from;
  for (;;) {
    const quote = text.indexOf('"', pos);
    if (quote === -1) return text.length;
    let backslashes = 0;
    for (let i = quote - 1; i >= from && text.charCodeAt(i) === 0x5c; i--) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    pos = quote + 1;
  }
}

function isNumberChar(ch: number): boolean {
  return (ch >= 0x30 && ch <= 0x39) || ch === 0x2e || ch === 0x65 || ch === 0x45 || ch === 0x2b || ch === 0x2d;
}

/** Method names are compared after this normalisation so `Tools/Call` cannot slip past. */
export function normaliseMethod(method: string): string {
  return method
    .normalize('NFKC')
    .replace(/[\s\u0000-\u001f\u007f\u200b-\u200f\u2060\ufeff]/g, '')
    .toLowerCase();
}
