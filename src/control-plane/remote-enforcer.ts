import {randomUUID} from 'node:crypto';
import {setTimeout as sleep} from 'node:timers/promises';

import type {ControlPlaneEndpoint} from './config.js';
import type {EnforceRequest, EnforceResponse, RemoteApproval} from './contract.js';
import {ControlPlaneError} from './errors.js';
import {GRANT_DOMAIN, verifyRecord, type PinnedServerKey, type SignedGrant} from './signed-records.js';
import type {ControlPlaneSender, SendOptions} from './client.js';
import {canonicalJson, sha256Hex} from '../core/canonical-json.js';
import type {FailureDecision, ThothEnv} from '../settings/definitions.js';
import {clientOf, type Decision, type DecisionContext, type DecisionKind, type ToolCall} from '../core/decision.js';
import {errorMessage} from '../core/errors.js';

/** What the remote enforcer needs from the HTTP client (`sendRaw` splices the arguments in as forwarded). */
export interface RemoteSender extends ControlPlaneSender {
  sendRaw?(route: 'enforce', endpoint: ControlPlaneEndpoint, bodyJson: string, options: SendOptions): Promise<EnforceResponse>;
}

export interface RemoteEnforcerOptions {
  sender: RemoteSender;
  endpoint: ControlPlaneEndpoint;
  /** THOTH_ENFORCER_TIMEOUT_MS: one decision request. */
  timeoutMs: number;
  /** THOTH_ENFORCER_FAILURE_DECISION as resolved (allow already refused in staging/prod without the override). */
  failureDecision: FailureDecision;
  env: ThothEnv;
  /**
   * How long a held (step-up) call may wait for its approval, counted from the call's arrival:
   * the policy's approvals.elicitation_timeout_seconds (default 45 s), which stays below the
   * client's tool-call timeout (about 60 s in Claude Desktop).
   */
  holdBudgetMs: number;
  warn(message: string): void;
  now?: () => number;
  /** Pause between hold polls after a failed one (tests shorten it). */
  holdRetryMs?: number;
  /**
   * The control plane's pinned signing key (managed preference, else the enrollment record),
   * asked when an approval arrives: with one, an approval counts only with a grant it signed for
   * this very call.
   */
  pinnedKey?: () => Promise<PinnedServerKey | undefined>;
}

interface Hold {
  approval: RemoteApproval & {holdToken: string};
  startedAt: number;
  /** What a grant must be bound to. */
  call: {agentId: string; tool: string; argumentsSha256: string; endpointId: string | undefined};
}

const RANK: Record<DecisionKind, number> = {allow: 0, step_up: 1, block: 2};
/** After this many failures in a row the enforcer is not asked for a while (each call gets the failure decision at once). */
const FAILURES_BEFORE_PAUSE = 3;
const FIRST_PAUSE_MS = 1000;
const MAX_PAUSE_MS = 30_000;
const LONG_POLL_MS = 25_000;

/**
 * The remote side of the `Enforcer` seam: one POST per governed call to THOTH_ENFORCER_URL over
 * the client's kept-alive pool, with a timeout. When it cannot answer (unreachable, timeout, an
 * error status, an answer outside the contract) the decision is THOTH_ENFORCER_FAILURE_DECISION;
 * when TLS fails (verification, pin, AWS-backed requirement) the call is blocked, whatever that
 * setting says: a certificate problem may be an attack, never an outage to ride through.
 */
export class RemoteEnforcer {
  private readonly options: RemoteEnforcerOptions;
  private readonly now: () => number;
  private readonly remoteDecisions = new WeakSet<Decision>();
  private readonly holds = new WeakMap<Decision, Hold>();
  private failures = 0;
  private pausedUntil = 0;
  private pauseMs = FIRST_PAUSE_MS;
  private lastFailure = '';
  private lastWarnedAt = -Infinity;

  constructor(options: RemoteEnforcerOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
  }

  /** The remote verdict on a call that the embedded enforcer did not block. */
  async decide(call: ToolCall, context: DecisionContext, local: Decision, startedAt: number = this.now()): Promise<Decision> {
    if (this.now() < this.pausedUntil) {
      return this.failure(
        `it failed ${this.failures} times in a row (last: ${this.lastFailure}); asking again in ${Math.ceil((this.pausedUntil - this.now()) / 1000)} s`,
        false,
      );
    }
    let answer: EnforceResponse;
    try {
      answer = await this.post(call, context, local);
    } catch (error) {
      return this.onFailure(error);
    }
    if (this.failures > 0) {
      this.options.warn(
        `the remote enforcer answers again (${this.options.endpoint.url}) after ${this.failures} failed request${this.failures === 1 ? '' : 's'}`,
      );
    }
    this.failures = 0;
    this.pauseMs = FIRST_PAUSE_MS;
    const decision: Decision = {
      decision: answer.decision,
      reason: answer.reason,
      ruleId: `remote:${answer.ruleId}`,
      trace: [`remote enforcer ${this.options.endpoint.url}: ${answer.decision} (${answer.ruleId})`],
    };
    // For the -32001/-32002 data; an allowed call needs none (its ruleId says remote:).
    if (answer.decision !== 'allow') decision.details = {enforcer: 'remote', ...approvalDetails(answer.approval)};
    this.remoteDecisions.add(decision);
    if (answer.decision === 'step_up' && answer.approval?.holdToken !== undefined) {
      this.holds.set(decision, {
        approval: answer.approval as Hold['approval'],
        startedAt,
        call: {
          agentId: context.agentId,
          tool: call.name,
          argumentsSha256: sha256Hex(canonicalJson(call.arguments ?? {})),
          endpointId: context.endpointId,
        },
      });
    }
    return decision;
  }

  /**
   * The more restrictive of the two (block > step_up > allow). On a tie the remote decision is
   * kept: it is the fleet's authority, and a remote step-up is approved centrally.
   */
  combine(local: Decision, remote: Decision): Decision {
    if (RANK[local.decision] > RANK[remote.decision]) {
      return {
        ...local,
        trace: [...(local.trace ?? []), ...(remote.trace ?? []), `the embedded decision is more restrictive (${local.ruleId})`],
      };
    }
    remote.trace = [...(local.trace ?? []), ...(remote.trace ?? [])];
    if (local.observed !== undefined && remote.decision === 'allow') remote.observed = local.observed;
    return remote;
  }

  /** True for a decision made (or refused) by the control plane: only the control plane can approve its step-ups. */
  isRemote(decision: Decision): boolean {
    return this.remoteDecisions.has(decision);
  }

  hasHold(decision: Decision): boolean {
    return this.holds.has(decision);
  }

  /**
   * Waits for a held call's approval by long polls, no longer than the hold budget allows
   * (counted from the call's arrival) nor past the approval's expiry, nor after the client
   * cancelled. Then allow (approved), block (denied) or the step-up as it was: -32002 with the
   * approval reference, so the model can retry once someone approved it.
   */
  async awaitApproval(decision: Decision, signal: AbortSignal): Promise<Decision> {
    const hold = this.holds.get(decision);
    if (!hold) return decision;
    const {approval} = hold;
    const expiresAt = approval.expiresAt === undefined ? Infinity : Date.parse(approval.expiresAt);
    const deadline = Math.min(hold.startedAt + this.options.holdBudgetMs, Number.isNaN(expiresAt) ? Infinity : expiresAt);
    let note = `not decided within ${Math.round(this.options.holdBudgetMs / 1000)} s`;
    while (!signal.aborted) {
      const remaining = deadline - this.now();
      if (remaining <= 0) break;
      const waitMs = Math.min(remaining, LONG_POLL_MS);
      try {
        const answer = await this.options.sender.send(
          'holdWait',
          this.options.endpoint,
          {holdToken: approval.holdToken, approvalId: approval.id, waitMs: Math.floor(waitMs)},
          {timeoutMs: Math.floor(waitMs) + this.options.timeoutMs, signal},
        );
        if (answer.state === 'approved') {
          const refused = await this.grantProblem(hold, answer.grant);
          if (refused !== undefined) {
            this.options.warn(`remote approval ${approval.id} is not honoured: ${refused}`);
            note = `approved in the control plane, but not honoured: ${refused}`;
            break;
          }
        }
        if (answer.state === 'approved' || answer.state === 'denied') {
          const approved = answer.state === 'approved';
          const by = answer.decidedBy ?? 'an approver';
          const result: Decision = {
            decision: approved ? 'allow' : 'block',
            ruleId: `remote-approval:${approval.id}`,
            reason: `${approved ? 'approved' : 'denied'} by ${by} in the control plane (approval ${approval.id})${answer.note ? ` ("${answer.note}")` : ''}: ${decision.reason}`,
            trace: [...(decision.trace ?? []), `remote approval ${approval.id}: ${answer.state}`],
            details: {...decision.details, stepUpRuleId: decision.ruleId},
          };
          this.remoteDecisions.add(result);
          return result;
        }
        if (answer.state === 'expired') {
          note = 'the approval request expired';
          break;
        }
      } catch (error) {
        if (signal.aborted) break;
        if (error instanceof ControlPlaneError && error.kind === 'tls') {
          return this.tlsBlock(error);
        }
        // A blip while waiting: keep waiting while the budget lasts.
        await sleep(Math.min(this.options.holdRetryMs ?? 1000, Math.max(0, deadline - this.now()))).catch(() => undefined);
      }
    }
    const where = approval.url ? ` at ${approval.url}` : '';
    const pending: Decision = {
      ...decision,
      reason: `${decision.reason} (approval ${approval.id}${where}: ${signal.aborted ? 'the call was cancelled' : note}; retry the call once it is approved)`,
      trace: [...(decision.trace ?? []), `remote approval ${approval.id}: ${signal.aborted ? 'cancelled' : note}`],
    };
    this.remoteDecisions.add(pending);
    return pending;
  }

  /**
   * Why an approval must not be honoured: with a pinned key, the answer must carry a grant signed
   * by it for this approval, endpoint, agent, tool and exact arguments, not expired. Without a
   * pinned key the TLS-authenticated answer is taken as it is (a control plane that does not sign).
   */
  private async grantProblem(hold: Hold, grant: SignedGrant | undefined): Promise<string | undefined> {
    let pinned: PinnedServerKey | undefined;
    try {
      pinned = await this.options.pinnedKey?.();
    } catch (error) {
      return `the pinned control-plane key cannot be read (${errorMessage(error)})`;
    }
    if (pinned === undefined) return undefined;
    if (grant === undefined) return `the answer carries no signed grant, and a control-plane key is pinned (${pinned.source})`;
    if (!verifyRecord(pinned.publicKey, GRANT_DOMAIN, grant as unknown as {signature: string} & Record<string, unknown>))
      return `the grant is not signed by the pinned control-plane key (${pinned.source})`;
    const expected: Record<string, unknown> = {
      decision: 'approved',
      approvalId: hold.approval.id,
      agentId: hold.call.agentId,
      tool: hold.call.tool,
      argumentsSha256: hold.call.argumentsSha256,
    };
    if (hold.call.endpointId !== undefined) expected['endpointId'] = hold.call.endpointId;
    const differing = Object.keys(expected).filter((field) => (grant as unknown as Record<string, unknown>)[field] !== expected[field]);
    if (differing.length > 0) return `the signed grant is for another call (${differing.join(', ')} differ)`;
    if (!(Date.parse(grant.expiresAt) > this.now())) return `the signed grant expired at ${grant.expiresAt}`;
    return undefined;
  }

  private async post(call: ToolCall, context: DecisionContext, local: Decision): Promise<EnforceResponse> {
    const request: Omit<EnforceRequest, 'arguments'> = {
      requestId: randomUUID(),
      // Within the schema's limits, so that an unusual name never turns a call into a 400.
      tenantId: context.tenantId ?? null,
      endpointId: (context.endpointId ?? 'unknown').slice(0, 256),
      userId: context.userId?.slice(0, 320) ?? null,
      agentId: context.agentId.slice(0, 256),
      sessionId: context.sessionId,
      mode: context.mode,
      intent: context.intent?.slice(0, 256) ?? null,
      tool: call.name.slice(0, 1024),
      argumentsSha256: sha256Hex(canonicalJson(call.arguments ?? {})),
      sessionToolCalls: context.sessionToolCalls.slice(-32),
      client: clientInfoOf(context),
      local: {decision: local.decision === 'step_up' ? 'step_up' : 'allow', ruleId: local.ruleId.slice(0, 256)},
      sentAt: new Date(this.now()).toISOString(),
    };
    const options: SendOptions = {timeoutMs: this.options.timeoutMs};
    const {sender, endpoint} = this.options;
    if (sender.sendRaw) {
      // The arguments go out exactly as they will be forwarded (no second serialisation, large numbers kept).
      const head = JSON.stringify(request);
      return sender.sendRaw('enforce', endpoint, `${head.slice(0, -1)},"arguments":${call.argumentsJson}}`, options);
    }
    return sender.send('enforce', endpoint, {...request, arguments: call.arguments ?? {}}, options);
  }

  private onFailure(error: unknown): Decision {
    const message = errorMessage(error);
    if (error instanceof ControlPlaneError && error.kind === 'tls') return this.tlsBlock(error);
    this.failures++;
    this.lastFailure = message;
    if (this.failures >= FAILURES_BEFORE_PAUSE) {
      this.pausedUntil = this.now() + this.pauseMs;
      this.pauseMs = Math.min(this.pauseMs * 2, MAX_PAUSE_MS);
    }
    return this.failure(message, true);
  }

  private failure(cause: string, fresh: boolean): Decision {
    const {failureDecision, env} = this.options;
    // One line on stderr when the outage starts, then at most one a minute.
    if (fresh && (this.failures === 1 || this.now() - this.lastWarnedAt > 60_000)) {
      this.lastWarnedAt = this.now();
      this.options.warn(
        `the remote enforcer could not decide (${cause}); tool calls get THOTH_ENFORCER_FAILURE_DECISION=${failureDecision} (env ${env}) until it answers`,
      );
    }
    return {
      decision: failureDecision,
      ruleId: 'enforcer:unavailable',
      reason: `the remote enforcer could not decide (${cause}), so THOTH_ENFORCER_FAILURE_DECISION=${failureDecision} applies (env ${env})`,
      trace: [`remote enforcer ${this.options.endpoint.url}: unavailable → failure decision ${failureDecision}`],
      details: {enforcer: 'remote', failureDecision},
    };
  }

  private tlsBlock(error: ControlPlaneError): Decision {
    if (this.now() - this.lastWarnedAt > 60_000 || this.lastFailure !== error.message) {
      this.lastWarnedAt = this.now();
      this.options.warn(`${error.message}; tool calls are blocked (a TLS failure is never downgraded)`);
    }
    this.lastFailure = error.message;
    const decision: Decision = {
      decision: 'block',
      ruleId: 'enforcer:tls',
      reason: `the connection to the remote enforcer failed its TLS checks (${error.message}); calls are blocked until it is fixed, whatever THOTH_ENFORCER_FAILURE_DECISION says`,
      trace: [`remote enforcer ${this.options.endpoint.url}: TLS failure → block`],
      details: {enforcer: 'remote'},
    };
    this.remoteDecisions.add(decision);
    return decision;
  }
}

function clientInfoOf(context: DecisionContext): EnforceRequest['client'] {
  const client = clientOf(context);
  if (client === undefined) return null;
  const out: NonNullable<EnforceRequest['client']> = {};
  if (typeof client.name === 'string') out.name = client.name.slice(0, 256);
  if (typeof client.version === 'string') out.version = client.version.slice(0, 64);
  return out;
}

function approvalDetails(approval: RemoteApproval | undefined): Record<string, unknown> {
  if (!approval) return {};
  const details: Record<string, unknown> = {approvalId: approval.id};
  if (approval.url !== undefined) details['approvalUrl'] = approval.url;
  if (approval.expiresAt !== undefined) details['expiresAt'] = approval.expiresAt;
  return details;
}
