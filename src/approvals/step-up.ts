import {homedir} from 'node:os';
import {join} from 'node:path';

import {errorMessage} from '../cli/errors.js';
import type {Decision, DecisionContext, ToolCall} from '../enforcer/types.js';
import type {ClientChannel, StepUpHandler} from '../governance/types.js';
import {canonicalHash, sha256Digits} from '../policy/canonical-json.js';
import {shellWord} from '../policy/shell-word.js';
import {terminalSafe} from '../util/terminal-text.js';
import {argumentsPreview, requestApproval, takeDecision, type ApprovalBinding} from './store.js';

export interface ApprovalSettings {
  policyVersion: string;
  ttlMs: number;
  elicitation: boolean;
  elicitationTimeoutMs: number;
}

export interface ApprovalStepUpOptions {
  /** The profile directory holding approvals.json. */
  home: string;
  settings: ApprovalSettings;
  now?: () => Date;
  /** APPROVAL_* events for the audit trail. */
  event?: (type: string, context: DecisionContext, fields: Record<string, unknown>) => void;
  /** An approved call is learned by the progressive baseline. */
  onApproved?: (call: ToolCall, context: DecisionContext) => void;
  warn?: (message: string) => void;
}

/**
 * Resolves step_up decisions. In order: a grant for exactly this call (single use) allows it,
 * a denial blocks it; a client that declared `elicitation` is asked directly and the call is
 * forwarded only on an explicit accept; otherwise the call is refused with -32002 and an
 * approval id that `thoth approve ID` turns into a grant for the identical retry.
 */
export class ApprovalStepUp implements StepUpHandler {
  private readonly options: ApprovalStepUpOptions;
  private readonly now: () => Date;

  constructor(options: ApprovalStepUpOptions) {
    this.options = options;
    this.now = options.now ?? (() => new Date());
  }

  async resolve(call: ToolCall, context: DecisionContext, decision: Decision, client: ClientChannel, signal: AbortSignal): Promise<Decision> {
    const {home, settings} = this.options;
    const binding: ApprovalBinding = {
      agentId: context.agentId,
      tool: call.name,
      // A call without arguments is hashed as {} (what the server receives), as the remote enforcer does.
      argumentsHash: canonicalHash(call.arguments ?? {}),
      policyVersion: settings.policyVersion,
    };
    const trace = decision.trace ?? [];
    // What every APPROVAL_* event says about the call (schemas/audit/events/approval-*): ruleId is the rule that asked for approval.
    const about = {toolName: call.name, argumentsSha256: sha256Digits(binding.argumentsHash), policyVersion: binding.policyVersion, ruleId: decision.ruleId};

    const taken = await takeDecision(home, binding, this.now());
    for (const lapsed of taken?.expired ?? []) {
      // ruleId is the lapsed record's: a policy edit since then may have changed the rule asking now.
      this.options.event?.('APPROVAL_EXPIRED', context, {
        approvalId: lapsed.id,
        ...about,
        ruleId: lapsed.ruleId,
        expiresAt: lapsed.expiresAt,
        status: lapsed.status,
        ...(lapsed.decidedBy !== undefined ? {approvedBy: lapsed.decidedBy} : {}),
      });
    }
    if (taken?.kind === 'granted') {
      const {record} = taken;
      this.options.event?.('APPROVAL_USED', context, {approvalId: record.id, ...about, approvedBy: record.decidedBy, approvedAt: record.decidedAt});
      this.options.onApproved?.(call, context);
      return {
        decision: 'allow',
        ruleId: `approval:${record.id}`,
        reason: `approved by ${record.decidedBy ?? 'a person'} at ${record.decidedAt ?? 'an earlier time'} (approval ${record.id}, used now): ${decision.reason}`,
        trace: [...trace, `approval ${record.id}: granted, used once → allow`],
        details: {approvalId: record.id, stepUpRuleId: decision.ruleId},
      };
    }
    if (taken?.kind === 'denied') {
      const {record} = taken;
      return {
        decision: 'block',
        ruleId: `approval:${record.id}`,
        reason: `denied by ${record.decidedBy ?? 'a person'} at ${record.decidedAt ?? 'an earlier time'}${record.note ? ` ("${record.note}")` : ''} (approval ${record.id}): ${decision.reason}`,
        trace: [...trace, `approval ${record.id}: denied → block`],
        details: {approvalId: record.id, stepUpRuleId: decision.ruleId},
      };
    }

    let fallbackNote = '';
    if (settings.elicitation && supportsFormElicitation(client.capabilities) && !signal.aborted) {
      const answer = await this.elicit(call, context, decision, client, signal);
      if (answer.kind === 'accepted') {
        // Decided in the client's prompt: there is no approval record, so no approvalId.
        this.options.event?.('APPROVAL_GRANTED', context, {via: 'elicitation', ...about});
        this.options.onApproved?.(call, context);
        return {
          decision: 'allow',
          ruleId: 'approval:elicitation',
          reason: `approved by the user in ${context.client?.name ?? 'the client'}: ${decision.reason}`,
          trace: [...trace, 'elicitation: accepted → allow'],
          details: {approvedVia: 'elicitation', stepUpRuleId: decision.ruleId},
        };
      }
      if (answer.kind === 'declined') {
        this.options.event?.('APPROVAL_DENIED', context, {via: 'elicitation', ...about});
        return {
          decision: 'block',
          ruleId: 'approval:declined',
          reason: `the user declined in ${context.client?.name ?? 'the client'}: ${decision.reason}`,
          trace: [...trace, 'elicitation: declined → block'],
          details: {approvedVia: 'elicitation', stepUpRuleId: decision.ruleId},
        };
      }
      // The client gave up on the call while the user was being asked: nothing to wait for.
      if (signal.aborted) return {...decision, trace: [...trace, 'elicitation: call cancelled']};
      fallbackNote = ` (the prompt in the client was ${answer.why})`;
    }

    const {record, created} = await requestApproval(
      home,
      binding,
      {
        sessionId: context.sessionId,
        intent: context.intent ?? null,
        mode: context.mode,
        ruleId: decision.ruleId,
        reason: decision.reason,
        argumentsJson: call.argumentsJson,
        ttlMs: settings.ttlMs,
      },
      this.now(),
    );
    if (created) {
      this.options.event?.('APPROVAL_REQUESTED', context, {approvalId: record.id, ...about, expiresAt: record.expiresAt});
    }
    const approveCommand = approveCommandFor(record.id, home);
    return {
      ...decision,
      reason: `${decision.reason}${fallbackNote}`,
      trace: [...trace, `approval ${record.id}: pending until ${record.expiresAt}`],
      details: {...decision.details, approvalId: record.id, approveCommand, expiresAt: record.expiresAt},
    };
  }

  private async elicit(
    call: ToolCall,
    context: DecisionContext,
    decision: Decision,
    client: ClientChannel,
    signal: AbortSignal,
  ): Promise<{kind: 'accepted'} | {kind: 'declined'} | {kind: 'unanswered'; why: string}> {
    // The person reads this in the client: a bidi override or control in a name must not reword it.
    const message =
      `thoth: "${terminalSafe(context.agentId)}" wants to run the tool "${terminalSafe(call.name)}" with ${terminalSafe(argumentsPreview(call.argumentsJson))}. ` +
      `It needs your approval because ${terminalSafe(decision.reason)}. Allow this one call?`;
    try {
      const result = await client.request(
        'elicitation/create',
        {
          message,
          requestedSchema: {
            type: 'object',
            properties: {
              approve: {type: 'boolean', title: 'Allow this call once', description: `Run "${call.name}" with exactly these arguments, once.`, default: true},
            },
          },
        },
        {timeoutMs: this.options.settings.elicitationTimeoutMs, signal},
      );
      const answer = result as {action?: unknown; content?: {approve?: unknown}} | undefined;
      if (answer?.action === 'accept') return answer.content?.approve === false ? {kind: 'declined'} : {kind: 'accepted'};
      if (answer?.action === 'decline') return {kind: 'declined'};
      return {kind: 'unanswered', why: answer?.action === 'cancel' ? 'dismissed' : 'not answered'};
    } catch (error) {
      this.options.warn?.(`approval prompt for "${call.name}" failed: ${errorMessage(error)}; falling back to thoth approve`);
      return {kind: 'unanswered', why: `not answered: ${errorMessage(error)}`};
    }
  }
}

/** Form elicitation: `elicitation: {}` (2025-06-18) or `elicitation: {form: {}}` (2025-11-25). */
export function supportsFormElicitation(capabilities: Record<string, unknown> | undefined): boolean {
  const elicitation = capabilities?.['elicitation'];
  if (typeof elicitation !== 'object' || elicitation === null || Array.isArray(elicitation)) return false;
  const keys = Object.keys(elicitation);
  return keys.length === 0 || Object.hasOwn(elicitation, 'form');
}

/** The exact command that approves `id`, naming the profile when it is not the default one. */
export function approveCommandFor(id: string, home: string, defaultHome: string = join(homedir(), '.thoth')): string {
  return home === defaultHome ? `thoth approve ${id}` : `thoth approve ${id} --thoth-home ${shellWord(home)}`;
}
