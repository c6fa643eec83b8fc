/**
 * The one seam between the proxy and every way of deciding a tool call: the embedded policy
 * engine, the remote control plane, or the allow-all default. Keep it small and stable.
 */

export type DecisionKind = 'allow' | 'block' | 'step_up';

export const ENFORCEMENT_MODES = ['progressive', 'step_up', 'block', 'observe'] as const;
export type EnforcementMode = (typeof ENFORCEMENT_MODES)[number];

export function isEnforcementMode(value: unknown): value is EnforcementMode {
  return typeof value === 'string' && (ENFORCEMENT_MODES as readonly string[]).includes(value);
}

/** A `tools/call` request as the enforcer sees it. */
export interface ToolCall {
  /** `params.name`. */
  name: string;
  /** `params.arguments` (an object for well-formed calls; anything the client sent otherwise). */
  arguments: unknown;
  /** The serialised arguments, exactly as forwarded (for size rules and hashing). */
  argumentsJson: string;
}

/** What the MCP client said about itself in `initialize`. */
export interface ClientInfo {
  name?: string;
  version?: string;
  protocolVersion?: string;
  capabilities?: Record<string, unknown>;
}

/** Who is calling, and under which settings. One per `thoth run` session. */
export interface DecisionContext {
  agentId: string;
  sessionId: string;
  mode: EnforcementMode;
  intent?: string;
  tenantId?: string;
  userId?: string;
  endpointId?: string;
  /**
   * Names of the tools already called in this session, in order (`sessionToolCalls` of the audit events);
   * in a long session only the latest few hundred are kept.
   */
  sessionToolCalls: readonly string[];
  /**
   * The session this decision belongs to, as it is now: the relay (or another front door) keeps
   * it up to date while contexts are copied for policy generations, so it is held by reference.
   */
  session?: SessionActivity | undefined;
}

/** What a session has done so far, shared by every decision in it. */
export interface SessionActivity {
  /** How many tools were called in this session in all (`sessionToolCalls` keeps only the latest). */
  readonly sessionToolCallCount?: number | undefined;
  /** From the client's `initialize`, once seen. */
  readonly client?: ClientInfo | undefined;
}

/** The client of the session, once it introduced itself. */
export function clientOf(context: DecisionContext): ClientInfo | undefined {
  return context.session?.client;
}

/** How many tools this session called in all. */
export function toolCallCountOf(context: DecisionContext): number {
  return context.session?.sessionToolCallCount ?? context.sessionToolCalls.length;
}

export interface Decision {
  decision: DecisionKind;
  /** A sentence a person can act on: why this call was allowed or refused. */
  reason: string;
  /** The rule that decided, e.g. `intent:phi_eligibility_check`, `rule:block-writes`, `default-allow`. */
  ruleId: string;
  /** In `observe` mode: what would have happened (the returned decision is then `allow`). */
  observed?: DecisionKind;
  /** The chain of rules that led here, for `policy explain` and the audit record. */
  trace?: readonly string[];
  /** Extra fields for the JSON-RPC error `data` (approvalId, expiresAt, ...): the model reads them, so never a command that approves. */
  details?: Record<string, unknown>;
}

export interface Enforcer {
  decide(call: ToolCall, context: DecisionContext, signal?: AbortSignal): Promise<Decision>;
  /**
   * The decision without a promise, for an enforcer that needs no I/O to make it; undefined
   * (having done nothing) when this call needs decide(). The governor asks this first.
   */
  decideNow?(call: ToolCall, context: DecisionContext): Decision | undefined;
  close?(): Promise<void>;
  /**
   * For enforcers that learn from the calls they allow (progressive mode's baseline): stop
   * learning inside decide() and hand over the function that learns a call, to a caller whose
   * own decision comes last and may still refuse the call (the remote enforcer).
   */
  deferLearning?(): (call: ToolCall) => void;
}

/** The default before any policy is configured: every call passes, and the record says so. */
export class AllowAllEnforcer implements Enforcer {
  async decide(): Promise<Decision> {
    return this.decideNow();
  }

  decideNow(): Decision {
    return {decision: 'allow', reason: 'no policy configured: thoth allows every call by default', ruleId: 'default-allow'};
  }
}
