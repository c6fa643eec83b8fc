import type {AuditKey} from '../audit/key.js';
import type {AuditSettings} from '../audit/settings.js';
import {writeStandaloneChain} from '../audit/standalone.js';
import type {DecisionContext} from '../core/decision.js';
import {sha256Digits} from '../core/canonical-json.js';
import type {ApprovalRecord} from './store.js';

export interface DecisionAuditIo {
  key?: AuditKey;
  clock?: () => number;
  warn?: (message: string) => void;
}

/** Where the decision is on record: the chain holding the event, its segment file and the event's id. */
export interface DecisionAuditEntry {
  chain: string;
  file: string;
  eventId: string;
}

/**
 * Writes APPROVAL_GRANTED / APPROVAL_DENIED (via cli) for a decision of `thoth approve` /
 * `thoth deny`, as a sealed chain of its own in the audit directory (writeStandaloneChain), in
 * the name of the session that asked. Rejects (AUDIT_WRITE_FAILED) unless the chain is sealed.
 */
export async function recordApprovalDecision(
  settings: AuditSettings,
  decided: ApprovalRecord,
  io: DecisionAuditIo = {},
): Promise<DecisionAuditEntry> {
  if (decided.status !== 'approved' && decided.status !== 'denied') throw new Error(`not a decision: ${decided.status}`);
  const type = decided.status === 'approved' ? 'APPROVAL_GRANTED' : 'APPROVAL_DENIED';
  const {chain, file, eventIds} = await writeStandaloneChain(
    settings,
    {agentId: decided.agentId, sessionId: decided.sessionId},
    [{type, context: decisionContext(decided), fields: decisionFields(decided)}],
    {description: `the decision on approval ${decided.id}`, suggestion: 'The request stays pending until it expires.'},
    io,
  );
  return {chain, file, eventId: eventIds[0]!};
}

/** The session that asked: its agent, session id, mode and intent, as its own events name them. */
function decisionContext(record: ApprovalRecord): DecisionContext {
  const context: DecisionContext = {
    agentId: record.agentId,
    sessionId: record.sessionId,
    // Records of older versions lack the mode; step_up is the decision that created every request.
    mode: record.mode ?? 'step_up',
    sessionToolCalls: [],
  };
  if (record.intent !== null) context.intent = record.intent;
  return context;
}

function decisionFields(record: ApprovalRecord): Record<string, unknown> {
  return {
    via: 'cli',
    approvalId: record.id,
    toolName: record.tool,
    argumentsSha256: sha256Digits(record.argumentsHash),
    policyVersion: record.policyVersion,
    ruleId: record.ruleId,
    [record.status === 'approved' ? 'approvedBy' : 'deniedBy']: record.decidedBy,
    note: record.note,
    requestedAt: record.requestedAt,
    expiresAt: record.expiresAt,
    // Says that `mode` above is not the one recorded with the request.
    ...(record.mode === undefined ? {modeRecorded: false} : {}),
  };
}
