import {createHash} from 'node:crypto';

import {LargeNumber} from './json-rpc.js';

/**
 * One JSON text per value, whatever order the client wrote the keys in: object keys sorted by
 * code unit, no whitespace, integers beyond 2^53 kept as written. Approvals and tool pins hash
 * this, so `{"a":1,"b":2}` and `{"b":2,"a":1}` are the same call.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  if (value instanceof LargeNumber) return value.text;
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? 'null' : canonicalJson(item))).join(',')}]`;
      const record = value as Record<string, unknown>;
      const parts: string[] = [];
      for (const key of Object.keys(record).sort()) {
        const item = record[key];
        if (item === undefined || typeof item === 'function') continue;
        parts.push(`${JSON.stringify(key)}:${canonicalJson(item)}`);
      }
      return `{${parts.join(',')}}`;
    }
    default:
      // undefined, functions, symbols, bigint never come out of JSON.parse.
      return 'null';
  }
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** `sha256:<hex>` of the canonical JSON of `value`. */
export function canonicalHash(value: unknown): string {
  return `sha256:${sha256Hex(canonicalJson(value))}`;
}

/**
 * The hex digits of a `sha256:<hex>` hash. Audit events carry bare hex in fields whose name says
 * the algorithm (`pinSha256`, `argumentsSha256`), as their schemas and the control plane expect.
 */
export function sha256Digits(hash: string): string {
  return hash.startsWith('sha256:') ? hash.slice('sha256:'.length) : hash;
}
