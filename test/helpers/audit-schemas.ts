import {existsSync} from 'node:fs';
import {join} from 'node:path';

import {EventIdGenerator} from '../../src/audit/event-id.js';
import {genericEvent, type AuditEvent} from '../../src/audit/events.js';
import {readEvents} from '../../src/audit/reader.js';
import type {DecisionContext} from '../../src/core/decision.js';
import {loadValidator} from '../../src/util/validators.js';
import {REPO_ROOT} from './cli.js';

/** `PIN_RECORDED` → `pin-recorded`, when schemas/audit/events/ has that file; `generic` otherwise. */
export function eventSchemaName(type: string): string {
  const name = type.toLowerCase().replaceAll('_', '-');
  return existsSync(join(REPO_ROOT, 'schemas', 'audit', 'events', `${name}.schema.json`)) ? name : 'generic';
}

/** One line per event that does not validate against its type's schema: type, eventId, what failed. */
export async function invalidEvents(events: readonly AuditEvent[]): Promise<string[]> {
  const problems: string[] = [];
  for (const event of events) {
    const schema = eventSchemaName(event.type);
    const validate = await loadValidator(`audit/events/${schema}`);
    if (validate(event)) continue;
    const errors = (validate.errors ?? []).map(
      (error) => `${error.instancePath || '/'} ${error.message ?? error.keyword} ${JSON.stringify(error.params)}`,
    );
    problems.push(`${event.type} ${event.eventId} (${schema}.schema.json): ${errors.join('; ')}`);
  }
  return problems;
}

/**
 * Every event of the trail in `auditDir` checked against its type's JSON Schema (the documented
 * contract SIEMs and the control plane rely on). Throws on an empty trail: `[]` must mean
 * "validated", never "nothing was written".
 */
export async function invalidAuditEvents(auditDir: string): Promise<string[]> {
  const events = (await readEvents(auditDir)).map((stored) => stored.event);
  if (events.length === 0) throw new Error(`the audit trail in ${auditDir} has no events to validate`);
  return invalidEvents(events);
}

const ids = new EventIdGenerator();

/** The event the audit sink writes for what an emitter hands it (unit tests catch emitters without a trail). */
export function recordedEvent(type: string, context: DecisionContext, fields: Record<string, unknown>): AuditEvent {
  return genericEvent(type, context, fields, ids.next(), Date.now());
}
