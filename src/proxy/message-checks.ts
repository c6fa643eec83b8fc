import {foldKey} from '../core/fold-key.js';
import {LargeNumber} from '../core/json-rpc.js';

/**
 * What makes a client → server message unsafe to forward, whatever the enforcer would decide:
 * a reading that differs between thoth and the server, or a shape that can take thoth down.
 *
 * - Keys that fold together. A case-insensitive decoder (Go's encoding/json, .NET) lets the last
 *   of `method` / `Method` / `METHOD` win, and matches `paramſ` to `params`; thoth reads keys
 *   exactly. `{"method":"ping","Method":"tools/call"}` would reach such a server as a tools/call
 *   that thoth never decided. So two keys of one object that fold to the same key, anywhere in
 *   the message, make it ambiguous.
 * - Envelope keys spelled another way. `Method` alone, or `Params`, `Name`, `ARGUMENTS`, is read
 *   by such a server as the envelope key that thoth did not see.
 * - Nesting beyond a bound. Every recursive step on the way (serialising, redacting, auditing)
 *   needs stack; 12,000 levels fit in 24 KB and overflow it.
 *
 * The walk is iterative (it must not overflow on what it is checking) and stops at the first
 * problem.
 */

/** Deeper than any MCP message needs (JSON Schemas in tools/list nest a few dozen levels). */
export const MAX_NESTING_DEPTH = 256;

export type MessageProblemKind = 'ambiguous-keys' | 'envelope-key' | 'too-deep' | 'nested-batch';

export interface MessageProblem {
  kind: MessageProblemKind;
  /** One line for people: which keys, or how deep. Untrusted text is quoted with JSON.stringify. */
  detail: string;
  /** A JSON pointer to the object concerned ('' for the message itself). */
  pointer: string;
}

/** Keys a JSON-RPC message has at its top level, and those an MCP request has in `params`. */
const TOP_LEVEL_KEYS = new Map(['jsonrpc', 'id', 'method', 'params', 'result', 'error'].map((key) => [foldKey(key), key]));
const PARAMS_KEYS = new Map(['name', 'arguments', '_meta'].map((key) => [foldKey(key), key]));

interface Frame {
  value: unknown;
  depth: number;
  pointer: string;
  /** Which envelope keys this object must not spell differently. */
  envelope?: Map<string, string>;
}

/** Checks one message (an element of a batch is a message): undefined when it is safe to forward. */
export function checkClientMessage(message: unknown, maxDepth: number = MAX_NESTING_DEPTH): MessageProblem | undefined {
  const stack: Frame[] = [{value: message, depth: 1, pointer: '', envelope: TOP_LEVEL_KEYS}];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    const {value, depth, pointer} = frame;
    if (typeof value !== 'object' || value === null || value instanceof LargeNumber) continue;
    if (depth > maxDepth) {
      return {kind: 'too-deep', detail: `nested more than ${maxDepth} levels deep`, pointer};
    }
    if (Array.isArray(value)) {
      for (let index = value.length - 1; index >= 0; index--) {
        const item: unknown = value[index];
        if (typeof item === 'object' && item !== null) stack.push({value: item, depth: depth + 1, pointer: `${pointer}/${index}`});
      }
      continue;
    }
    const keys = Object.keys(value);
    const problem = checkKeys(keys, frame.envelope, pointer);
    if (problem) return problem;
    for (let index = keys.length - 1; index >= 0; index--) {
      const key = keys[index]!;
      const item: unknown = (value as Record<string, unknown>)[key];
      if (typeof item !== 'object' || item === null) continue;
      const child: Frame = {value: item, depth: depth + 1, pointer: `${pointer}/${escapePointer(key)}`};
      if (frame.envelope === TOP_LEVEL_KEYS && key === 'params') child.envelope = PARAMS_KEYS;
      stack.push(child);
    }
  }
  return undefined;
}

function checkKeys(keys: readonly string[], envelope: Map<string, string> | undefined, pointer: string): MessageProblem | undefined {
  if (keys.length === 0) return undefined;
  if (envelope === undefined && keys.length === 1) return undefined;
  const seen = keys.length > 1 ? new Map<string, string>() : undefined;
  for (const key of keys) {
    const folded = foldKey(key);
    const canonical = envelope?.get(folded);
    if (canonical !== undefined && canonical !== key) {
      return {
        kind: 'envelope-key',
        detail: `the key ${JSON.stringify(key)} is read as ${JSON.stringify(canonical)} by servers that match keys without regard to case`,
        pointer,
      };
    }
    if (seen === undefined) continue;
    const earlier = seen.get(folded);
    if (earlier !== undefined) {
      return {
        kind: 'ambiguous-keys',
        detail: `the keys ${JSON.stringify(earlier)} and ${JSON.stringify(key)} are the same key to servers that match keys without regard to case`,
        pointer,
      };
    }
    seen.set(folded, key);
  }
  return undefined;
}

function escapePointer(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}
