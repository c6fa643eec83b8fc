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
  value: object;
  depth: number;
  /** The frame of the container this value is in, and its key or index there (for the pointer). */
  parent: Frame | undefined;
  key: string | number;
  /** Which envelope keys this object must not spell differently. */
  envelope?: Map<string, string> | undefined;
}

/** What checking a message found: the first problem, and how many object keys it holds. */
export interface MessageInspection {
  problem: MessageProblem | undefined;
  /** Keys of every object in the parsed message (single-reading.ts compares them with the text's). */
  keys: number;
}

/** Checks one message (an element of a batch is a message): undefined when it is safe to forward. */
export function checkClientMessage(message: unknown, maxDepth: number = MAX_NESTING_DEPTH): MessageProblem | undefined {
  return inspectClientMessage(message, maxDepth).problem;
}

/** checkClientMessage, with the number of keys it walked (all of them when there is no problem). */
export function inspectClientMessage(message: unknown, maxDepth: number = MAX_NESTING_DEPTH): MessageInspection {
  let keyCount = 0;
  if (typeof message !== 'object' || message === null || message instanceof LargeNumber) return {problem: undefined, keys: 0};
  const stack: Frame[] = [{value: message, depth: 1, parent: undefined, key: '', envelope: TOP_LEVEL_KEYS}];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    const {value, depth} = frame;
    if (depth > maxDepth) {
      return {problem: {kind: 'too-deep', detail: `nested more than ${maxDepth} levels deep`, pointer: pointerOf(frame)}, keys: keyCount};
    }
    if (Array.isArray(value)) {
      for (let index = value.length - 1; index >= 0; index--) {
        const item: unknown = value[index];
        if (typeof item === 'object' && item !== null && !(item instanceof LargeNumber))
          stack.push({value: item, depth: depth + 1, parent: frame, key: index});
      }
      continue;
    }
    const keys = Object.keys(value);
    keyCount += keys.length;
    const problem = checkKeys(keys, frame.envelope);
    if (problem) return {problem: {...problem, pointer: pointerOf(frame)}, keys: keyCount};
    for (let index = keys.length - 1; index >= 0; index--) {
      const key = keys[index]!;
      const item: unknown = (value as Record<string, unknown>)[key];
      if (typeof item !== 'object' || item === null || item instanceof LargeNumber) continue;
      const child: Frame = {value: item, depth: depth + 1, parent: frame, key};
      if (frame.envelope === TOP_LEVEL_KEYS && key === 'params') child.envelope = PARAMS_KEYS;
      stack.push(child);
    }
  }
  return {problem: undefined, keys: keyCount};
}

/** The JSON pointer of a frame, built only for a problem. */
function pointerOf(frame: Frame): string {
  const parts: string[] = [];
  for (let at: Frame | undefined = frame; at?.parent !== undefined; at = at.parent) parts.push(escapePointer(String(at.key)));
  return parts.length === 0 ? '' : `/${parts.reverse().join('/')}`;
}

type KeyProblem = Omit<MessageProblem, 'pointer'>;

function checkKeys(keys: readonly string[], envelope: Map<string, string> | undefined): KeyProblem | undefined {
  if (keys.length === 0) return undefined;
  if (envelope === undefined && keys.length === 1) return undefined;
  // Nearly every object has a few ASCII keys: compared in place, without a folded copy of each.
  if (keys.length <= 16 && keys.every(isAscii)) return checkAsciiKeys(keys, envelope);
  const seen = keys.length > 1 ? new Map<string, string>() : undefined;
  for (const key of keys) {
    const folded = foldKey(key);
    const canonical = envelope?.get(folded);
    if (canonical !== undefined && canonical !== key) return envelopeProblem(key, canonical);
    if (seen === undefined) continue;
    const earlier = seen.get(folded);
    if (earlier !== undefined) return ambiguousProblem(earlier, key);
    seen.set(folded, key);
  }
  return undefined;
}

/** The same checks for ASCII keys, in the same order: foldKey of an ASCII key is its upper case. */
function checkAsciiKeys(keys: readonly string[], envelope: Map<string, string> | undefined): KeyProblem | undefined {
  for (let j = 0; j < keys.length; j++) {
    const key = keys[j]!;
    if (envelope !== undefined) {
      for (const canonical of envelope.values()) {
        if (canonical !== key && sameIgnoringAsciiCase(canonical, key)) return envelopeProblem(key, canonical);
      }
    }
    for (let i = 0; i < j; i++) if (sameIgnoringAsciiCase(keys[i]!, key)) return ambiguousProblem(keys[i]!, key);
  }
  return undefined;
}

function envelopeProblem(key: string, canonical: string): KeyProblem {
  return {
    kind: 'envelope-key',
    detail: `the key ${JSON.stringify(key)} is read as ${JSON.stringify(canonical)} by servers that match keys without regard to case`,
  };
}

function ambiguousProblem(earlier: string, key: string): KeyProblem {
  return {
    kind: 'ambiguous-keys',
    detail: `the keys ${JSON.stringify(earlier)} and ${JSON.stringify(key)} are the same key to servers that match keys without regard to case`,
  };
}

function isAscii(key: string): boolean {
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) > 0x7f) return false;
  return true;
}

function sameIgnoringAsciiCase(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const lower = x | 0x20;
    if (lower !== (y | 0x20) || lower < 0x61 || lower > 0x7a) return false;
  }
  return true;
}

function escapePointer(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}
