import type {ClientInfo, Decision, DecisionContext, SessionActivity, ToolCall} from '../core/decision.js';
import type {Governor} from './governor.js';
import type {JsonObject, JsonRpcErrorObject} from '../core/json-rpc.js';

/**
 * The seams through which policy (step-up, tool pinning, tools/list filtering) and the audit
 * trail plug into `thoth run`. The proxy only knows these interfaces.
 */

/** What thoth can ask of the MCP client itself (thoth's own requests use their own id space). */
export interface ClientChannel {
  /** The capabilities the client declared in `initialize` (undefined before it). */
  readonly capabilities: Record<string, unknown> | undefined;
  /** Sends a request to the client and resolves with its `result` (rejects on an error reply). */
  request(method: string, params: JsonObject, options: {timeoutMs: number; signal?: AbortSignal}): Promise<unknown>;
}

/** The outcome of a tools/call, as the audit trail records it in TOOL_CALL_POST. */
export type CallOutcome =
  | {
      kind: 'result';
      /** The JSON text of the response's `result` member, exactly as the client received it. */
      resultJson: Buffer;
      /** `result.isError`, when the response was small enough to look inside cheaply. */
      isError?: boolean;
    }
  | {kind: 'error'; error: JsonRpcErrorObject}
  /** thoth refused the call (block or step_up): the upstream never saw it. */
  | {kind: 'refused'; error: JsonRpcErrorObject}
  | {kind: 'cancelled'}
  | {kind: 'upstream-exited'};

export interface PreCallRecord {
  call: ToolCall;
  context: DecisionContext;
  decision: Decision;
  /** The JSON-RPC id of the request, as JSON text. */
  requestId: string;
}

export interface PostCallRecord extends PreCallRecord {
  /** The eventId returned when TOOL_CALL_PRE was appended. */
  preEventId: string;
  outcome: CallOutcome;
  durationMs: number;
}

export interface AuditSink {
  /**
   * Appends TOOL_CALL_PRE and resolves with its event id once the record is handed to the
   * operating system. Rejects when it cannot be written: the governor then fails closed.
   */
  toolCallPre(record: PreCallRecord): Promise<string>;
  /**
   * The same without a promise (the governor prefers it): `done` is called once, with the event
   * id once the record is handed to the operating system, or with the error that kept it from
   * being written (the event id is then '').
   */
  toolCallPreThen?(record: PreCallRecord, done: (eventId: string, error?: unknown) => void): void;
  /** Appends TOOL_CALL_POST. Never blocks the relay; failures are reported on stderr. */
  toolCallPost(record: PostCallRecord): void;
  /** Any other event (SESSION_START, SESSION_END, POLICY_LOADED, APPROVAL_*, PIN_*). */
  event(type: string, context: DecisionContext, fields: Record<string, unknown>): void;
  /** Flushes what is buffered; called on shutdown. */
  close(): Promise<void>;
}

/** Turns a `step_up` decision into a final one: approved (allow), denied (block), or still pending. */
export interface StepUpHandler {
  resolve(call: ToolCall, context: DecisionContext, decision: Decision, client: ClientChannel, signal: AbortSignal): Promise<Decision>;
}

/** Rewrites a `tools/list` result (hiding tools, pinning definitions); undefined leaves it as is. */
export interface ToolsListHook {
  onToolsList(result: JsonObject, context: DecisionContext): Promise<JsonObject | undefined>;
  /** The server said its tools changed (`notifications/tools/list_changed`). */
  onToolsChanged?(context: DecisionContext): void;
}

export const noopAudit: AuditSink = {
  toolCallPre: async () => '',
  toolCallPreThen: (_record, done) => done(''),
  toolCallPost: () => undefined,
  event: () => undefined,
  close: async () => undefined,
};

/** Without an approval mechanism a step-up stays a step-up: the client gets -32002. */
export const passThroughStepUp: StepUpHandler = {
  resolve: async (_call, _context, decision) => decision,
};

// ---------------------------------------------------------------------------------------------
// The relay's port: what `thoth run`'s relay needs from governance, and the session state it fills in.

/**
 * What the relay needs from governance once it is ready (it loads after the server is spawned).
 * `governor` and `context` change together when the policy is reloaded: a call reads both once,
 * when it starts, and is decided and recorded with them.
 */
export interface GovernanceHandle {
  readonly governor: Governor;
  readonly context: DecisionContext;
  readonly toolsListHook?: ToolsListHook | undefined;
  /** Subscribes to changes of what tools/list filtering hides (a policy reload). */
  onToolsListChanged?(listener: () => void): void;
}

/** State of one `thoth run` session that the relay fills in and governance reads. */
export interface SessionState extends SessionActivity {
  readonly sessionId: string;
  /** The latest tools forwarded, in order (`sessionToolCalls` of the audit events; bounded by the relay). */
  readonly sessionToolCalls: string[];
  /** Every tool forwarded in this session, counted. */
  sessionToolCallCount?: number;
  client?: ClientInfo | undefined;
  /**
   * Absolute local paths of every `file://` root the client declared in answer to the server's
   * `roots/list` this session (a union: a relative path argument is checked against each).
   */
  clientRoots?: readonly string[];
}
