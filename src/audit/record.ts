import {createHash, createHmac, timingSafeEqual} from 'node:crypto';

import type {AuditKey} from './key.js';

/**
 * One audit record per line:
 *
 *   {"v":1,"chain":"<chain id>","seq":<n>,"prev":"<sha256 of the previous line>","event":{...},"mac":"<hmac>"}
 *
 * (`ctl` instead of `event` for the chain's own control records: open, seal, torn). The MAC is
 * HMAC-SHA256 over the exact bytes of the line up to (not including) `,"mac":"`, so verifying
 * needs no canonical JSON: the bytes on disk are what was signed. `prev` chains each line to the
 * SHA-256 of the complete line before it (for the first line of a chain, to `genesisHash`).
 */
export const RECORD_VERSION = 1;
const MAC_SUFFIX = /,"mac":"([0-9a-f]{64})"\}$/;
const MAC_SUFFIX_LENGTH = ',"mac":"'.length + 64 + '"}'.length;
export const HASH_PATTERN = /^[0-9a-f]{64}$/;

export type PayloadKind = 'event' | 'ctl';

export interface SealedLine {
  /** The line without its newline. */
  text: string;
  /** SHA-256 of `text` (what the next record's `prev` must be). */
  hash: string;
}

export function genesisHash(chain: string): string {
  return sha256Hex(`thoth-audit-genesis:v${RECORD_VERSION}:${chain}`);
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Builds and authenticates one line. `payloadJson` must already be JSON text. */
export function sealLine(key: AuditKey, chain: string, seq: number, prev: string, kind: PayloadKind, payloadJson: string): SealedLine {
  const body = `{"v":${RECORD_VERSION},"chain":${JSON.stringify(chain)},"seq":${seq},"prev":"${prev}","${kind}":${payloadJson}`;
  const mac = createHmac('sha256', key.secret).update(body).digest('hex');
  const text = `${body},"mac":"${mac}"}`;
  return {text, hash: sha256Hex(text)};
}

export interface ParsedRecord {
  v: number;
  chain: string;
  seq: number;
  prev: string;
  kind: PayloadKind;
  payload: Record<string, unknown>;
  mac: string;
  hash: string;
}

export type LineCheck =
  | {ok: true; record: ParsedRecord}
  /** `unparsable`: not a complete record at all (what a crash leaves); `forged`: complete but the MAC is wrong. */
  | {ok: false; reason: 'unparsable' | 'forged' | 'malformed'; message: string};

/** Checks one line's own integrity (MAC and shape); the chain checks are the caller's. */
export function checkLine(key: AuditKey | undefined, text: string): LineCheck {
  const suffix = MAC_SUFFIX.exec(text);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return {ok: false, reason: 'unparsable', message: 'not a complete JSON record'};
  }
  if (!suffix || typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return {ok: false, reason: 'malformed', message: 'a JSON line that is not an audit record (no trailing "mac")'};
  }
  const mac = suffix[1]!;
  if (key) {
    const expected = createHmac('sha256', key.secret).update(text.slice(0, text.length - MAC_SUFFIX_LENGTH)).digest();
    if (!timingSafeEqual(expected, Buffer.from(mac, 'hex'))) {
      return {ok: false, reason: 'forged', message: 'the HMAC does not match: the record was edited, or written with another key'};
    }
  }
  const record = parsed as Record<string, unknown>;
  const kind: PayloadKind | undefined = isObject(record['event']) ? 'event' : isObject(record['ctl']) ? 'ctl' : undefined;
  if (
    record['v'] !== RECORD_VERSION ||
    typeof record['chain'] !== 'string' ||
    !Number.isSafeInteger(record['seq']) ||
    typeof record['prev'] !== 'string' ||
    !HASH_PATTERN.test(record['prev']) ||
    record['mac'] !== mac ||
    kind === undefined
  ) {
    return {ok: false, reason: 'malformed', message: 'the record lacks v, chain, seq, prev, mac or its event/ctl payload'};
  }
  return {
    ok: true,
    record: {
      v: RECORD_VERSION,
      chain: record['chain'],
      seq: record['seq'] as number,
      prev: record['prev'],
      kind,
      payload: record[kind] as Record<string, unknown>,
      mac,
      hash: sha256Hex(text),
    },
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Splits file bytes into lines; `complete` is false for a last line that has no newline. */
export function splitLines(data: Buffer): Array<{text: string; bytes: Buffer; complete: boolean; line: number}> {
  const lines: Array<{text: string; bytes: Buffer; complete: boolean; line: number}> = [];
  let start = 0;
  let line = 1;
  while (start < data.length) {
    const newline = data.indexOf(0x0a, start);
    const end = newline === -1 ? data.length : newline;
    const bytes = data.subarray(start, end);
    lines.push({text: bytes.toString('utf8'), bytes, complete: newline !== -1, line});
    line++;
    start = end + 1;
  }
  return lines;
}
