import {errorMessage} from '../core/errors.js';
import {readKeyFile} from '../audit/key.js';
import {readSealedStandaloneChain} from '../audit/verify.js';
import {sha256Digits} from '../core/canonical-json.js';
import type {ApprovalRecord} from './store.js';

/** Where a session looks for the records of `thoth approve`: its own audit directory and key. */
export interface GrantTrail {
  auditDir: string;
  keyFile: string;
}

export type GrantProof =
  /** `approvedBy` / `approvedAt` as the sealed record has them (approvals.json may say otherwise). */
  {ok: true; approvedBy: string | undefined; approvedAt: string} | {ok: false; why: string};

/**
 * A grant in approvals.json is only a claim: any process of the user (an agent's file tool) can
 * write that file. It is honoured only when the audit trail holds the APPROVAL_GRANTED that
 * `thoth approve` sealed for it before changing the file: the record approvals.json points at
 * (never trusted without checking), its MAC valid under the audit key, its chain sealed, and its
 * approval, agent, tool, arguments and policy version those of the grant, not yet expired.
 */
export async function proveGrant(record: ApprovalRecord, trail: GrantTrail, now: Date): Promise<GrantProof> {
  const pointer = record.auditRecord;
  if (pointer === undefined)
    return {ok: false, why: 'approvals.json names no APPROVAL_GRANTED record for it (thoth approve always writes one)'};
  try {
    const key = await readKeyFile(trail.keyFile);
    if (!key) return {ok: false, why: `the audit key ${trail.keyFile} does not exist, so no record can be checked`};
    const chain = await readSealedStandaloneChain(trail.auditDir, pointer.file, key);
    if (!chain.ok) return {ok: false, why: `no valid APPROVAL_GRANTED record: ${chain.why}`};
    if (chain.chain !== pointer.chain)
      return {ok: false, why: `no valid APPROVAL_GRANTED record: ${pointer.file} is not chain ${pointer.chain}`};
    const event = chain.events.find((candidate) => candidate['eventId'] === pointer.eventId);
    if (event === undefined) return {ok: false, why: `no APPROVAL_GRANTED record ${pointer.eventId} in ${pointer.file}`};
    const expected: Record<string, unknown> = {
      type: 'APPROVAL_GRANTED',
      via: 'cli',
      approvalId: record.id,
      agentId: record.agentId,
      toolName: record.tool,
      argumentsSha256: sha256Digits(record.argumentsHash),
      policyVersion: record.policyVersion,
    };
    const differing = Object.keys(expected).filter((field) => event[field] !== expected[field]);
    if (differing.length > 0)
      return {ok: false, why: `the record ${pointer.eventId} is about another approval or call (${differing.join(', ')} differ)`};
    // The sealed expiry, not approvals.json's (which an editor could push back).
    const expiresAt = typeof event['expiresAt'] === 'string' ? Date.parse(event['expiresAt']) : Number.NaN;
    if (!(expiresAt > now.getTime()))
      return {ok: false, why: `the grant recorded in ${pointer.file} expired at ${String(event['expiresAt'])}`};
    return {
      ok: true,
      approvedBy: typeof event['approvedBy'] === 'string' ? event['approvedBy'] : undefined,
      approvedAt: String(event['timestamp']),
    };
  } catch (error) {
    return {ok: false, why: `the audit trail could not be read (${errorMessage(error)})`};
  }
}
