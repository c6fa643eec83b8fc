import type {Decision, DecisionContext, Enforcer, ToolCall} from '../core/decision.js';
import {ErrorCode, type JsonRpcErrorObject} from '../core/json-rpc.js';
import type {CallCancellation} from './cancellation.js';
import {passThroughStepUp, noopAudit, type AuditSink, type CallOutcome, type ClientChannel, type StepUpHandler} from './types.js';
import {errorMessage} from '../core/errors.js';

export interface GovernorOptions {
  enforcer: Enforcer;
  audit?: AuditSink;
  stepUp?: StepUpHandler;
  /** When the audit log cannot be written: refuse the call (default) or let it through. */
  onAuditFailure?: 'block' | 'allow';
  /** Where thoth's own diagnostics go (stderr). */
  warn?: (message: string) => void;
}

/** A governed call in flight: what TOOL_CALL_POST needs once the answer comes back. */
export interface CallTicket {
  readonly call: ToolCall;
  /** The session as it was decided under (mode, intent): TOOL_CALL_POST records the same, whatever reloads meanwhile. */
  readonly context: DecisionContext;
  readonly decision: Decision;
  readonly requestId: string;
  readonly preEventId: string;
  readonly startedAt: number;
}

export type GovernOutcome = {action: 'forward'; ticket: CallTicket} | {action: 'refuse'; ticket: CallTicket; error: JsonRpcErrorObject};

/**
 * Decides one tools/call: enforcer, then step-up resolution, then TOOL_CALL_PRE (fail closed),
 * then forward or refuse. The relay calls `govern` before the upstream sees the call and
 * `complete` when it has been answered (or will never be).
 */
export class Governor {
  private readonly enforcer: Enforcer;
  private readonly audit: AuditSink;
  private readonly stepUp: StepUpHandler;
  private readonly onAuditFailure: 'block' | 'allow';
  private readonly warn: (message: string) => void;

  constructor(options: GovernorOptions) {
    this.enforcer = options.enforcer;
    this.audit = options.audit ?? noopAudit;
    this.stepUp = options.stepUp ?? passThroughStepUp;
    this.onAuditFailure = options.onAuditFailure ?? 'block';
    this.warn = options.warn ?? (() => undefined);
  }

  get auditSink(): AuditSink {
    return this.audit;
  }

  /**
   * `cancellation` may be a plain AbortSignal; the relay passes a LazyCancellation so that no
   * AbortSignal is created for the calls (nearly all) that never need one.
   */
  govern(
    call: ToolCall,
    context: DecisionContext,
    requestId: string,
    client: ClientChannel,
    cancellation: AbortSignal | CallCancellation,
  ): Promise<GovernOutcome> {
    return new Promise((resolve) => this.governThen(call, context, requestId, client, cancellation, resolve));
  }

  /**
   * govern() with a callback, called once with the outcome. When the enforcer decides without
   * I/O (decideNow) and the audit sink takes TOOL_CALL_PRE with a callback, a call makes no
   * promise at all: `done` runs once the PRE record is with the operating system (records of
   * one turn of the event loop share a write). A step-up, an enforcer that needs I/O or an
   * audit sink without the callback take the asynchronous way, with the same result.
   */
  governThen(
    call: ToolCall,
    context: DecisionContext,
    requestId: string,
    client: ClientChannel,
    cancellation: AbortSignal | CallCancellation,
    done: (outcome: GovernOutcome) => void,
  ): void {
    const startedAt = Date.now();
    const eagerSignal = cancellation instanceof AbortSignal ? cancellation : undefined;
    const decided = (decision: Decision): void => {
      if (decision.decision === 'step_up' && !cancellation.aborted) {
        const signal = eagerSignal ?? (cancellation as CallCancellation).signal;
        this.resolveStepUp(call, context, decision, client, signal).then((resolved) =>
          this.record(call, context, requestId, resolved, startedAt, done),
        );
        return;
      }
      this.record(call, context, requestId, decision, startedAt, done);
    };
    const now = this.decideNow(call, context);
    if (now !== undefined) decided(now);
    else void this.decide(call, context, eagerSignal).then(decided);
  }

  /** TOOL_CALL_PRE (fail closed), then the outcome. */
  private record(
    call: ToolCall,
    context: DecisionContext,
    requestId: string,
    decided: Decision,
    startedAt: number,
    done: (outcome: GovernOutcome) => void,
  ): void {
    let settled = false;
    const written = (preEventId: string, error?: unknown): void => {
      if (settled) return;
      settled = true;
      let decision = decided;
      if (error !== undefined) {
        this.warn(`audit log could not be written: ${describe(error)}`);
        if (this.onAuditFailure === 'block' && decision.decision === 'allow') {
          decision = {
            decision: 'block',
            reason: `the audit log could not be written (${describe(error)}), and policy requires every call to be recorded`,
            ruleId: 'audit-unavailable',
          };
        }
      }
      const ticket: CallTicket = {call, context, decision, requestId, preEventId, startedAt};
      if (decision.decision === 'allow') {
        done({action: 'forward', ticket});
        return;
      }
      const refusal = refusalError(call, context, decision, preEventId);
      this.complete(ticket, context, {kind: 'refused', error: refusal});
      done({action: 'refuse', ticket, error: refusal});
    };
    const record = {call, context, decision: decided, requestId};
    const audit = this.audit;
    try {
      if (audit.toolCallPreThen !== undefined) audit.toolCallPreThen(record, written);
      else
        audit.toolCallPre(record).then(
          (eventId) => written(eventId),
          (error: unknown) => written('', error),
        );
    } catch (error) {
      written('', error);
    }
  }

  private async resolveStepUp(
    call: ToolCall,
    context: DecisionContext,
    decision: Decision,
    client: ClientChannel,
    signal: AbortSignal,
  ): Promise<Decision> {
    try {
      return await this.stepUp.resolve(call, context, decision, client, signal);
    } catch (error) {
      return {...decision, reason: `${decision.reason} (approval could not be requested: ${describe(error)})`};
    }
  }

  complete(ticket: CallTicket, context: DecisionContext, outcome: CallOutcome): void {
    try {
      this.audit.toolCallPost({
        call: ticket.call,
        context,
        decision: ticket.decision,
        requestId: ticket.requestId,
        preEventId: ticket.preEventId,
        outcome,
        durationMs: Date.now() - ticket.startedAt,
      });
    } catch (error) {
      this.warn(`audit log could not record the end of a call: ${describe(error)}`);
    }
  }

  private async decide(call: ToolCall, context: DecisionContext, signal: AbortSignal | undefined): Promise<Decision> {
    try {
      return await this.enforcer.decide(call, context, signal);
    } catch (error) {
      return this.enforcerFailed(call, error);
    }
  }

  /** The enforcer's synchronous decision, or undefined when it has none for this call. */
  private decideNow(call: ToolCall, context: DecisionContext): Decision | undefined {
    if (this.enforcer.decideNow === undefined) return undefined;
    try {
      return this.enforcer.decideNow(call, context);
    } catch (error) {
      return this.enforcerFailed(call, error);
    }
  }

  /** An enforcer that throws must not open the gate. */
  private enforcerFailed(call: ToolCall, error: unknown): Decision {
    this.warn(`enforcer failed on tool "${call.name}": ${describe(error)}`);
    return {decision: 'block', reason: `the enforcer failed (${describe(error)}), so the call is refused`, ruleId: 'enforcer-error'};
  }
}

/**
 * The JSON-RPC error for a refused call; `data` is a stable contract (docs/run.md#what-is-governed). The model reads
 * all of it, so a step-up names no command that would approve the call: an agent with a shell
 * tool would run it. It says that a person has to approve it, and where that person looks.
 */
export function refusalError(call: ToolCall, context: DecisionContext, decision: Decision, auditId: string): JsonRpcErrorObject {
  const stepUp = decision.decision === 'step_up';
  // Older enforcers put the approve command here; whoever hands one over, the model does not read it.
  const {approveCommand: _approveCommand, ...details} = decision.details ?? {};
  const approvalId = typeof details['approvalId'] === 'string' ? details['approvalId'] : undefined;
  const outOfBand =
    approvalId !== undefined && details['approvalChannel'] === 'local'
      ? ` A person must approve it outside this session: ask the person at this computer to review approval ${approvalId} (\`thoth approvals list\`).`
      : '';
  return {
    code: stepUp ? ErrorCode.STEP_UP : ErrorCode.BLOCKED,
    message: stepUp
      ? `thoth: tool "${call.name}" needs approval: ${decision.reason}.${outOfBand}`
      : `thoth: tool "${call.name}" was blocked: ${decision.reason}`,
    data: {
      decision: decision.decision,
      reason: decision.reason,
      ruleId: decision.ruleId,
      agentId: context.agentId,
      tool: call.name,
      intent: context.intent ?? null,
      mode: context.mode,
      auditId,
      ...details,
    },
  };
}

function describe(error: unknown): string {
  return errorMessage(error);
}
