import {setTimeout as sleep} from 'node:timers/promises';

import {redactValue} from '../audit/redact.js';
import {GRANT_DOMAIN, type SignedGrant} from '../control-plane/signed-records.js';
import type {EnforceRequest, HoldWaitResponse, RemoteApproval} from '../control-plane/contract.js';
import type {Decision} from '../core/decision.js';
import {notify, type Database, type Queryable} from './store/database.js';
import {HttpError} from './http.js';
import {hashSecret, newId, newSecret, sameHash} from './secrets.js';
import type {ServerSigningKey} from './signing.js';

/**
 * Held (step-up) calls: an approval row per call the enforcer stepped up, decided by an approver
 * in the web app or the admin API, waited on by the endpoint through the hold-wait long poll. The
 * row is the state; a NOTIFY on `thoth_approval` wakes the waiters of every instance at once (a
 * slower poll backs it up), so a hold opened through one instance can be approved through another.
 */
export const APPROVAL_CHANNEL = 'thoth_approval';
/** How much of the (redacted) arguments an approval keeps to show, as in the audit trail's bound. */
const MAX_SHOWN_ARGUMENT_BYTES = 64 * 1024;
const BACKSTOP_POLL_MS = 2000;

export interface ApprovalView {
  id: string;
  tenant: string;
  state: 'pending' | 'approved' | 'denied' | 'expired';
  endpointId: string;
  userId: string | null;
  agentId: string;
  sessionId: string;
  tool: string;
  /** Redacted as in the audit trail; `{"[truncated]": n}` beyond 64 KiB. */
  arguments: unknown;
  argumentsSha256: string;
  intent: string | null;
  mode: string;
  client: {name?: string; version?: string} | null;
  ruleId: string;
  reason: string;
  policyVersion: string | null;
  createdAt: string;
  expiresAt: string;
  decidedBy: string | null;
  decidedAt: string | null;
  comment: string | null;
  usedAt: string | null;
}

interface ApprovalRow {
  id: string;
  tenant: string;
  tenant_id: string;
  state: ApprovalView['state'];
  endpoint_id: string;
  user_id: string | null;
  agent_id: string;
  session_id: string;
  tool: string;
  arguments: unknown;
  arguments_sha256: string;
  intent: string | null;
  mode: string;
  client: ApprovalView['client'];
  rule_id: string;
  reason: string;
  policy_version: string | null;
  hold_token_hash: string;
  created_at: Date;
  expires_at: Date;
  decided_by: string | null;
  decided_at: Date | null;
  comment: string | null;
  grant_record: SignedGrant | null;
  used_at: Date | null;
}

const SELECT = `select a.*, t.name as tenant from approvals a join tenants t on t.id = a.tenant_id`;

export function viewOf(row: ApprovalRow): ApprovalView {
  return {
    id: row.id,
    tenant: row.tenant,
    state: row.state,
    endpointId: row.endpoint_id,
    userId: row.user_id,
    agentId: row.agent_id,
    sessionId: row.session_id,
    tool: row.tool,
    arguments: row.arguments,
    argumentsSha256: row.arguments_sha256,
    intent: row.intent,
    mode: row.mode,
    client: row.client,
    ruleId: row.rule_id,
    reason: row.reason,
    policyVersion: row.policy_version,
    createdAt: row.created_at.toISOString(),
    expiresAt: row.expires_at.toISOString(),
    decidedBy: row.decided_by,
    decidedAt: row.decided_at?.toISOString() ?? null,
    comment: row.comment,
    usedAt: row.used_at?.toISOString() ?? null,
  };
}

/** Arguments as an approver sees them: redacted as in the audit trail, bounded. */
export function shownArguments(value: unknown): unknown {
  const redacted = redactValue(value).value;
  const text = JSON.stringify(redacted) ?? 'null';
  if (Buffer.byteLength(text) <= MAX_SHOWN_ARGUMENT_BYTES) return redacted;
  return {
    '[truncated]': `${Buffer.byteLength(text)} bytes; the first ${MAX_SHOWN_ARGUMENT_BYTES} are: ${text.slice(0, MAX_SHOWN_ARGUMENT_BYTES)}`,
  };
}

export interface HoldInput {
  tenantId: string;
  request: EnforceRequest;
  decision: Decision;
  policyVersion: string | null;
  ttlMs: number;
  publicUrl: string;
}

/** Opens (or, for a retried request, reopens) the hold of one stepped-up call. */
export async function openHold(db: Queryable, input: HoldInput): Promise<RemoteApproval & {holdToken: string; expiresAt: string}> {
  const {request} = input;
  const holdToken = newSecret('hold');
  const rows = await db.query<{id: string; expires_at: Date}>(
    `insert into approvals (id, tenant_id, request_id, endpoint_id, user_id, agent_id, session_id, tool, arguments, arguments_sha256,
       intent, mode, client, rule_id, reason, policy_version, hold_token_hash, state, expires_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12, $13::jsonb, $14, $15, $16, $17, 'pending', now() + make_interval(secs => $18))
     on conflict (tenant_id, request_id) do update set hold_token_hash = excluded.hold_token_hash
     returning id, expires_at`,
    [
      newId('apr'),
      input.tenantId,
      request.requestId,
      request.endpointId,
      request.userId,
      request.agentId,
      request.sessionId,
      request.tool,
      JSON.stringify(shownArguments(request.arguments)),
      request.argumentsSha256,
      request.intent,
      request.mode,
      request.client === null ? null : JSON.stringify(request.client),
      input.decision.ruleId.slice(0, 256),
      input.decision.reason.slice(0, 2000),
      input.policyVersion,
      hashSecret(holdToken),
      Math.max(1, Math.round(input.ttlMs / 1000)),
    ],
  );
  const row = rows[0]!;
  await notify(db, APPROVAL_CHANNEL, row.id);
  return {id: row.id, url: `${input.publicUrl}/approvals/${row.id}`, holdToken, expiresAt: row.expires_at.toISOString()};
}

/**
 * An approved call retried after its hold ran out (the endpoint answered -32002 and the model
 * tried again): the approval of this endpoint, agent, tool and exact arguments, not yet used or
 * expired, is spent on it.
 */
export async function spendApproval(
  db: Queryable,
  tenantId: string,
  request: EnforceRequest,
): Promise<{id: string; decidedBy: string | null; grant: SignedGrant | null} | undefined> {
  const rows = await db.query<{id: string; decided_by: string | null; grant_record: SignedGrant | null}>(
    `update approvals set used_at = now() where id = (
       select id from approvals where tenant_id = $1 and endpoint_id = $2 and agent_id = $3 and tool = $4 and arguments_sha256 = $5
         and state = 'approved' and used_at is null and expires_at > now() order by decided_at limit 1 for update skip locked)
     returning id, decided_by, grant_record`,
    [tenantId, request.endpointId, request.agentId, request.tool, request.argumentsSha256],
  );
  const row = rows[0];
  return row ? {id: row.id, decidedBy: row.decided_by, grant: row.grant_record} : undefined;
}

export interface DecideInput {
  decision: 'approved' | 'denied';
  by: string;
  comment?: string | undefined;
}

/** Decides a pending approval (once: a second decision is a CONFLICT); the grant is signed. */
export async function decideApproval(db: Database, key: ServerSigningKey, id: string, input: DecideInput): Promise<ApprovalView> {
  const view = await db.transaction(async (tx) => {
    const rows = await tx.query<ApprovalRow>(`${SELECT} where a.id = $1 for update of a`, [id]);
    const row = rows[0];
    if (!row) throw new HttpError('NOT_FOUND', `no approval ${id}`);
    if (row.state === 'pending' && row.expires_at.getTime() <= Date.now()) {
      await tx.query(`update approvals set state = 'expired' where id = $1`, [id]);
      throw new HttpError('CONFLICT', `approval ${id} expired at ${row.expires_at.toISOString()}`);
    }
    if (row.state !== 'pending') throw new HttpError('CONFLICT', `approval ${id} is ${row.state} already`);
    const decidedAt = new Date();
    const grant: SignedGrant = key.sign(GRANT_DOMAIN, {
      approvalId: row.id,
      decision: input.decision,
      tenantId: row.tenant,
      endpointId: row.endpoint_id,
      agentId: row.agent_id,
      tool: row.tool,
      argumentsSha256: row.arguments_sha256,
      decidedBy: input.by,
      decidedAt: decidedAt.toISOString(),
      expiresAt: row.expires_at.toISOString(),
    });
    const updated = await tx.query<ApprovalRow>(
      `update approvals set state = $2, decided_by = $3, decided_at = $4, comment = $5, grant_record = $6::jsonb where id = $1
       returning *, (select name from tenants where id = tenant_id) as tenant`,
      [id, input.decision, input.by, decidedAt, input.comment ?? null, JSON.stringify(grant)],
    );
    return viewOf(updated[0]!);
  });
  await notify(db, APPROVAL_CHANNEL, id);
  return view;
}

export async function getApproval(db: Queryable, id: string): Promise<ApprovalView> {
  const rows = await db.query<ApprovalRow>(`${SELECT} where a.id = $1`, [id]);
  if (rows.length === 0) throw new HttpError('NOT_FOUND', `no approval ${id}`);
  return viewOf(rows[0]!);
}

export interface ApprovalQuery {
  state?: ApprovalView['state'] | undefined;
  tenant?: string | undefined;
  /** Matches tool, agent, endpoint, user, rule, reason, decider or comment (case-insensitive). */
  text?: string | undefined;
  limit?: number | undefined;
}

export async function listApprovals(db: Queryable, query: ApprovalQuery): Promise<ApprovalView[]> {
  await db.query(`update approvals set state = 'expired' where state = 'pending' and expires_at <= now()`);
  const conditions: string[] = [];
  const params: unknown[] = [];
  if (query.state) conditions.push(`a.state = $${params.push(query.state)}`);
  if (query.tenant) conditions.push(`t.name = $${params.push(query.tenant)}`);
  if (query.text) {
    const like = `%${query.text.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
    const n = params.push(like);
    conditions.push(
      `(a.tool ilike $${n} or a.agent_id ilike $${n} or a.endpoint_id ilike $${n} or coalesce(a.user_id, '') ilike $${n} or a.rule_id ilike $${n}
        or a.reason ilike $${n} or coalesce(a.decided_by, '') ilike $${n} or coalesce(a.comment, '') ilike $${n} or a.id = $${params.push(query.text)})`,
    );
  }
  const limit = Math.min(Math.max(query.limit ?? 100, 1), 1000);
  const rows = await db.query<ApprovalRow>(
    `${SELECT}${conditions.length ? ` where ${conditions.join(' and ')}` : ''} order by a.created_at desc limit ${limit}`,
    params,
  );
  return rows.map(viewOf);
}

/**
 * Wakes the waiters of this instance when an approval changes, from one LISTEN on the database
 * (started at the first wait).
 */
export class ApprovalWaiters {
  private readonly waiters = new Map<string, Set<() => void>>();
  private listening: Promise<() => Promise<void>> | undefined;

  constructor(private readonly db: Database) {}

  async wait(id: string, ms: number, signal?: AbortSignal): Promise<void> {
    this.listening ??= this.db.listen(APPROVAL_CHANNEL, (payload) => this.wake(payload));
    await this.listening;
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    let set = this.waiters.get(id);
    if (!set) this.waiters.set(id, (set = new Set()));
    set.add(wake);
    const stop = new AbortController();
    signal?.addEventListener('abort', () => stop.abort(), {once: true});
    try {
      await Promise.race([woken, sleep(ms, undefined, {signal: stop.signal}).catch(() => undefined)]);
    } finally {
      stop.abort();
      set.delete(wake);
      if (set.size === 0) this.waiters.delete(id);
    }
  }

  /** Every approval change (the web app's live queue listens too). */
  onChange(listener: (id: string) => void): () => void {
    this.listening ??= this.db.listen(APPROVAL_CHANNEL, (payload) => this.wake(payload));
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private readonly listeners = new Set<(id: string) => void>();

  private wake(id: string): void {
    for (const wake of this.waiters.get(id) ?? []) wake();
    for (const listener of this.listeners) listener(id);
  }

  async close(): Promise<void> {
    const stop = await this.listening?.catch(() => undefined);
    await stop?.();
  }
}

/** The hold-wait long poll: answers at the decision, at expiry, or after `waitMs` with pending. */
export async function waitForHold(
  db: Queryable,
  waiters: ApprovalWaiters,
  tenantId: string,
  body: {holdToken: string; approvalId: string; waitMs: number},
  signal?: AbortSignal,
): Promise<HoldWaitResponse & {grant?: SignedGrant}> {
  const deadline = Date.now() + body.waitMs;
  for (;;) {
    const rows = await db.query<ApprovalRow>(`${SELECT} where a.id = $1 and a.tenant_id = $2`, [body.approvalId, tenantId]);
    const row = rows[0];
    // The same answer for an unknown approval and a wrong token: neither is confirmed to exist.
    if (!row || !sameHash(row.hold_token_hash, hashSecret(body.holdToken))) throw new HttpError('NOT_FOUND', 'no such hold');
    let state = row.state;
    if (state === 'pending' && row.expires_at.getTime() <= Date.now()) {
      await db.query(`update approvals set state = 'expired' where id = $1 and state = 'pending'`, [row.id]);
      state = 'expired';
    }
    const remaining = Math.min(deadline, row.expires_at.getTime()) - Date.now();
    if (state !== 'pending' || remaining <= 0 || signal?.aborted) {
      const answer: HoldWaitResponse & {grant?: SignedGrant} = {approvalId: row.id, state};
      if (row.decided_by !== null && state !== 'pending') answer.decidedBy = row.decided_by.slice(0, 320);
      if (row.decided_at !== null && state !== 'pending') answer.decidedAt = row.decided_at.toISOString();
      if (row.comment !== null && state !== 'pending') answer.note = row.comment.slice(0, 2000);
      if (row.grant_record !== null && (state === 'approved' || state === 'denied')) answer.grant = row.grant_record;
      return answer;
    }
    await waiters.wait(row.id, Math.min(remaining, BACKSTOP_POLL_MS), signal);
  }
}
