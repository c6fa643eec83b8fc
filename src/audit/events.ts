import type {Decision, DecisionContext} from '../enforcer/types.js';
import type {CallOutcome, PostCallRecord, PreCallRecord} from '../governance/types.js';
import type {ContentFields} from './content.js';
import {stringifyJson} from '../proxy/json-rpc.js';
import {redactText, redactValue} from './redact.js';

/**
 * The events of the audit trail. Each type has a JSON Schema in schemas/audit/events/; the
 * common fields below appear in every event, in this order.
 */
export const AUDIT_EVENT_TYPES = [
  'TOOL_CALL_PRE',
  'TOOL_CALL_POST',
  'SESSION_START',
  'SESSION_END',
  'POLICY_LOADED',
  'APPROVAL_REQUESTED',
  'APPROVAL_GRANTED',
  'APPROVAL_DENIED',
  'APPROVAL_EXPIRED',
  'PIN_RECORDED',
  'PIN_CHANGED',
  'PIN_ACCEPTED',
] as const;
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/** Other event names are accepted too (written with the common fields), if they look like these. */
export const EVENT_TYPE_PATTERN = /^[A-Z][A-Z0-9_]{1,63}$/;

/**
 * At most this many names (the latest) are kept in `sessionToolCalls`; `sessionToolCallCount` has
 * the total. The complete sequence is in the chain itself (every TOOL_CALL_PRE, in order); copying
 * all of it into every event would make a long session's log grow with the square of its calls.
 */
export const SESSION_TOOL_CALLS_KEPT = 32;

export interface CommonEventFields {
  eventId: string;
  type: string;
  timestamp: string;
  /** `agent_tool_call` for TOOL_CALL_* (seed 002), `thoth_proxy` for the others. */
  sourceType: 'agent_tool_call' | 'thoth_proxy';
  agentId: string;
  sessionId: string;
  mode: string;
  intent?: string;
  tenantId?: string;
  userId?: string;
  endpointId?: string;
}

export type AuditEvent = CommonEventFields & Record<string, unknown>;

/**
 * Events that carry integers beyond 2^53 (from decision details or an emitter's fields) and so
 * need stringifyJson; every other event takes the much faster plain JSON.stringify.
 */
const withLargeNumbers = new WeakSet<AuditEvent>();

export function serialiseEvent(event: AuditEvent): string {
  return withLargeNumbers.has(event) ? stringifyJson(event) : JSON.stringify(event);
}

export function commonFields(type: string, context: DecisionContext, eventId: string, timeMs: number): AuditEvent {
  const common: AuditEvent = {
    eventId,
    type,
    timestamp: new Date(timeMs).toISOString(),
    sourceType: type.startsWith('TOOL_CALL_') ? 'agent_tool_call' : 'thoth_proxy',
    agentId: context.agentId,
    sessionId: context.sessionId,
    mode: context.mode,
  };
  if (context.intent !== undefined) common.intent = context.intent;
  if (context.tenantId !== undefined) common.tenantId = context.tenantId;
  if (context.userId !== undefined) common.userId = context.userId;
  if (context.endpointId !== undefined) common.endpointId = context.endpointId;
  return common;
}

function addDecision(event: AuditEvent, decision: Decision): void {
  event['decision'] = decision.decision;
  event['reason'] = redactText(decision.reason).value;
  event['ruleId'] = decision.ruleId;
  if (decision.observed !== undefined) event['observed'] = decision.observed;
  if (decision.trace !== undefined) event['trace'] = decision.trace.map((step) => redactText(step).value);
  if (decision.details !== undefined) {
    const details = redactValue(decision.details);
    event['details'] = details.value;
    if (details.largeNumbers) withLargeNumbers.add(event);
  }
}

function addSession(event: AuditEvent, context: DecisionContext): void {
  const calls = context.sessionToolCalls;
  event['sessionToolCalls'] = calls.length > SESSION_TOOL_CALLS_KEPT ? calls.slice(calls.length - SESSION_TOOL_CALLS_KEPT) : [...calls];
  event['sessionToolCallCount'] = calls.length;
  const client = context.client;
  if (client && (client.name !== undefined || client.version !== undefined || client.protocolVersion !== undefined)) {
    const out: Record<string, string> = {};
    if (client.name !== undefined) out['name'] = client.name;
    if (client.version !== undefined) out['version'] = client.version;
    if (client.protocolVersion !== undefined) out['protocolVersion'] = client.protocolVersion;
    event['client'] = out;
  }
}

export function preCallEvent(record: PreCallRecord, content: ContentFields, eventId: string, timeMs: number): AuditEvent {
  const event: AuditEvent = commonFields('TOOL_CALL_PRE', record.context, eventId, timeMs);
  event['toolName'] = record.call.name;
  event['requestId'] = record.requestId;
  addDecision(event, record.decision);
  addSession(event, record.context);
  return Object.assign(event, content);
}

export function postCallEvent(record: PostCallRecord, content: ContentFields | undefined, eventId: string, timeMs: number): AuditEvent {
  const event: AuditEvent = commonFields('TOOL_CALL_POST', record.context, eventId, timeMs);
  event['toolName'] = record.call.name;
  event['requestId'] = record.requestId;
  event['preEventId'] = record.preEventId;
  addDecision(event, record.decision);
  event['outcome'] = record.outcome.kind;
  event['durationMs'] = Math.max(0, Math.round(record.durationMs));
  addSession(event, record.context);
  const error = outcomeError(record.outcome);
  if (error) event['error'] = error;
  if (record.outcome.kind === 'result' && record.outcome.isError !== undefined) event['isError'] = record.outcome.isError;
  if (content) Object.assign(event, content);
  return event;
}

function outcomeError(outcome: CallOutcome): {code: number; message: string} | undefined {
  if (outcome.kind !== 'error' && outcome.kind !== 'refused') return undefined;
  return {code: outcome.error.code, message: redactText(outcome.error.message).value};
}

/** Any other event: the caller's fields (redacted), then the common fields, which cannot be overridden. */
export function genericEvent(type: string, context: DecisionContext, fields: Record<string, unknown>, eventId: string, timeMs: number): AuditEvent {
  const redacted = redactValue(fields);
  const event = commonFields(type, context, eventId, timeMs);
  const common = new Set(Object.keys(event));
  for (const [key, value] of Object.entries(redacted.value as Record<string, unknown>)) {
    if (!common.has(key) && value !== undefined) event[key] = value;
  }
  if (redacted.largeNumbers) withLargeNumbers.add(event);
  return event;
}
