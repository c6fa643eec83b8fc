import {homedir} from 'node:os';
import {join, resolve as resolvePath} from 'node:path';

import {errorMessage} from '../core/errors.js';
import {clientOf, type Decision, type DecisionContext, type ToolCall} from '../core/decision.js';
import type {ClientChannel, StepUpHandler} from '../governance/types.js';
import {canonicalHash, sha256Digits} from '../core/canonical-json.js';
import {shellWord} from '../core/shell-word.js';
import {terminalSafe} from '../util/terminal-text.js';
import {proveGrant, type GrantProof, type GrantTrail} from './grant-proof.js';
import {
  argumentsPreview,
  newApprovalId,
  pendingRequest,
  requestApproval,
  takeDecision,
  type ApprovalBinding,
  type ApprovalRecord,
} from './store.js';

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
  /** This session's audit directory and key: a grant counts only with its sealed APPROVAL_GRANTED there. */
  trail: GrantTrail;
  /** THOTH_CLI_APPROVALS (default on): off, command-line grants are ignored and no request is recorded for them. */
  cliApprovals?: boolean;
  /** The grants this session used, shared by every policy generation: one used again was replayed by editing approvals.json. */
  usedGrants?: Set<string>;
}

type ProvenGrant = Extract<GrantProof, {ok: true}>;

/**
 * Resolves step_up decisions. In order: a grant for exactly this call (single use) allows it,
 * a denial blocks it; a client that declared `elicitation` is asked directly and the call is
 * forwarded only on an explicit accept; otherwise the call is refused with -32002 and an
 * approval id that `thoth approve ID` turns into a grant for the identical retry. The command is
 * written to stderr for the operator, never into the error the model reads.
 */
export class ApprovalStepUp implements StepUpHandler {
  private readonly options: ApprovalStepUpOptions;
  private readonly now: () => Date;
  private readonly usedGrants: Set<string>;
  private readonly cliApprovals: boolean;

  constructor(options: ApprovalStepUpOptions) {
    this.options = options;
    this.now = options.now ?? (() => new Date());
    this.usedGrants = options.usedGrants ?? new Set();
    this.cliApprovals = options.cliApprovals ?? true;
  }

  /** Whether a grant of approvals.json counts: see grant-proof.ts. */
  private async prove(record: ApprovalRecord): Promise<{ok: true; proof: ProvenGrant} | {ok: false; why: string}> {
    if (!this.cliApprovals) return {ok: false, why: 'command-line approvals are turned off on this computer (THOTH_CLI_APPROVALS=off)'};
    if (this.usedGrants.has(record.id))
      return {ok: false, why: 'this session already used it (a grant is good for one call): approvals.json was edited to replay it'};
    const proof = await proveGrant(record, this.options.trail, this.now());
    return proof.ok ? {ok: true, proof} : proof;
  }

  /** The commands for the operator, naming this session's audit directory when it is not the profile's default. */
  private command(verb: 'approve' | 'deny', id: string): string {
    return approvalCommandFor(verb, id, {home: this.options.home, auditDir: this.options.trail.auditDir});
  }

  async resolve(
    call: ToolCall,
    context: DecisionContext,
    decision: Decision,
    client: ClientChannel,
    signal: AbortSignal,
  ): Promise<Decision> {
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
    const about = {
      toolName: call.name,
      argumentsSha256: sha256Digits(binding.argumentsHash),
      policyVersion: binding.policyVersion,
      ruleId: decision.ruleId,
    };

    const taken = await takeDecision(home, binding, this.now(), {prove: (record) => this.prove(record)});
    for (const {record, why} of taken?.unproven ?? []) {
      this.options.warn?.(
        `approvals.json says approval ${record.id} for "${call.name}" was granted${record.decidedBy === undefined ? '' : ` by ${record.decidedBy}`}, but it is ignored: ${why}. ` +
          `The call stays stepped up.${this.cliApprovals ? ' Something other than thoth approve edited approvals.json, or the grant was recorded in another audit directory.' : ''}`,
      );
      this.options.event?.('APPROVAL_UNVERIFIED', context, {
        approvalId: record.id,
        ...about,
        why,
        ...(record.decidedBy !== undefined ? {claimedBy: record.decidedBy} : {}),
        ...(record.decidedAt !== undefined ? {claimedAt: record.decidedAt} : {}),
      });
    }
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
      const {record, proof} = taken;
      this.usedGrants.add(record.id);
      // Who approved and when, as the sealed record says (approvals.json is only a copy).
      this.options.event?.('APPROVAL_USED', context, {
        approvalId: record.id,
        ...about,
        approvedBy: proof.approvedBy,
        approvedAt: proof.approvedAt,
      });
      this.options.onApproved?.(call, context);
      return {
        decision: 'allow',
        ruleId: `approval:${record.id}`,
        reason: `approved by ${proof.approvedBy ?? 'a person'} at ${proof.approvedAt} (approval ${record.id}, used now): ${decision.reason}`,
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
    /** The id the request will have if the prompt is not answered: the prompt names it. */
    let plannedId: string | undefined;
    if (settings.elicitation && supportsFormElicitation(client.capabilities) && !signal.aborted) {
      plannedId = (await pendingRequest(home, binding, this.now()))?.id ?? newApprovalId();
      const answer = await this.elicit(call, context, decision, client, signal, plannedId);
      if (answer.kind === 'accepted') {
        // Decided in the client's prompt: there is no approval record, so no approvalId.
        this.options.event?.('APPROVAL_GRANTED', context, {via: 'elicitation', ...about});
        this.options.onApproved?.(call, context);
        return {
          decision: 'allow',
          ruleId: 'approval:elicitation',
          reason: `approved by the user in ${clientOf(context)?.name ?? 'the client'}: ${decision.reason}`,
          trace: [...trace, 'elicitation: accepted → allow'],
          details: {approvedVia: 'elicitation', stepUpRuleId: decision.ruleId},
        };
      }
      if (answer.kind === 'declined') {
        this.options.event?.('APPROVAL_DENIED', context, {via: 'elicitation', ...about});
        return {
          decision: 'block',
          ruleId: 'approval:declined',
          reason: `the user declined in ${clientOf(context)?.name ?? 'the client'}: ${decision.reason}`,
          trace: [...trace, 'elicitation: declined → block'],
          details: {approvedVia: 'elicitation', stepUpRuleId: decision.ruleId},
        };
      }
      // The client gave up on the call while the user was being asked: nothing to wait for.
      if (signal.aborted) return {...decision, trace: [...trace, 'elicitation: call cancelled']};
      fallbackNote = ` (the prompt in the client was ${answer.why})`;
    }

    if (!this.cliApprovals) {
      // Nobody could approve a request here: none is recorded. The client's prompt and the control plane remain.
      return {
        ...decision,
        reason: `${decision.reason}${fallbackNote}; command-line approvals are turned off on this computer, so only a prompt in the client can approve it`,
        trace: [...trace, 'command-line approvals off (THOTH_CLI_APPROVALS=off): no approval request'],
      };
    }

    const {record, created} = await requestApproval(
      home,
      binding,
      {
        ...(plannedId !== undefined ? {id: plannedId} : {}),
        sessionId: context.sessionId,
        intent: context.intent ?? null,
        mode: context.mode,
        ruleId: decision.ruleId,
        reason: decision.reason,
        argumentsJson: call.argumentsJson,
        ttlMs: settings.ttlMs,
        auditDir: this.options.trail.auditDir,
      },
      this.now(),
    );
    if (created) {
      this.options.event?.('APPROVAL_REQUESTED', context, {approvalId: record.id, ...about, expiresAt: record.expiresAt});
      // For the operator: stderr reaches the client's MCP log, not the model. The error the model
      // reads names no command (an agent with a shell would run it: see governor.refusalError).
      this.options.warn?.(
        // No arguments here (they may hold secrets, and this may go to a log file): `thoth approvals list` shows them.
        `approval ${record.id}: "${context.agentId}" wants to run "${call.name}" (${decision.reason}). Review it with: thoth approvals list; ` +
          `to allow this one call, run in your own terminal: ${this.command('approve', record.id)} (refuse: ${this.command('deny', record.id)}). ` +
          `It lapses at ${record.expiresAt}.`,
      );
    }
    return {
      ...decision,
      reason: `${decision.reason}${fallbackNote}`,
      trace: [...trace, `approval ${record.id}: pending until ${record.expiresAt}`],
      // approvalChannel: a person approves it on this computer (governor.refusalError words the message from it).
      details: {...decision.details, approvalId: record.id, expiresAt: record.expiresAt, approvalChannel: 'local'},
    };
  }

  private async elicit(
    call: ToolCall,
    context: DecisionContext,
    decision: Decision,
    client: ClientChannel,
    signal: AbortSignal,
    approvalId: string,
  ): Promise<{kind: 'accepted'} | {kind: 'declined'} | {kind: 'unanswered'; why: string}> {
    // The prompt is shown to the person, not to the model: it may name the command. A bidi
    // override or control character in a name must not reword it.
    const fallback = this.cliApprovals
      ? ` (Left unanswered, it waits as approval ${approvalId}: ${this.command('approve', approvalId)} in your own terminal allows it.)`
      : '';
    const message =
      `thoth: "${terminalSafe(context.agentId)}" wants to run the tool "${terminalSafe(call.name)}" with ${terminalSafe(argumentsPreview(call.argumentsJson))}. ` +
      `It needs your approval because ${terminalSafe(decision.reason)}. Allow this one call?${fallback}`;
    try {
      const result = await client.request(
        'elicitation/create',
        {
          message,
          requestedSchema: {
            type: 'object',
            properties: {
              approve: {
                type: 'boolean',
                title: 'Allow this call once',
                description: `Run "${call.name}" with exactly these arguments, once.`,
                default: true,
              },
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

/**
 * The exact command that approves (or denies) `id`: it names the profile when it is not the
 * default one, and the audit directory when it is not the profile's (the grant must be recorded
 * where the session that asked looks).
 */
export function approvalCommandFor(
  verb: 'approve' | 'deny',
  id: string,
  where: {home: string; auditDir?: string | undefined},
  defaultHome: string = join(homedir(), '.thoth'),
): string {
  const words = [`thoth ${verb} ${id}`];
  if (where.home !== defaultHome) words.push(`--thoth-home ${shellWord(where.home)}`);
  if (where.auditDir !== undefined && resolvePath(where.auditDir) !== resolvePath(where.home, 'audit'))
    words.push(`--audit-dir ${shellWord(where.auditDir)}`);
  return words.join(' ');
}

export function approveCommandFor(id: string, home: string, defaultHome?: string): string {
  return approvalCommandFor('approve', id, {home}, defaultHome);
}
