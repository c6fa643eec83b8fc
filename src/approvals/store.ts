import {randomBytes} from 'node:crypto';
import {mkdir} from 'node:fs/promises';
import {join} from 'node:path';

import {ThothError} from '../core/errors.js';
import {ExitCode} from '../core/exit-codes.js';
import type {EnforcementMode} from '../core/decision.js';
import {writeFileAtomic} from '../util/atomic-write.js';
import {withFileLock} from '../util/file-lock.js';
import {readStateFile} from '../util/state-file.js';

/**
 * Pending approvals and grants, shared by every thoth process of a user: one JSON file under
 * the profile directory, changed only under a lock and replaced atomically. A grant is bound to
 * the agent, the tool, the sha256 of the canonical arguments and the policy version; it is used
 * once and expires.
 */

export interface ApprovalBinding {
  agentId: string;
  tool: string;
  /** `sha256:<hex>` of the canonical JSON of the arguments. */
  argumentsHash: string;
  policyVersion: string;
}

export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'used';

export interface ApprovalRecord extends ApprovalBinding {
  id: string;
  status: ApprovalStatus;
  requestedAt: string;
  /** pending: when the request lapses; approved: when the grant lapses; denied: until when retries are refused. */
  expiresAt: string;
  ttlMs: number;
  sessionId: string;
  intent: string | null;
  /**
   * The session's enforcement mode when the request was made: the decision events written by
   * `thoth approve` / `thoth deny` carry it. Absent in records written before it was kept.
   */
  mode?: EnforcementMode;
  ruleId: string;
  reason: string;
  /** The start of the arguments, so the approver sees what they approve. */
  argumentsPreview: string;
  decidedAt?: string;
  decidedBy?: string;
  note?: string;
  usedAt?: string;
  /** Set when a session recorded APPROVAL_EXPIRED for it, so that the event is written once. */
  expiryRecordedAt?: string;
  /**
   * The audit directory of the session that asked: `thoth approve` records the grant there, where
   * that session looks (absent in records of older versions).
   */
  auditDir?: string;
  /**
   * Where `thoth approve` / `thoth deny` sealed the decision (APPROVAL_GRANTED / _DENIED) in that
   * directory. Only a pointer: a session honours a grant after checking the record it points at.
   */
  auditRecord?: AuditRecordPointer;
}

export interface AuditRecordPointer {
  chain: string;
  /** The chain's one segment file, in the audit directory. */
  file: string;
  eventId: string;
}

export interface ApprovalsFile {
  version: 1;
  approvals: ApprovalRecord[];
}

export interface ApprovalView extends ApprovalRecord {
  /** `expired` when the record's time is up (a pending request or an unused grant). */
  state: ApprovalStatus | 'expired';
}

const ID_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
/** Decided and expired records stay listed for a day, then are dropped. */
const KEEP_AFTER_EXPIRY_MS = 24 * 60 * 60 * 1000;
const PREVIEW_CHARS = 400;

export function approvalsFile(home: string): string {
  return join(home, 'approvals.json');
}

export function newApprovalId(): string {
  const bytes = randomBytes(10);
  let id = '';
  for (const byte of bytes) id += ID_ALPHABET[byte & 31];
  return id;
}

export function argumentsPreview(argumentsJson: string, chars: number = PREVIEW_CHARS): string {
  return argumentsJson.length > chars ? `${argumentsJson.slice(0, chars)}…` : argumentsJson;
}

export function sameBinding(a: ApprovalBinding, b: ApprovalBinding): boolean {
  return a.agentId === b.agentId && a.tool === b.tool && a.argumentsHash === b.argumentsHash && a.policyVersion === b.policyVersion;
}

export interface RequestInfo {
  /** The id to give a new request (one an elicitation prompt already named); a fresh one when absent or taken. */
  id?: string;
  sessionId: string;
  intent: string | null;
  mode?: EnforcementMode;
  ruleId: string;
  reason: string;
  argumentsJson: string;
  ttlMs: number;
  /** The session's audit directory (see ApprovalRecord.auditDir). */
  auditDir?: string;
}

/** Records a pending approval, or returns the one already pending for the same call. */
export async function requestApproval(
  home: string,
  binding: ApprovalBinding,
  info: RequestInfo,
  now: Date = new Date(),
): Promise<{record: ApprovalRecord; created: boolean}> {
  return update(home, now, (file) => {
    const existing = file.approvals.find(
      (record) => record.status === 'pending' && sameBinding(record, binding) && Date.parse(record.expiresAt) > now.getTime(),
    );
    if (existing) return {record: existing, created: false};
    const record: ApprovalRecord = {
      id: info.id !== undefined && !file.approvals.some((other) => other.id === info.id) ? info.id : uniqueId(file),
      status: 'pending',
      ...binding,
      requestedAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + info.ttlMs).toISOString(),
      ttlMs: info.ttlMs,
      sessionId: info.sessionId,
      intent: info.intent,
      ...(info.mode !== undefined ? {mode: info.mode} : {}),
      ruleId: info.ruleId,
      reason: info.reason,
      argumentsPreview: argumentsPreview(info.argumentsJson),
      ...(info.auditDir !== undefined ? {auditDir: info.auditDir} : {}),
    };
    file.approvals.push(record);
    return {record, created: true};
  });
}

/** The live pending request for exactly this call, if any (read without the lock: a hint). */
export async function pendingRequest(home: string, binding: ApprovalBinding, now: Date = new Date()): Promise<ApprovalRecord | undefined> {
  const file = await readApprovals(home);
  return file.approvals.find(
    (record) => record.status === 'pending' && sameBinding(record, binding) && Date.parse(record.expiresAt) > now.getTime(),
  );
}

export type TakenDecision<P = unknown> = (
  {kind: 'granted'; record: ApprovalRecord; proof: P} | {kind: 'denied'; record: ApprovalRecord} | {kind: 'none'}
) & {
  /** Requests and grants for this call that lapsed unused and were not reported yet (now marked reported). */
  expired: ApprovalRecord[];
  /** Grants for this call that `prove` rejected: left as they are, not used. */
  unproven: Array<{record: ApprovalRecord; why: string}>;
};

export interface TakeOptions<P> {
  /**
   * Decides, under the lock, whether a grant counts (the session checks the audit trail: see
   * grant-proof.ts). A grant it rejects is not used; the next one for the same call is tried.
   */
  prove: (record: ApprovalRecord) => Promise<{ok: true; proof: P} | {ok: false; why: string}>;
}

/**
 * For a call about to be stepped up: uses a live grant for exactly this call that `prove`
 * accepts (single use), or reports a live denial; also hands over, once, the requests and grants
 * for this call that lapsed unused, for APPROVAL_EXPIRED. Undefined when there is nothing of either.
 */
export async function takeDecision<P>(
  home: string,
  binding: ApprovalBinding,
  now: Date,
  options: TakeOptions<P>,
): Promise<TakenDecision<P> | undefined> {
  // Most calls have nothing waiting: look without the lock first.
  const snapshot = await readApprovals(home);
  const live = (record: ApprovalRecord): boolean =>
    (record.status === 'approved' || record.status === 'denied') &&
    sameBinding(record, binding) &&
    Date.parse(record.expiresAt) > now.getTime();
  // Only the retry of the same call notices a lapse: an approval nobody retries is not reported by a session.
  const lapsedUnreported = (record: ApprovalRecord): boolean =>
    (record.status === 'pending' || record.status === 'approved') &&
    record.expiryRecordedAt === undefined &&
    sameBinding(record, binding) &&
    Date.parse(record.expiresAt) <= now.getTime();
  if (!snapshot.approvals.some((record) => live(record) || lapsedUnreported(record))) return undefined;
  return update(home, now, async (file): Promise<TakenDecision<P>> => {
    const expired = file.approvals.filter(lapsedUnreported);
    for (const record of expired) record.expiryRecordedAt = now.toISOString();
    const reported = expired.map((record) => ({...record}));
    const unproven: TakenDecision<P>['unproven'] = [];
    for (const grant of file.approvals.filter((record) => record.status === 'approved' && live(record))) {
      const checked = await options.prove({...grant});
      if (!checked.ok) {
        unproven.push({record: {...grant}, why: checked.why});
        continue;
      }
      grant.status = 'used';
      grant.usedAt = now.toISOString();
      return {kind: 'granted', record: {...grant}, proof: checked.proof, expired: reported, unproven};
    }
    const denial = file.approvals.find((record) => record.status === 'denied' && live(record));
    return denial ? {kind: 'denied', record: {...denial}, expired: reported, unproven} : {kind: 'none', expired: reported, unproven};
  });
}

export interface DecideOptions {
  by: string;
  note?: string;
  now?: Date;
  /**
   * Called with the decided record under the lock, after every check and before approvals.json
   * changes (the audit trail): if it throws, nothing is applied. Holding the lock meanwhile keeps
   * another approver or a session from acting on the record between the two. What it returns is
   * kept with the record as `auditRecord`.
   */
  beforeApply?: (decided: ApprovalRecord) => Promise<AuditRecordPointer | undefined>;
}

/** `thoth approve ID` / `thoth deny ID`. */
export async function decideApproval(
  home: string,
  id: string,
  verdict: 'approved' | 'denied',
  options: DecideOptions,
): Promise<ApprovalRecord> {
  const now = options.now ?? new Date();
  const wanted = id.trim().toLowerCase();
  return update(home, now, async (file) => {
    const record = file.approvals.find((candidate) => candidate.id === wanted);
    if (!record) {
      throw new ThothError('APPROVAL_NOT_FOUND', `no approval with id "${id}" in ${approvalsFile(home)}`, {
        exitCode: ExitCode.NOT_FOUND,
        suggestions: ['List pending approvals with: thoth approvals list'],
      });
    }
    if (record.status !== 'pending') {
      throw new ThothError(
        'APPROVAL_ALREADY_DECIDED',
        `approval ${record.id} was already ${record.status}${record.decidedBy ? ` by ${record.decidedBy}` : ''}${record.decidedAt ? ` at ${record.decidedAt}` : ''}`,
        {
          exitCode: ExitCode.CONFLICT,
          suggestions: ['Retry the tool call to get a new approval id.'],
        },
      );
    }
    if (Date.parse(record.expiresAt) <= now.getTime()) {
      throw new ThothError('APPROVAL_EXPIRED', `approval ${record.id} expired at ${record.expiresAt}`, {
        exitCode: ExitCode.NOT_FOUND,
        suggestions: ['Retry the tool call to get a new approval id, then approve it within the time limit.'],
      });
    }
    const decided: ApprovalRecord = {
      ...record,
      status: verdict,
      decidedAt: now.toISOString(),
      decidedBy: options.by,
      ...(options.note !== undefined ? {note: options.note} : {}),
      // The grant (or the refusal of retries) lasts as long again from now.
      expiresAt: new Date(now.getTime() + record.ttlMs).toISOString(),
    };
    const auditRecord = await options.beforeApply?.({...decided});
    if (auditRecord !== undefined) decided.auditRecord = auditRecord;
    Object.assign(record, decided);
    return decided;
  });
}

export async function listApprovals(home: string, options: {all?: boolean; now?: Date} = {}): Promise<ApprovalView[]> {
  const now = (options.now ?? new Date()).getTime();
  const file = await readApprovals(home);
  return file.approvals
    .map((record): ApprovalView => ({
      ...record,
      state:
        (record.status === 'pending' || record.status === 'approved') && Date.parse(record.expiresAt) <= now ? 'expired' : record.status,
    }))
    .filter((view) => options.all === true || view.state === 'pending')
    .sort((a, b) => a.requestedAt.localeCompare(b.requestedAt));
}

export async function readApprovals(home: string): Promise<ApprovalsFile> {
  const path = approvalsFile(home);
  const read = await readStateFile<ApprovalsFile>(path, 'approvals');
  if (read.state === 'missing') return {version: 1, approvals: []};
  if (read.state === 'invalid') throw damaged(path, read.message);
  return read.value;
}

async function update<T>(home: string, now: Date, change: (file: ApprovalsFile) => T | Promise<T>): Promise<T> {
  await mkdir(home, {recursive: true, mode: 0o700});
  const path = approvalsFile(home);
  return withFileLock(`${path}.lock`, async () => {
    const file = await readApprovals(home);
    const before = JSON.stringify(file);
    const result = await change(file);
    file.approvals = file.approvals.filter((record) => Date.parse(record.expiresAt) + KEEP_AFTER_EXPIRY_MS > now.getTime());
    const after = JSON.stringify(file);
    if (after !== before) await writeFileAtomic(path, `${JSON.stringify(file, null, 2)}\n`, {mode: 0o600});
    return result;
  });
}

function uniqueId(file: ApprovalsFile): string {
  for (;;) {
    const id = newApprovalId();
    if (!file.approvals.some((record) => record.id === id)) return id;
  }
}

function damaged(path: string, message: string): ThothError {
  return new ThothError('APPROVALS_INVALID', message, {
    exitCode: ExitCode.INVALID_INPUT,
    suggestions: [`Inspect ${path}; removing it discards every pending approval and grant.`],
  });
}
