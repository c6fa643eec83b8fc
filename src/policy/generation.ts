import type {GrantTrail} from '../approvals/grant-proof.js';
import {ApprovalStepUp} from '../approvals/step-up.js';
import {errorMessage} from '../core/errors.js';
import type {DecisionContext, EnforcementMode, Enforcer} from '../core/decision.js';
import type {StepUpHandler, ToolsListHook} from '../governance/types.js';
import {PinGuard} from '../pins/guard.js';
import {BaselineStore} from './baseline-store.js';
import {EmbeddedEnforcer, FailClosedEnforcer, progressiveSession} from './enforcer.js';
import type {CompiledPolicy} from './model.js';
import type {ProgressiveSession} from './progressive.js';
import {protectedPaths} from './protected-paths.js';
import type {SessionSettings} from './session-settings.js';
import {PolicyToolsListHook} from './tools-list-hook.js';

/**
 * Everything that depends on one policy, built together and replaced together when the policy
 * changes: a call that started with one generation finishes with it (the relay and the governor
 * take the generation once per call).
 */
export interface PolicyGeneration {
  /** The session as this policy settles it: mode and intent are its own, the rest is shared. */
  readonly context: DecisionContext;
  readonly enforcer: Enforcer;
  readonly stepUp?: StepUpHandler | undefined;
  readonly toolsListHook?: ToolsListHook | undefined;
  /** Undefined when the policy (or the intent map) could not be loaded. */
  readonly policy?: CompiledPolicy | undefined;
  readonly settings?: SessionSettings | undefined;
  /** Why every call is refused, when failing closed. */
  readonly failure?: string | undefined;
  /** What tools/list filtering depends on: when it changes, a client's list may be stale. */
  readonly toolsListKey: string;
}

export interface SessionResourcesOptions {
  /** The profile directory. */
  home: string;
  agentId: string;
  now: () => Date;
  warn(message: string): void;
  /** PIN_* events, recorded with the generation in force when they happen. */
  event(type: string, fields: Record<string, unknown>): void;
}

/**
 * What outlives a policy: the agent's progressive baseline, its tool pins and this session's
 * escalations. Opened when a policy first needs them and kept across reloads (reopening would
 * lose the session's unsaved learning and forget a tool whose definition changed).
 */
export class SessionResources {
  readonly progressive: ProgressiveSession;
  /** Approval grants this session used: each counts once, whatever approvals.json says later. */
  readonly usedGrants = new Set<string>();
  private readonly options: SessionResourcesOptions;
  private baselineStore: BaselineStore | undefined;
  private baselineTried = false;
  private pinGuard: PinGuard | undefined;

  constructor(options: SessionResourcesOptions) {
    this.options = options;
    this.progressive = progressiveSession(() => this.baselineStore, options.now);
  }

  /** Observe mode learns nothing, so the baseline is opened only once another mode needs it. */
  async baseline(mode: EnforcementMode): Promise<BaselineStore | undefined> {
    if (mode === 'observe' || this.baselineTried) return this.baselineStore;
    this.baselineTried = true;
    const {home, agentId, now, warn} = this.options;
    try {
      this.baselineStore = await BaselineStore.open({home, agentId, now, warn});
    } catch (error) {
      warn(
        `the progressive baseline of agent "${agentId}" could not be opened (${errorMessage(error)}); this session learns in memory only`,
      );
    }
    return this.baselineStore;
  }

  pins(): PinGuard {
    const {home, agentId, now, warn, event} = this.options;
    this.pinGuard ??= new PinGuard({home, agentId, now, warn, event});
    return this.pinGuard;
  }

  async close(): Promise<void> {
    await this.baselineStore?.close();
  }
}

export interface GenerationInput {
  policy: CompiledPolicy;
  settings: SessionSettings;
  /** Already carries settings.mode and settings.intent. */
  context: DecisionContext;
  resources: SessionResources;
  home: string;
  filterTools: boolean;
  now: () => Date;
  warn(message: string): void;
  /** APPROVAL_* and TOOLS_HIDDEN events. */
  event(type: string, context: DecisionContext, fields: Record<string, unknown>): void;
  approvals: SessionApprovals;
}

/** What the session's settings say about approvals made with `thoth approve`. */
export interface SessionApprovals {
  /** The session's audit directory and key: where a grant's sealed record must be. */
  trail: GrantTrail;
  /** THOTH_CLI_APPROVALS. */
  cliApprovals: boolean;
}

export async function policyGeneration(input: GenerationInput): Promise<PolicyGeneration> {
  const {policy, settings, context, resources, home, now, warn, event} = input;
  const baseline = await resources.baseline(settings.mode);
  const pins = policy.pinsEnabled ? resources.pins() : undefined;
  const enforcer = new EmbeddedEnforcer({
    policy,
    baseline,
    pins,
    protectedPaths: protectedPaths(policy, home, undefined, {
      directories: [input.approvals.trail.auditDir],
      files: [input.approvals.trail.keyFile],
    }),
    now,
    progressive: resources.progressive,
  });
  // Grants are bound to policy.version: those given under another policy do not apply here.
  const stepUp = new ApprovalStepUp({
    home,
    now,
    warn,
    event,
    settings: {
      policyVersion: policy.version,
      ttlMs: policy.approvals.ttlMs,
      elicitation: policy.approvals.elicitation,
      elicitationTimeoutMs: policy.approvals.elicitationTimeoutMs,
    },
    onApproved: (call) => enforcer.learn(call),
    trail: input.approvals.trail,
    cliApprovals: input.approvals.cliApprovals,
    usedGrants: resources.usedGrants,
  });
  const hooked = input.filterTools || pins !== undefined;
  const toolsListHook = hooked ? new PolicyToolsListHook({policy, filter: input.filterTools, pins, event}) : undefined;
  const toolsListKey = hooked
    ? ['filter', policy.hash, context.mode, context.intent ?? '', input.filterTools, pins !== undefined].join('\u0000')
    : 'unfiltered';
  return {context, enforcer, stepUp, toolsListHook, policy, settings, toolsListKey};
}

/** Refuses every call, naming the problem (as at start-up); tools/list is left as the server sends it. */
export function failedGeneration(context: DecisionContext, message: string, ruleId: string): PolicyGeneration {
  return {context, enforcer: new FailClosedEnforcer(message, ruleId), failure: message, toolsListKey: 'unfiltered'};
}

/**
 * A new generation's context: the same session (ids, client, tool history: getters included)
 * with this generation's mode and intent. Built once per reload, never per call.
 */
export function contextWith(base: DecisionContext, mode: EnforcementMode, intent: string | undefined): DecisionContext {
  const context = Object.create(Object.getPrototypeOf(base) as object | null, Object.getOwnPropertyDescriptors(base)) as DecisionContext;
  context.mode = mode;
  if (intent !== undefined) context.intent = intent;
  else delete context.intent;
  return context;
}

/** Nothing a decision depends on differs: a reformatted file, or the same failure again. */
export function sameGeneration(a: PolicyGeneration, b: PolicyGeneration): boolean {
  if (a.policy === undefined || b.policy === undefined) return a.policy === b.policy && a.failure === b.failure;
  return (
    a.policy.hash === b.policy.hash &&
    a.policy.source.kind === b.policy.source.kind &&
    a.policy.source.path === b.policy.source.path &&
    a.context.mode === b.context.mode &&
    a.context.intent === b.context.intent
  );
}
