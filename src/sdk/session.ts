import {randomUUID} from 'node:crypto';

import {GOVERNED_SESSION_ENV} from '../approvals/governed-session.js';
import type {EnforcementMode, ToolCall} from '../core/decision.js';
import {errorMessage} from '../core/errors.js';
import {ErrorCode, stringifyJson, type JsonRpcErrorObject} from '../core/json-rpc.js';
import {LazyCancellation} from '../governance/cancellation.js';
import type {ClientChannel, SessionState, ToolsListHook} from '../governance/types.js';
import type {DecisionContext} from '../core/decision.js';
import {checkClientMessage} from '../proxy/message-checks.js';
import {terminalSafe} from '../util/terminal-text.js';
import {ToolCallRefusedError} from './errors.js';
import {planSession, programName, type GovernanceOptions, type SessionPlan} from './options.js';
import type {StartedGovernance} from './start.js';

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

export interface SessionInfo {
  sessionId: string;
  agentId: string;
  /** The mode in force, as the policy settled it. */
  mode: EnforcementMode;
  intent?: string;
}

/** Tool names of the session kept in memory; audit events carry the latest 32 (SESSION_TOOL_CALLS_KEPT). */
const KEPT_TOOL_CALLS = 256;
/** How long close() waits for calls still running before it seals the trail. */
const CLOSE_WAIT_MS = 2000;

/** An SDK session has no MCP client to prompt: a step-up waits for `thoth approve` (approvalChannel "local"). */
const NO_CLIENT: ClientChannel = {
  capabilities: undefined,
  request: () => Promise.reject(new Error('an SDK session has no MCP client to ask')),
};

const openSessions = new Set<ThothSession>();
let exitHookInstalled = false;

/**
 * One governed agent session: its own policy generation, approvals, pins and audit chain, as one
 * `thoth run` session has. Governance starts in the background when the session is created (the
 * first call waits for it); `close()` seals the audit trail, and sessions still open when the
 * event loop empties are closed then.
 */
export class ThothSession {
  readonly sessionId: string;
  readonly agentId: string;
  private readonly state: SessionState;
  private readonly started: Promise<StartedGovernance>;
  private readonly warnEarly: (message: string) => void;
  private readonly inFlight = new Set<Promise<unknown>>();
  private closing: Promise<void> | undefined;
  private nextRequestId = 1;

  /**
   * `describe`: the front door's default agent id and what SESSION_START records about the
   * program (governClient adds the server it talks to).
   */
  constructor(options: GovernanceOptions = {}, describe: {defaultAgentId?: () => string; sessionStart?: Record<string, unknown>} = {}) {
    const plan: SessionPlan = planSession(options, describe.defaultAgentId ?? (() => programName()));
    this.agentId = plan.agentId;
    this.sessionId = randomUUID();
    this.state = {sessionId: this.sessionId, sessionToolCalls: []};
    this.warnEarly = options.onWarning ?? ((message) => process.stderr.write(`[thoth] warning: ${terminalSafe(message)}\n`));
    // Whatever this program starts (a shell tool) inherits it: `thoth approve` run from there refuses.
    process.env[GOVERNED_SESSION_ENV] = this.sessionId;
    const sessionStart = {sdk: {program: process.argv[1] ?? process.execPath, ...describe.sessionStart}};
    this.started = import('./start.js').then((start) => start.startGovernance(plan, this.state, options, sessionStart));
    this.started.catch((error: unknown) =>
      this.warnEarly(`governance failed to start; every tool call will be refused: ${errorMessage(error)}`),
    );
    openSessions.add(this);
    installExitHook();
  }

  /** Resolves once governance is up (policy loaded or failed closed, audit trail open); rejects with why it could not start. */
  async ready(): Promise<SessionInfo> {
    const {context} = (await this.started).governance;
    return {
      sessionId: this.sessionId,
      agentId: context.agentId,
      mode: context.mode,
      ...(context.intent !== undefined ? {intent: context.intent} : {}),
    };
  }

  /**
   * `fn` governed: each call is decided before `fn` runs, recorded (TOOL_CALL_PRE, then
   * TOOL_CALL_POST with the result), and refused with ToolCallRefusedError when policy blocks it
   * or a person has to approve it. The first argument is the tool's arguments; the rest are
   * passed through.
   */
  wrapToolFunc<A, R, Rest extends unknown[]>(
    name: string,
    fn: (args: A, ...rest: Rest) => R | Promise<R>,
  ): (args: A, ...rest: Rest) => Promise<R> {
    if (typeof fn !== 'function') throw new TypeError(`thoth-mcp/sdk: the tool "${name}" is not a function`);
    const governed = async (args: A, ...rest: Rest): Promise<R> => {
      const result = await this.govern(name, args, () => fn(args, ...rest));
      if (!result.ok) throw new ToolCallRefusedError(name, result.error);
      return result.value;
    };
    return governed;
  }

  /** Every function of `fns` governed under its key (see wrapToolFunc). */
  instrument<F extends ToolFunctions>(fns: F): F {
    const governed: Record<string, unknown> = {};
    for (const [name, fn] of toolEntries(fns)) governed[name] = this.wrapToolFunc(name, fn);
    return governed as F;
  }

  /**
   * The core of every front door of the SDK: decide, record, run, record. `run` is called only
   * when the call is allowed; what it throws is recorded and rethrown.
   */
  async govern<T>(name: string, args: unknown, run: () => T | Promise<T>, shape: CallShape<T> = {}): Promise<GovernedResult<T>> {
    if (this.closing) return {ok: false, error: sdkRefusal('the thoth session is closed, so the call was not run', 'session-closed')};
    if (typeof name !== 'string' || name === '')
      return {ok: false, error: sdkRefusal('a tool call needs a non-empty tool name', 'protocol')};
    const requestId = shape.requestId ?? String(this.nextRequestId++);
    // The text the audit trail records and argument-size rules read: what a server would receive.
    let argumentsJson: string | undefined;
    try {
      argumentsJson = stringifyJson(args ?? {});
    } catch (error) {
      return {ok: false, error: sdkRefusal(`the arguments of "${name}" cannot be written as JSON (${errorMessage(error)})`, 'protocol')};
    }
    if (argumentsJson === undefined) return {ok: false, error: sdkRefusal(`the arguments of "${name}" are not a JSON value`, 'protocol')};
    let started: StartedGovernance;
    try {
      started = await this.started;
    } catch (error) {
      return {ok: false, error: sdkRefusal(`thoth could not start its enforcer (${errorMessage(error)})`, 'governance-unavailable')};
    }
    const {governor, context} = started.governance;
    // What thoth run refuses before any decision: keys a server could read differently, nesting that could exhaust a stack.
    const problem = checkClientMessage({jsonrpc: '2.0', id: 0, method: 'tools/call', params: {name, arguments: args ?? {}}});
    if (problem) {
      started.warn(`refused a call of "${name}": ${problem.detail}${problem.pointer === '' ? '' : ` at ${problem.pointer.slice(0, 120)}`}`);
      recordEvent(started, context, 'MESSAGE_REFUSED', {
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
    recordToolCall(this.state, name);
    const running = (async () => run())();
    this.inFlight.add(running);
    let value: T;
    try {
      value = await running;
    } catch (error) {
      governor.complete(ticket, ticket.context, {kind: 'error', error: shape.errorOf ? shape.errorOf(error) : thrownError(error)});
      throw error;
    } finally {
      this.inFlight.delete(running);
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

  /** The tools/list hook of the policy in force (filtering and pins), with the context to run it in; undefined until governance is up or when it failed. */
  async toolsListHook(): Promise<{hook: ToolsListHook | undefined; context: DecisionContext; warn: (message: string) => void} | undefined> {
    try {
      const started = await this.started;
      const {toolsListHook, context} = started.governance;
      return {hook: toolsListHook, context, warn: started.warn};
    } catch {
      return undefined;
    }
  }

  /**
   * Ends the session: calls still running get a moment to finish, then SESSION_END is written and
   * the chain sealed (`thoth audit verify` reports an unsealed chain of a process that is gone).
   * Later calls are refused. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      openSessions.delete(this);
      await withTimeout(Promise.allSettled([...this.inFlight]), CLOSE_WAIT_MS);
      const started = await this.started.catch(() => undefined);
      await started?.close();
    })();
    return this.closing;
  }
}

/** A record of tool functions: each takes the tool's arguments (and anything else its caller passes). */
export type ToolFunctions = Record<string, (args: never, ...rest: never[]) => unknown>;

/** The own enumerable function-valued entries of `fns` (anything else is a mistake worth saying). */
export function toolEntries(fns: object): Array<[string, (args: unknown, ...rest: unknown[]) => unknown]> {
  if (typeof fns !== 'object' || fns === null) throw new TypeError('thoth-mcp/sdk: expected a record of tool functions');
  return Object.entries(fns).map(([name, fn]) => {
    if (typeof fn !== 'function') throw new TypeError(`thoth-mcp/sdk: the tool "${name}" is not a function`);
    return [name, fn as (args: unknown, ...rest: unknown[]) => unknown];
  });
}

/** A session can run for weeks: keep the latest names, count them all (as the relay does). */
function recordToolCall(session: SessionState, name: string): void {
  session.sessionToolCallCount = (session.sessionToolCallCount ?? session.sessionToolCalls.length) + 1;
  session.sessionToolCalls.push(name);
  if (session.sessionToolCalls.length > 2 * KEPT_TOOL_CALLS)
    session.sessionToolCalls.splice(0, session.sessionToolCalls.length - KEPT_TOOL_CALLS);
}

function recordEvent(started: StartedGovernance, context: DecisionContext, type: string, fields: Record<string, unknown>): void {
  try {
    started.governance.governor.auditSink.event(type, context, fields);
  } catch (error) {
    started.warn(`the audit trail could not record ${type}: ${errorMessage(error)}`);
  }
}

/** A refusal of the SDK itself (no decision was made): the shape of a policy block, so one handler serves both. */
function sdkRefusal(reason: string, ruleId: string): JsonRpcErrorObject {
  return {code: ErrorCode.BLOCKED, message: `thoth: ${reason}`, data: {decision: 'block', reason, ruleId}};
}

function thrownError(error: unknown): JsonRpcErrorObject {
  return {code: ErrorCode.INTERNAL_ERROR, message: errorMessage(error)};
}

/** The result as JSON text; `null` for undefined, a note for what JSON cannot hold. */
export function jsonText(value: unknown): string {
  try {
    return stringifyJson(value) ?? 'null';
  } catch (error) {
    return JSON.stringify(`[thoth: the result is not JSON: ${errorMessage(error)}]`);
  }
}

/** Sessions the program never closed are closed when its event loop empties, so their chains are sealed. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('beforeExit', () => {
    for (const session of [...openSessions]) void session.close();
  });
}

async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
    timer.unref();
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
