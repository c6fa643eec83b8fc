import {createHash, hash as oneShotHash} from 'node:crypto';
import {setImmediate as yieldToEventLoop} from 'node:timers/promises';

import {parseJson, stringifyJson} from '../core/json-rpc.js';
import {mayHoldSecrets, redactJsonText, redactValue} from './redact.js';

/**
 * The `content` of TOOL_CALL_PRE (the arguments) and TOOL_CALL_POST (the result): redacted,
 * capped to a configurable size, with the SHA-256 of the full content kept.
 *
 * - Up to STRUCTURED_LIMIT bytes the JSON is parsed and redacted as a value. When nothing was
 *   redacted, `contentSha256` is the hash of the original bytes; when something was, it is the
 *   hash of the full *redacted* text (`contentHashOf: "redacted"`), because the hash of a short
 *   document around a weak password would let anyone confirm guesses of that password.
 * - Larger content is hashed as it is, in chunks that yield to the event loop (so a 50 MB result
 *   never stalls the relay), and only the first bytes are redacted as text and kept.
 */
export interface ContentFields {
  content: string;
  /** Size of the full content in bytes (before redaction and capping). */
  contentBytes: number;
  contentSha256: string;
  contentHashOf: 'original' | 'redacted';
  contentTruncated: boolean;
  /** Number of values or substrings replaced by `[REDACTED...]`. */
  redactions: number;
}

export const STRUCTURED_LIMIT = 256 * 1024;
const HASH_CHUNK = 1024 * 1024;
/** Extra bytes redacted beyond the cap so that a token cut by the cap is still recognised. */
const REDACTION_MARGIN = 4096;

export interface ContentOptions {
  maxBytes: number;
}

/** Content from JSON text (a Buffer as received, or a string as forwarded), optionally already parsed. */
export async function buildContent(raw: Buffer | string, options: ContentOptions, parsed?: {value: unknown}): Promise<ContentFields> {
  return buildContentSync(raw, options, parsed) ?? buildLargeContent(raw, options);
}

/** The same for content up to STRUCTURED_LIMIT bytes, synchronously; undefined when larger. */
export function buildContentSync(raw: Buffer | string, options: ContentOptions, parsed?: {value: unknown}): ContentFields | undefined {
  const bytes = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
  if (bytes > STRUCTURED_LIMIT) return undefined;
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  // Most arguments and results hold nothing any rule could match: no need to parse them.
  if (!mayHoldSecrets(text)) return capped(text, bytes, sha256(raw), 'original', 0, options);
  let value: {value: unknown} | undefined = parsed;
  if (!value) {
    try {
      value = {value: parseJson(text)};
    } catch {
      value = undefined;
    }
  }
  if (value) {
    const redacted = redactValue(value.value);
    if (redacted.count === 0) return capped(text, bytes, sha256(raw), 'original', 0, options);
    const full = stringifyJson(redacted.value);
    return capped(full, bytes, sha256(full), 'redacted', redacted.count, options);
  }
  const redacted = redactJsonText(text);
  if (redacted.count === 0) return capped(text, bytes, sha256(raw), 'original', 0, options);
  return capped(redacted.value, bytes, sha256(redacted.value), 'redacted', redacted.count, options);
}

async function buildLargeContent(raw: Buffer | string, options: ContentOptions): Promise<ContentFields> {
  const bytes = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
  const hash = await sha256Chunked(raw);
  const head =
    typeof raw === 'string'
      ? raw.slice(0, options.maxBytes + REDACTION_MARGIN)
      : raw.subarray(0, options.maxBytes + REDACTION_MARGIN).toString('utf8');
  const redacted = redactJsonText(head);
  const content = trimCutToken(truncateUtf8(redacted.value, options.maxBytes));
  return {content, contentBytes: bytes, contentSha256: hash, contentHashOf: 'original', contentTruncated: true, redactions: redacted.count};
}

/** Content of a small JSON value built by thoth itself (an error object). */
export function buildValueContent(value: unknown, options: ContentOptions): ContentFields {
  const text = stringifyJson(value);
  const redacted = redactValue(value);
  if (redacted.count === 0) return capped(text, Buffer.byteLength(text), sha256(text), 'original', 0, options);
  const full = stringifyJson(redacted.value);
  return capped(full, Buffer.byteLength(text), sha256(full), 'redacted', redacted.count, options);
}

function capped(
  text: string,
  bytes: number,
  hash: string,
  hashOf: 'original' | 'redacted',
  redactions: number,
  options: ContentOptions,
): ContentFields {
  const fits = Buffer.byteLength(text) <= options.maxBytes;
  const content = fits ? text : trimCutToken(truncateUtf8(text, options.maxBytes));
  return {content, contentBytes: bytes, contentSha256: hash, contentHashOf: hashOf, contentTruncated: !fits, redactions};
}

export function sha256(data: Buffer | string): string {
  return oneShotHash('sha256', data, 'hex');
}

/** SHA-256 of a large buffer or string, yielding to the event loop between 1 MiB chunks. */
export async function sha256Chunked(data: Buffer | string): Promise<string> {
  const hash = createHash('sha256');
  if (typeof data === 'string') {
    let start = 0;
    while (start < data.length) {
      let end = Math.min(start + HASH_CHUNK, data.length);
      // Never split a surrogate pair: each half alone would hash as U+FFFD.
      if (end < data.length && isHighSurrogate(data.charCodeAt(end - 1))) end--;
      hash.update(data.slice(start, end));
      start = end;
      if (start < data.length) await yieldToEventLoop();
    }
  } else {
    for (let start = 0; start < data.length; start += HASH_CHUNK) {
      hash.update(data.subarray(start, start + HASH_CHUNK));
      if (start + HASH_CHUNK < data.length) await yieldToEventLoop();
    }
  }
  return hash.digest('hex');
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** The longest prefix of `text` whose UTF-8 encoding fits in `maxBytes`, never cutting a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (text.length <= maxBytes / 3) return text;
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= maxBytes) return text;
  let end = maxBytes;
  // Back up to the start of a UTF-8 sequence (continuation bytes are 10xxxxxx).
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--;
  return buf.subarray(0, end).toString('utf8');
}

/** A cut may split a secret whose remainder no longer matches any rule: drop the cut word. */
function trimCutToken(text: string): string {
  return text.replace(/[A-Za-z0-9_\-+/=.~]+$/, '');
}
