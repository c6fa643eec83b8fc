import type {Decision, DecisionContext, Enforcer, ToolCall} from '../core/decision.js';
import type {PinGuard} from '../pins/guard.js';
import type {BaselineStore} from './baseline-store.js';
import {canonicalHash} from '../core/canonical-json.js';
import {decide, type EngineHooks, type ProtectedPaths} from './engine.js';
import type {CompiledPolicy} from './model.js';
import {emptyBaseline, ProgressiveSession, type BaselineView} from './progressive.js';

export interface EmbeddedEnforcerOptions {
  policy: CompiledPolicy;
  /** The shared per-agent baseline; without one, progressive mode judges from an empty baseline kept in memory. */
  baseline?: BaselineStore | undefined;
  pins?: PinGuard | undefined;
  protectedPaths?: ProtectedPaths | undefined;
  now?: () => Date;
  /**
   * The session's escalations and burst window. A policy reload builds a new enforcer with the
   * same one: a new policy must not wipe what the session already escalated.
   */
  progressive?: ProgressiveSession | undefined;
}

/**
 * The embedded enforcer: decides by the local policy, offline, in microseconds. Allowed calls
 * (outside observe mode) are learned by the baseline that progressive mode judges from.
 */
export class EmbeddedEnforcer implements Enforcer {
  readonly policy: CompiledPolicy;
  private readonly baseline: BaselineStore | undefined;
  private readonly pins: PinGuard | undefined;
  private readonly protectedPaths: ProtectedPaths | undefined;
  private readonly now: () => Date;
  /** The clock in milliseconds: without an injected clock, no Date per call. */
  private readonly nowMs: () => number;
  private readonly progressive: ProgressiveSession;
  /** The engine's hooks: the same for every call of this enforcer. */
  private readonly hooks: EngineHooks;
  private learnsWhenAllowing = true;

  constructor(options: EmbeddedEnforcerOptions) {
    this.policy = options.policy;
    this.baseline = options.baseline;
    this.pins = options.pins;
    this.protectedPaths = options.protectedPaths;
    this.now = options.now ?? (() => new Date());
    const injected = options.now;
    this.nowMs = injected === undefined ? Date.now : () => injected().getTime();
    this.progressive = options.progressive ?? progressiveSession(() => this.baseline, this.now);
    const pins = this.pins;
    this.hooks = {
      ...(pins ? {pinProblem: (tool: string) => pins.problem(tool)} : {}),
      ...(this.protectedPaths ? {protectedPaths: this.protectedPaths} : {}),
      progressive: this.progressive,
    };
  }

  async decide(call: ToolCall, context: DecisionContext): Promise<Decision> {
    if (this.pins?.problem(call.name) === 'changed') await this.pins.recheck(call.name);
    return this.decideChecked(call, context);
  }

  /** Synchronous unless a pinned tool's definition changed: then the pins are read again first (decide). */
  decideNow(call: ToolCall, context: DecisionContext): Decision | undefined {
    if (this.pins?.problem(call.name) === 'changed') return undefined;
    return this.decideChecked(call, context);
  }

  private decideChecked(call: ToolCall, context: DecisionContext): Decision {
    const nowMs = this.nowMs();
    this.progressive.noteCall(nowMs);
    const decision = decide(
      this.policy,
      {
        call,
        agentId: context.agentId,
        mode: context.mode,
        intent: context.intent,
        nowMs,
        fingerprint: () => `${call.name}\u0000${canonicalHash(call.arguments)}`,
      },
      this.hooks,
    );
    if (this.learnsWhenAllowing && decision.decision === 'allow' && decision.observed === undefined) this.learn(call);
    return decision;
  }

  deferLearning(): (call: ToolCall) => void {
    this.learnsWhenAllowing = false;
    return (call) => this.learn(call);
  }

  /** Adds an allowed or approved call to the baseline. */
  learn(call: ToolCall): void {
    this.baseline?.record(call, this.progressive.callsInWindow(this.nowMs()));
  }

  async close(): Promise<void> {
    await this.baseline?.close();
  }
}

/** Progressive mode judges from the shared baseline, or without one from an empty baseline kept in memory. */
export function progressiveSession(baseline: () => BaselineStore | undefined, now: () => Date = () => new Date()): ProgressiveSession {
  let memory: BaselineView | undefined;
  return new ProgressiveSession(() => {
    const store = baseline();
    if (store) return store.view();
    memory ??= {data: emptyBaseline('', now()), sessionCounted: false};
    return memory;
  });
}

/** What `thoth run` uses when the policy (or the intent map) cannot be loaded: refuse every call. */
export class FailClosedEnforcer implements Enforcer {
  constructor(
    private readonly message: string,
    private readonly ruleId: string = 'policy:invalid',
  ) {}

  async decide(): Promise<Decision> {
    return this.decideNow();
  }

  decideNow(): Decision {
    return {decision: 'block', ruleId: this.ruleId, reason: `${this.message}; until it is fixed every tool call is refused`};
  }
}
