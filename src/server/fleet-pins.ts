import {PIN_DECISION_DOMAIN, type SignedPinDecision} from '../control-plane/signed-records.js';
import type {Database, Queryable} from './store/database.js';
import {HttpError} from './http.js';
import {newId} from './secrets.js';
import type {ServerSigningKey} from './signing.js';

/**
 * Fleet pins: a tool definition that changed on an endpoint (its PIN_CHANGED event, shipped with
 * both definitions) becomes one review per tenant, tool and change (from one definition hash to
 * another), however many endpoints saw it. An admin reads the diff once and approves or rejects
 * it; the signed decision goes to every endpoint with its next check-in, and their sessions
 * accept (or keep refusing) that exact change without asking their users.
 */
export interface PinReview {
  id: string;
  tenant: string;
  tool: string;
  fromSha256: string;
  toSha256: string;
  fromDefinition: unknown;
  toDefinition: unknown;
  agentIds: string[];
  endpoints: string[];
  firstSeenAt: string;
  state: 'pending' | 'approved' | 'rejected';
  decidedBy: string | null;
  decidedAt: string | null;
  comment: string | null;
}

interface ReviewRow {
  id: string;
  tenant: string;
  tool: string;
  from_sha256: string;
  to_sha256: string;
  from_definition: unknown;
  to_definition: unknown;
  agent_ids: string[];
  endpoints: string[];
  first_seen_at: Date;
  state: PinReview['state'];
  decided_by: string | null;
  decided_at: Date | null;
  comment: string | null;
}

const HASH = /^[0-9a-f]{64}$/;
const MAX_LISTED = 200;

export async function notePinChanges(
  db: Queryable,
  tenantId: string,
  endpointId: string,
  events: ReadonlyArray<Record<string, unknown>>,
): Promise<void> {
  for (const event of events) {
    const tool = event['toolName'];
    const from = event['previousSha256'];
    const to = event['pinSha256'];
    if (typeof tool !== 'string' || typeof from !== 'string' || typeof to !== 'string' || !HASH.test(from) || !HASH.test(to)) continue;
    const agent = typeof event['agentId'] === 'string' ? event['agentId'] : undefined;
    await db.query(
      `insert into pin_reviews (id, tenant_id, tool, from_sha256, to_sha256, from_definition, to_definition, agent_ids, endpoints, state)
       values ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8::jsonb, $9::jsonb, 'pending')
       on conflict (tenant_id, tool, from_sha256, to_sha256) do update set
         from_definition = coalesce(pin_reviews.from_definition, excluded.from_definition),
         to_definition = coalesce(pin_reviews.to_definition, excluded.to_definition),
         agent_ids = case when pin_reviews.agent_ids @> excluded.agent_ids or jsonb_array_length(pin_reviews.agent_ids) >= ${MAX_LISTED}
           then pin_reviews.agent_ids else pin_reviews.agent_ids || excluded.agent_ids end,
         endpoints = case when pin_reviews.endpoints @> excluded.endpoints or jsonb_array_length(pin_reviews.endpoints) >= ${MAX_LISTED}
           then pin_reviews.endpoints else pin_reviews.endpoints || excluded.endpoints end`,
      [
        newId('pin'),
        tenantId,
        tool,
        from,
        to,
        definitionOf(event['previousDefinition']),
        definitionOf(event['definition']),
        JSON.stringify(agent === undefined ? [] : [agent]),
        JSON.stringify([endpointId]),
      ],
    );
  }
}

function definitionOf(value: unknown): string | null {
  return value !== null && typeof value === 'object' ? JSON.stringify(value) : null;
}

export async function listPinReviews(db: Queryable, state?: PinReview['state']): Promise<PinReview[]> {
  const rows = await db.query<ReviewRow>(
    `select r.*, t.name as tenant from pin_reviews r join tenants t on t.id = r.tenant_id
     ${state ? 'where r.state = $1' : ''} order by r.first_seen_at desc limit 500`,
    state ? [state] : [],
  );
  return rows.map(viewOf);
}

export async function decidePinReview(
  db: Database,
  key: ServerSigningKey,
  id: string,
  input: {decision: 'approved' | 'rejected'; by: string; comment?: string | undefined},
): Promise<PinReview> {
  return db.transaction(async (tx) => {
    const rows = await tx.query<ReviewRow>(
      'select r.*, t.name as tenant from pin_reviews r join tenants t on t.id = r.tenant_id where r.id = $1 for update of r',
      [id],
    );
    const row = rows[0];
    if (!row) throw new HttpError('NOT_FOUND', `no pin review ${id}`);
    if (row.state !== 'pending') throw new HttpError('CONFLICT', `pin review ${id} is ${row.state} already`);
    const decidedAt = new Date().toISOString();
    const record: SignedPinDecision = key.sign(PIN_DECISION_DOMAIN, {
      reviewId: row.id,
      tenantId: row.tenant,
      tool: row.tool,
      fromSha256: row.from_sha256,
      toSha256: row.to_sha256,
      decision: input.decision,
      decidedBy: input.by,
      decidedAt,
    });
    const updated = await tx.query<ReviewRow>(
      `update pin_reviews set state = $2, decided_by = $3, decided_at = $4, comment = $5, decision_record = $6::jsonb where id = $1
       returning *, (select name from tenants where id = tenant_id) as tenant`,
      [id, input.decision, input.by, decidedAt, input.comment ?? null, JSON.stringify(record)],
    );
    return viewOf(updated[0]!);
  });
}

/** The signed decisions an endpoint of the tenant receives with its check-in. */
export async function pinDecisionsFor(db: Queryable, tenantId: string): Promise<SignedPinDecision[]> {
  const rows = await db.query<{decision_record: SignedPinDecision}>(
    `select decision_record from pin_reviews where tenant_id = $1 and decision_record is not null order by decided_at desc limit 500`,
    [tenantId],
  );
  return rows.map((row) => row.decision_record);
}

function viewOf(row: ReviewRow): PinReview {
  return {
    id: row.id,
    tenant: row.tenant,
    tool: row.tool,
    fromSha256: row.from_sha256,
    toSha256: row.to_sha256,
    fromDefinition: row.from_definition,
    toDefinition: row.to_definition,
    agentIds: row.agent_ids,
    endpoints: row.endpoints,
    firstSeenAt: row.first_seen_at.toISOString(),
    state: row.state,
    decidedBy: row.decided_by,
    decidedAt: row.decided_at === null ? null : new Date(row.decided_at).toISOString(),
    comment: row.comment,
  };
}
