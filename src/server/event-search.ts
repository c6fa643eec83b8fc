import {toOcsf} from '../audit/ocsf.js';
import type {AuditEvent} from '../audit/events.js';
import type {Queryable} from './store/database.js';

/** Searching the shipped events, and exporting them as JSON Lines or OCSF (as `thoth audit export`). */
export interface EventQuery {
  tenant?: string | undefined;
  endpoint?: string | undefined;
  type?: string | undefined;
  tool?: string | undefined;
  agent?: string | undefined;
  decision?: string | undefined;
  /** Anywhere in the event (case-insensitive). */
  text?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
  limit?: number | undefined;
}

export interface ShippedEventView {
  tenant: string;
  endpointId: string;
  chain: string;
  seq: number;
  receivedAt: string;
  event: AuditEvent;
}

export async function searchEvents(db: Queryable, query: EventQuery): Promise<ShippedEventView[]> {
  const conditions: string[] = [];
  const params: unknown[] = [];
  const add = (sql: (n: number) => string, value: unknown) => conditions.push(sql(params.push(value)));
  if (query.tenant) add((n) => `t.name = $${n}`, query.tenant);
  if (query.endpoint) add((n) => `a.endpoint_id = $${n}`, query.endpoint);
  if (query.type) add((n) => `a.type = $${n}`, query.type);
  if (query.tool) add((n) => `a.event->>'toolName' = $${n}`, query.tool);
  if (query.agent) add((n) => `a.event->>'agentId' = $${n}`, query.agent);
  if (query.decision) add((n) => `a.event->>'decision' = $${n}`, query.decision);
  if (query.since) add((n) => `a.occurred_at >= $${n}::timestamptz`, query.since);
  if (query.until) add((n) => `a.occurred_at < $${n}::timestamptz`, query.until);
  if (query.text) add((n) => `a.event::text ilike $${n}`, `%${query.text.replace(/[\\%_]/g, (char) => `\\${char}`)}%`);
  const limit = Math.min(Math.max(query.limit ?? 200, 1), 10_000);
  const rows = await db.query<{tenant: string; endpoint_id: string; chain: string; seq: number; received_at: Date; event: AuditEvent}>(
    `select t.name as tenant, a.endpoint_id, a.chain, a.seq, a.received_at, a.event from audit_events a join tenants t on t.id = a.tenant_id
     ${conditions.length ? `where ${conditions.join(' and ')}` : ''} order by a.occurred_at desc, a.event_id desc limit ${limit}`,
    params,
  );
  return rows.map((row) => ({
    tenant: row.tenant,
    endpointId: row.endpoint_id,
    chain: row.chain,
    seq: row.seq,
    receivedAt: row.received_at.toISOString(),
    event: row.event,
  }));
}

export function exportLines(events: readonly ShippedEventView[], format: 'jsonl' | 'ocsf', productVersion: string): string {
  return events
    .map((view) =>
      JSON.stringify(
        format === 'ocsf'
          ? toOcsf({event: view.event, chain: view.chain, seq: view.seq, file: `endpoint:${view.endpointId}`}, {productVersion})
          : view.event,
      ),
    )
    .map((line) => `${line}\n`)
    .join('');
}
