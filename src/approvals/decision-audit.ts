import {ThothError, errorMessage} from '../cli/errors.js';
import {ExitCode} from '../cli/exit-codes.js';
import {chainWriterFor, type ChainWriter} from '../audit/chain-writer.js';
import {EventIdGenerator} from '../audit/event-id.js';
import {genericEvent, serialiseEvent} from '../audit/events.js';
import {loadOrCreateKey, type AuditKey} from '../audit/key.js';
import type {AuditSettings} from '../audit/settings.js';
import type {DecisionContext} from '../enforcer/types.js';
import {sha256Digits} from '../policy/canonical-json.js';
import type {ApprovalRecord} from './store.js';

export interface DecisionAuditIo {
  key?: AuditKey;
  clock?: () => number;
  warn?: (message: string) => void;
}

/** What was written: the chain holding the event, and the event's id. */
export interface DecisionAuditEntry {
  chain: string;
  eventId: string;
}

/**
 * Writes APPROVAL_GRANTED / APPROVAL_DENIED (via cli) for a decision of `thoth approve` /
 * `thoth deny`, as a chain of its own in the audit directory: the session that asked may be long
 * gone, and only the process that opened a chain may append to it. The chain holds the one
 * event, no SESSION_START/END (a CLI decision is not a session); the registry records its opening
 * and its seal like any other chain, so `thoth audit verify` checks it and notices it missing.
 * Resolves only once the chain is sealed and synced; any failure rejects (AUDIT_WRITE_FAILED),
 * so that the caller does not apply a decision the trail does not hold.
 */
export async function recordApprovalDecision(settings: AuditSettings, decided: ApprovalRecord, io: DecisionAuditIo = {}): Promise<DecisionAuditEntry> {
  if (decided.status !== 'approved' && decided.status !== 'denied') throw new Error(`not a decision: ${decided.status}`);
  const clock = io.clock ?? Date.now;
  const ids = new EventIdGenerator(clock);
  const chain = ids.next();
  const eventId = ids.next();
  const event = genericEvent(decided.status === 'approved' ? 'APPROVAL_GRANTED' : 'APPROVAL_DENIED', decisionContext(decided), decisionFields(decided), eventId, clock());
  let writer: ChainWriter | undefined;
  try {
    const key = io.key ?? (await loadOrCreateKey(settings.keyFile, io.warn));
    writer = chainWriterFor(settings, key, {chain, agentId: decided.agentId, sessionId: decided.sessionId}, clock, (message) => io.warn?.(message));
    await writer.append(serialiseEvent(event));
    // close() seals the segment, fdatasyncs it and records the seal in the registry.
    await writer.close();
  } catch (error) {
    // Best effort: release the file handle; the unsealed chain is what verify will report.
    await writer?.close().catch(() => undefined);
    throw new ThothError('AUDIT_WRITE_FAILED', `the decision on approval ${decided.id} could not be recorded in the audit trail (${settings.dir}): ${errorMessage(error)}; it was not applied`, {
      exitCode: ExitCode.UNEXPECTED,
      suggestions: [
        `Check that ${settings.dir} and the key file ${settings.keyFile} are writable (thoth health), then run the command again.`,
        'The request stays pending until it expires.',
      ],
    });
  }
  return {chain, eventId};
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
