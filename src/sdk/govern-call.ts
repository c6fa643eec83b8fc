import type {DecisionContext, ToolCall} from '../core/decision.js';
import {errorMessage} from '../core/errors.js';
import {ErrorCode, stringifyJson, type JsonRpcErrorObject} from '../core/json-rpc.js';
import {LazyCancellation} from '../governance/cancellation.js';
import type {ClientChannel, SessionState} from '../governance/types.js';
import {checkClientMessage} from '../proxy/message-checks.js';
import type {RunGovernance} from '../run/compose.js';
import {sdkRefusal} from './errors.js';
import {jsonText} from './json-text.js';

/**
 * One governed call, as the relay governs a tools/call: the checks thoth run makes before any
 * decision, the Governor's decision and TOOL_CALL_PRE, the function (only when allowed), then
 * TOOL_CALL_POST. Loaded with the governance core, not with the SDK's entry point.
 */

/** What a governed call came to: the function's value, or the JSON-RPC error `thoth run` would have returned. */
export type GovernedResult<T> = {ok: true; value: T} | {ok: false; error: JsonRpcErrorObject};

/** How one call is identified and recorded (the provider helpers and governClient fill these in). */
export interface CallShape<T> {
  /** The JSON text of the call's id in the audit trail (a provider's tool_use id); default a counter. */
  requestId?: string;
  /** Stops a step-up that is waiting (remote approvals); a call aborted before it runs is not run. */
  signal?: AbortSignal | undefined;
  /** The result as TOOL_CALL_POST records it; default its JSON. */
  resultOf?: (value: T) => {json: string; isError?: boolean};
  /** A thrown error as TOOL_CALL_POST records it; default -32603 with its message. */
  errorOf?: (error: unknown) => JsonRpcErrorObject;
}

export interface CallSession {
  governance: RunGovernance;
  state: SessionState;
  warn(message: string): void;
  /** Tracks the function while it runs (close() waits for it). */
  track(running: Promise<unknown>): void;
}

/** Tool names of the session kept in memory; audit events carry the latest 32 (SESSION_TOOL_CALLS_KEPT). */
const KEPT_TOOL_CALLS = 256;

/** An SDK session has no MCP client to prompt: a step-up waits for `thoth approve` (approvalChannel "local"). */
const NO_CLIENT: ClientChannel = {
  capabilities: undefined,
  request: () => Promise.reject(new Error('an SDK session has no MCP client to ask')),
};

export async function governCall<T>(
  session: CallSession,
  name: string,
  args: unknown,
  run: () => T | Promise<T>,
  shape: CallShape<T> & {requestId: string},
): Promise<GovernedResult<T>> {
  const {governor, context} = session.governance;
  const {requestId} = shape;
  // The text the audit trail records and argument-size rules read: what a server would receive.
  let argumentsJson: string | undefined;
  try {
    argumentsJson = stringifyJson(args ?? {});
  } catch (error) {
    return {ok: false, error: sdkRefusal(`the arguments of "${name}" cannot be written as JSON (${errorMessage(error)})`, 'protocol')};
  }
  if (argumentsJson === undefined) return {ok: false, error: sdkRefusal(`the arguments of "${name}" are not a JSON value`, 'protocol')};
  // What thoth run refuses before any decision: keys a server could read differently, nesting that could exhaust a stack.
  const problem = checkClientMessage({jsonrpc: '2.0', id: 0, method: 'tools/call', params: {name, arguments: args ?? {}}});
  if (problem) {
    session.warn(`refused a call of "${name}": ${problem.detail}${problem.pointer === '' ? '' : ` at ${problem.pointer.slice(0, 120)}`}`);
    recordEvent(session, context, 'MESSAGE_REFUSED', {
      direction: 'client-to-server',
      messageKind: 'request',
      reason: problem.kind,
      detail: problem.detail,
      pointer: problem.pointer,
      requestId,
      method: 'tools/call',
    });
    return {
      ok: false,
      error: {
        code: ErrorCode.INVALID_REQUEST,
        message: `thoth: invalid request: ${problem.detail}; not run`,
        data: {reason: problem.kind, detail: problem.detail, pointer: problem.pointer},
      },
    };
  }
  const call: ToolCall = {name, arguments: args, argumentsJson};
  const outcome = await governor.govern(call, context, requestId, NO_CLIENT, shape.signal ?? new LazyCancellation());
  if (outcome.action === 'refuse') return {ok: false, error: outcome.error};
  const {ticket} = outcome;
  if (shape.signal?.aborted) {
    governor.complete(ticket, ticket.context, {kind: 'cancelled'});
    throw shape.signal.reason ?? new Error('the call was aborted');
  }
  recordToolCall(session.state, name);
  const running = (async () => run())();
  session.track(running);
  let value: T;
  try {
    value = await running;
  } catch (error) {
    governor.complete(ticket, ticket.context, {kind: 'error', error: shape.errorOf ? shape.errorOf(error) : thrownError(error)});
    throw error;
  }
  let recorded: {json: string; isError?: boolean};
  try {
    recorded = shape.resultOf ? shape.resultOf(value) : {json: jsonText(value)};
  } catch (error) {
    recorded = {json: JSON.stringify(`[thoth: the result could not be recorded: ${errorMessage(error)}]`)};
  }
  governor.complete(ticket, ticket.context, {
    kind: 'result',
    resultJson: Buffer.from(recorded.json),
    ...(recorded.isError !== undefined ? {isError: recorded.isError} : {}),
  });
  return {ok: true, value};
}

/** A session can run for weeks: keep the latest names, count them all (as the relay does). */
function recordToolCall(session: SessionState, name: string): void {
  session.sessionToolCallCount = (session.sessionToolCallCount ?? session.sessionToolCalls.length) + 1;
  session.sessionToolCalls.push(name);
  if (session.sessionToolCalls.length > 2 * KEPT_TOOL_CALLS)
    session.sessionToolCalls.splice(0, session.sessionToolCalls.length - KEPT_TOOL_CALLS);
}

function recordEvent(session: CallSession, context: DecisionContext, type: string, fields: Record<string, unknown>): void {
  try {
    session.governance.governor.auditSink.event(type, context, fields);
  } catch (error) {
    session.warn(`the audit trail could not record ${type}: ${errorMessage(error)}`);
  }
}

function thrownError(error: unknown): JsonRpcErrorObject {
  return {code: ErrorCode.INTERNAL_ERROR, message: errorMessage(error)};
}
