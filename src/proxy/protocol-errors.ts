import {ErrorCode, LargeNumber, isObject, type JsonRpcErrorObject, type JsonRpcId} from '../core/json-rpc.js';
import type {CallOutcome} from '../governance/types.js';
import {memberText, scanEnvelope, type EnvelopeScan} from './envelope-scan.js';
import type {OversizeLine} from './framing.js';

/** The errors thoth itself answers with, and what it reads out of the server's own answers. */

export function upstreamExitedError(description: string): JsonRpcErrorObject {
  return {code: ErrorCode.UPSTREAM_EXITED, message: `thoth: the MCP server exited before answering (${description})`};
}

export function tooLargeError(size: number, limit: number, from: 'client' | 'server'): JsonRpcErrorObject {
  return {
    code: ErrorCode.MESSAGE_TOO_LARGE,
    message: `thoth: the ${from === 'client' ? 'request' : "server's message"} was ${size} bytes, over thoth's ${limit}-byte limit`,
    data: {size, limit, fix: 'raise the limit with thoth run --max-message-bytes'},
  };
}

export function asErrorObject(value: unknown): JsonRpcErrorObject {
  if (isObject(value) && typeof value['code'] === 'number' && typeof value['message'] === 'string') {
    return Object.hasOwn(value, 'data')
      ? {code: value['code'], message: value['message'], data: value['data']}
      : {code: value['code'], message: value['message']};
  }
  return {code: ErrorCode.INTERNAL_ERROR, message: 'malformed error object'};
}

/** TOOL_CALL_POST's outcome from a scanned response line: the result's bytes, or the error. */
export function outcomeOf(line: Buffer, scan: EnvelopeScan): CallOutcome {
  const result = scan.members.get('result');
  if (result) return {kind: 'result', resultJson: line.subarray(result.start, result.end)};
  const error = scan.members.get('error');
  if (error) {
    try {
      return {kind: 'error', error: asErrorObject(JSON.parse(line.toString('utf8', error.start, error.end)))};
    } catch {
      // fall through
    }
  }
  return {kind: 'error', error: {code: ErrorCode.INTERNAL_ERROR, message: 'the server answered without a result or an error'}};
}

const TAIL_ID = /"id"\s*:\s*(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|"(?:[^"\\]|\\.)*")\s*\}\s*$/;

/** What can be learnt about an over-long line from its head and tail: its id and whether it answers. */
export function summariseOversize(info: OversizeLine): {id?: JsonRpcId; isResponse: boolean} {
  const head = scanEnvelope(info.head, {partial: true});
  let idToken = memberText(info.head, head.members.get('id'));
  if (idToken === undefined) idToken = TAIL_ID.exec(info.tail.toString('utf8'))?.[1];
  const isResponse = (head.keysSeen.has('result') || head.keysSeen.has('error')) && !head.keysSeen.has('method');
  const id = idFromToken(idToken);
  return id === undefined ? {isResponse} : {id, isResponse};
}

function idFromToken(token: string | undefined): JsonRpcId | undefined {
  if (token === undefined) return undefined;
  const trimmed = token.trim();
  try {
    if (trimmed.startsWith('"')) return JSON.parse(trimmed) as string;
  } catch {
    return undefined;
  }
  if (!/^-?\d/.test(trimmed)) return undefined;
  const value = Number(trimmed);
  return Number.isSafeInteger(value) ? value : new LargeNumber(trimmed);
}
