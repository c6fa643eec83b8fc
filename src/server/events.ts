import type {EventBatchRequest, EventBatchResponse} from '../control-plane/contract.js';
import {genesisHash} from '../audit/record.js';
import type {ServerContext} from './context.js';
import type {Database, Queryable} from './store/database.js';
import {notePinChanges} from './fleet-pins.js';
import type {Tenant} from './tenants.js';

/**
 * Shipped audit events: stored once per eventId (a batch sent again after a lost acknowledgement
 * is acknowledged as duplicates), then anchored: each record's `prev`/`hash` (and those of the
 * control records between them) extend what the server holds of that chain, and anything that
 * does not fit is a violation shown on the endpoint:
 * - `gap`: records missing between the anchored head and a new record (or before the first one);
 * - `genesis`: a chain's first record does not start from the chain's genesis hash;
 * - `resealed`: a new record does not link to the anchored head, or a record already anchored
 *   comes again with another hash and another history before it (the chain was re-sealed);
 * - `rollback`: a record already anchored comes again with another hash but the same history
 *   before it (the log went back to an older head and was written on from there);
 * - `after-close`: a record after the chain's closing seal;
 * - `foreign-chain`: another endpoint ships a chain this one anchored.
 * Events without `prev`/`hash` (an older thoth) are stored but not anchored.
 */
export type ViolationKind = 'gap' | 'genesis' | 'resealed' | 'rollback' | 'after-close' | 'foreign-chain';

interface LinkRecord {
  chain: string;
  seq: number;
  prev: string;
  hash: string;
  closed?: boolean;
}

interface Violation {
  chain: string;
  seq: number | null;
  kind: ViolationKind;
  detail: string;
}

export async function storeEventBatch(context: ServerContext, tenant: Tenant, body: EventBatchRequest): Promise<EventBatchResponse> {
  const events = body.events as Array<EventBatchRequest['events'][number] & {prev?: string; hash?: string}>;
  const stored = await context.db.query<{event_id: string}>(
    `insert into audit_events (tenant_id, event_id, endpoint_id, chain, seq, type, occurred_at, event)
     select $1, e->'event'->>'eventId', $2, e->>'chain', (e->>'seq')::bigint, e->'event'->>'type', (e->'event'->>'timestamp')::timestamptz, e->'event'
       from jsonb_array_elements($3::jsonb) as e
     on conflict (tenant_id, event_id) do nothing
     returning event_id`,
    [tenant.id, body.endpointId, JSON.stringify(events)],
  );
  const accepted = new Set(stored.map((row) => row.event_id));
  const links: LinkRecord[] = [];
  for (const item of events) {
    if (item.prev !== undefined && item.hash !== undefined)
      links.push({chain: item.chain, seq: item.seq, prev: item.prev, hash: item.hash});
  }
  for (const link of (body as {links?: LinkRecord[]}).links ?? []) links.push(link);
  if (links.length > 0) {
    const violations = await anchor(context.db, tenant.id, body.endpointId, links);
    for (const violation of violations) {
      context.log(
        `server: audit chain ${violation.chain} of endpoint ${body.endpointId} (tenant ${tenant.name}): ${violation.kind}: ${violation.detail}`,
      );
    }
  }
  const pinChanges = events.filter((item) => accepted.has(item.event.eventId) && item.event.type === 'PIN_CHANGED');
  if (pinChanges.length > 0)
    await notePinChanges(
      context.db,
      tenant.id,
      body.endpointId,
      pinChanges.map((item) => item.event),
    );
  return {batchId: body.batchId, received: events.length, accepted: accepted.size, duplicates: events.length - accepted.size, rejected: []};
}

/** Extends the anchored chains with these records; returns (and stores) the violations found. */
export async function anchor(db: Database, tenantId: string, endpointId: string, records: LinkRecord[]): Promise<Violation[]> {
  const byChain = new Map<string, LinkRecord[]>();
  for (const record of records) {
    const list = byChain.get(record.chain) ?? [];
    list.push(record);
    byChain.set(record.chain, list);
  }
  const violations: Violation[] = [];
  const run = async (tx: Queryable): Promise<void> => {
    for (const [chain, list] of byChain) {
      list.sort((a, b) => a.seq - b.seq);
      await tx.query(
        `insert into audit_chains (tenant_id, chain, endpoint_id, first_seq, head_seq, head_hash) values ($1, $2, $3, -1, -1, null)
         on conflict (tenant_id, chain) do nothing`,
        [tenantId, chain, endpointId],
      );
      const state = (
        await tx.query<{endpoint_id: string; first_seq: number; head_seq: number; head_hash: string | null; closed: boolean}>(
          'select endpoint_id, first_seq, head_seq, head_hash, closed from audit_chains where tenant_id = $1 and chain = $2 for update',
          [tenantId, chain],
        )
      )[0]!;
      if (state.endpoint_id !== endpointId) {
        violations.push({chain, seq: null, kind: 'foreign-chain', detail: `chain ${chain} was anchored for endpoint ${state.endpoint_id}`});
        continue;
      }
      const known = new Map<number, {prev: string; hash: string}>();
      const seqs = [...new Set(list.flatMap((record) => [record.seq, record.seq - 1]))].filter((seq) => seq >= 0 && seq <= state.head_seq);
      if (seqs.length > 0) {
        const rows = await tx.query<{seq: number; prev: string; hash: string}>(
          'select seq, prev, hash from audit_links where tenant_id = $1 and chain = $2 and seq = any($3::bigint[])',
          [tenantId, chain, seqs],
        );
        for (const row of rows) known.set(row.seq, {prev: row.prev, hash: row.hash});
      }
      const fresh: LinkRecord[] = [];
      let {head_seq: headSeq, head_hash: headHash, first_seq: firstSeq, closed} = state;
      for (const record of list) {
        if (record.seq <= headSeq) {
          const anchored = known.get(record.seq);
          if (anchored === undefined || anchored.hash === record.hash) continue;
          const before = known.get(record.seq - 1);
          const sameHistory = before !== undefined && before.hash === record.prev;
          violations.push({
            chain,
            seq: record.seq,
            kind: sameHistory ? 'rollback' : 'resealed',
            detail: sameHistory
              ? `record ${record.seq} differs from the one anchored, after the same history: the log went back to an older head (${record.seq - 1}) and was written on`
              : `record ${record.seq} differs from the one anchored, and so does the history before it: the chain was re-sealed`,
          });
          continue;
        }
        if (closed)
          violations.push({chain, seq: record.seq, kind: 'after-close', detail: `record ${record.seq} follows the chain's closing seal`});
        if (headSeq < 0) {
          firstSeq = record.seq;
          if (record.seq > 0)
            violations.push({
              chain,
              seq: record.seq,
              kind: 'gap',
              detail: `the chain starts at record ${record.seq}: records 0 to ${record.seq - 1} never arrived`,
            });
          else if (record.prev !== genesisHash(chain))
            violations.push({chain, seq: 0, kind: 'genesis', detail: 'the first record does not start from the chain genesis hash'});
        } else if (record.seq > headSeq + 1) {
          violations.push({
            chain,
            seq: record.seq,
            kind: 'gap',
            detail: `records ${headSeq + 1} to ${record.seq - 1} are missing before record ${record.seq}`,
          });
        } else if (record.prev !== headHash) {
          violations.push({
            chain,
            seq: record.seq,
            kind: 'resealed',
            detail: `record ${record.seq} does not link to the anchored record ${headSeq}: the history before it was rewritten`,
          });
        }
        headSeq = record.seq;
        headHash = record.hash;
        if (record.closed) closed = true;
        fresh.push(record);
      }
      if (fresh.length > 0) {
        await tx.query(
          `insert into audit_links (tenant_id, chain, seq, prev, hash)
           select $1, $2, (l->>'seq')::bigint, l->>'prev', l->>'hash' from jsonb_array_elements($3::jsonb) as l
           on conflict do nothing`,
          [tenantId, chain, JSON.stringify(fresh.map(({seq, prev, hash}) => ({seq, prev, hash})))],
        );
        await tx.query(
          'update audit_chains set first_seq = $3, head_seq = $4, head_hash = $5, closed = $6, updated_at = now() where tenant_id = $1 and chain = $2',
          [tenantId, chain, firstSeq, headSeq, headHash, closed],
        );
      }
    }
    if (violations.length > 0) {
      await tx.query(
        `insert into audit_violations (tenant_id, endpoint_id, chain, seq, kind, detail)
         select $1, $2, v->>'chain', (v->>'seq')::bigint, v->>'kind', v->>'detail' from jsonb_array_elements($3::jsonb) as v`,
        [tenantId, endpointId, JSON.stringify(violations)],
      );
    }
  };
  await db.transaction(run);
  return violations;
}
