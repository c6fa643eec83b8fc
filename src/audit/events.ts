import {clientOf, toolCallCountOf, type ClientInfo, type Decision, type DecisionContext} from '../core/decision.js';
import type {CallOutcome, PostCallRecord, PreCallRecord} from '../governance/types.js';
import type {ContentFields} from './content.js';
import {stringifyJson} from '../core/json-rpc.js';
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
  'POLICY_LOAD_FAILED',
  'TOOLS_HIDDEN',
  'APPROVAL_REQUESTED',
  'APPROVAL_GRANTED',
  'APPROVAL_DENIED',
  'APPROVAL_USED',
  // Written when a retry finds the approval lapsed; one nobody retries shows only in `thoth approvals list --all`.
  'APPROVAL_EXPIRED',
  // A grant in approvals.json without its sealed APPROVAL_GRANTED: ignored (usually a forgery attempt).
  'APPROVAL_UNVERIFIED',
  'PIN_RECORDED',
  'PIN_CHANGED',
  'PIN_ACCEPTED',
  // A message refused before it reached the other side (keys that fold together, nesting too deep).
  'MESSAGE_REFUSED',
  // thoth run started with a flag or variable that tried to change a setting managed preferences set (settings/resolve.ts).
  'SETTING_OVERRIDE_REFUSED',
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
  /** `agent_tool_call` for TOOL_CALL_*, `thoth_proxy` for the others. */
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
  event['sessionToolCallCount'] = toolCallCountOf(context);
  const client = clientSummary(clientOf(context));
  if (client) event['client'] = client;
}

/** What the client said about itself, without its capabilities; undefined when it said nothing. */
function clientSummary(client: ClientInfo | undefined): Record<string, string> | undefined {
  if (!client || (client.name === undefined && client.version === undefined && client.protocolVersion === undefined)) return undefined;
  const out: Record<string, string> = {};
  if (client.name !== undefined) out['name'] = client.name;
  if (client.version !== undefined) out['version'] = client.version;
  if (client.protocolVersion !== undefined) out['protocolVersion'] = client.protocolVersion;
  return out;
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
export function genericEvent(
  type: string,
  context: DecisionContext,
  fields: Record<string, unknown>,
  eventId: string,
  timeMs: number,
): AuditEvent {
  const redacted = redactValue(fields);
  const event = commonFields(type, context, eventId, timeMs);
  const common = new Set(Object.keys(event));
  for (const [key, value] of Object.entries(redacted.value as Record<string, unknown>)) {
    if (!common.has(key) && value !== undefined) event[key] = value;
  }
  if (redacted.largeNumbers) withLargeNumbers.add(event);
  return event;
}

/** What TOOL_CALL_POST takes from the session when the call ends (its content may come later). */
export interface PostSnapshot {
  eventId: string;
  timeMs: number;
  /** `,"agentId":...` through endpointId. */
  context: string;
  session: SessionMembers;
}

/** `,"sessionToolCalls":[...]` (kept from call to call), the count, and `,"client":{...}` if known (else ''). */
interface SessionMembers {
  window: string;
  count: number;
  client: string;
}

interface DecisionEntry {
  decision: Decision['decision'];
  reason: string;
  ruleId: string;
  observed: Decision['observed'];
  trace: readonly string[] | undefined;
  json: string;
}

/**
 * An event as JSON text: one string, or consecutive parts written one after the other.
 * TOOL_CALL_PRE/POST are parts: the long members kept from call to call (the decision, the recent
 * tool names) are then copied once, into the write buffer, rather than into a new string for
 * every event as well (what a young generation of fixed size pays for in garbage collections).
 */
export type EncodedEvent = string | readonly string[];

/**
 * Small caches, emptied when full: a policy has few distinct decisions and trace steps, but a
 * reason or a step can name a counter (progressive mode), and entries that live long enough to
 * survive a garbage collection cost more than recomputing them.
 */
const DECISIONS_KEPT = 32;
const TRACE_STEPS_KEPT = 32;
/** PRE → POST: the calls in flight (an entry is dropped when its POST is written). */
const DECISIONS_IN_FLIGHT_KEPT = 4096;

function keep<K, V>(cache: Map<K, V>, key: K, value: V, limit: number): void {
  if (cache.size >= limit) cache.clear();
  cache.set(key, value);
}

/** No details, and every member a string: the members addDecision writes can be cached by value. */
function isPlainDecision(decision: Decision): boolean {
  if (
    decision.details !== undefined ||
    typeof decision.decision !== 'string' ||
    typeof decision.reason !== 'string' ||
    typeof decision.ruleId !== 'string'
  )
    return false;
  if (decision.observed !== undefined && typeof decision.observed !== 'string') return false;
  if (decision.trace === undefined) return true;
  if (!Array.isArray(decision.trace)) return false;
  for (const step of decision.trace) if (typeof step !== 'string') return false;
  return true;
}

function sameDecision(entry: DecisionEntry, decision: Decision): boolean {
  return (
    entry.decision === decision.decision &&
    entry.reason === decision.reason &&
    entry.ruleId === decision.ruleId &&
    entry.observed === decision.observed &&
    sameTrace(entry.trace, decision.trace)
  );
}

/**
 * Writes TOOL_CALL_PRE and TOOL_CALL_POST as JSON text with one template per event, instead of
 * building the event object and stringifying all of it for every call: the members that rarely
 * change between calls (the session's context, the decision, the recent tool names, the client)
 * are kept serialised and reused while they stay the same. The text is exactly
 * `serialiseEvent(preCallEvent(...))` / `serialiseEvent(postCallEvent(...))` (tests compare the
 * two on many inputs): same members, same order, same redaction.
 */
export class EventEncoder {
  private timeMs = Number.NaN;
  private time = '';
  /** Matches no key (they have seven items): the first event computes the context members. */
  private contextKey: readonly unknown[] = [];
  private contextJson = '';
  private windowKey: readonly string[] | undefined;
  private windowJson = '';
  /** Matches no key (they have four items): the first event computes the client members. */
  private clientKey: readonly unknown[] = [];
  private clientJson = '';
  private lastToolName: string | undefined;
  private lastToolNameJson = '';
  private readonly decisionsByReason = new Map<string, DecisionEntry>();
  private readonly decisionsInFlight = new Map<Decision, DecisionEntry>();
  private readonly traceSteps = new Map<string, string>();

  /** `eventId` comes from EventIdGenerator (hex digits and dashes: nothing to escape). */
  pre(record: PreCallRecord, content: ContentFields, eventId: string, timeMs: number): EncodedEvent {
    const context = record.context;
    this.session(context);
    // Flat strings only: the sealer copies each into the write buffer; concatenating them first
    // would build a string per event just to copy it once more.
    const parts = [
      '{"eventId":"',
      eventId,
      '","type":"TOOL_CALL_PRE","timestamp":',
      this.timestamp(timeMs),
      ',"sourceType":"agent_tool_call"',
      this.context(context),
      ',"toolName":',
      this.toolNameJson(record.call.name),
      ',"requestId":',
      JSON.stringify(record.requestId),
      this.decision(record.decision, 'pre'),
      this.windowJson,
      ',"sessionToolCallCount":',
      String(toolCallCountOf(context)),
      this.clientJson,
      ',',
    ];
    pushContentMembers(parts, content);
    parts.push('}');
    return parts;
  }

  /**
   * What TOOL_CALL_POST takes when the call ends (the session's tool list keeps growing meanwhile);
   * `eventId` comes from EventIdGenerator.
   */
  snapshot(context: DecisionContext, eventId: string, timeMs: number): PostSnapshot {
    this.session(context);
    return {
      eventId,
      timeMs,
      context: this.context(context),
      session: {window: this.windowJson, count: toolCallCountOf(context), client: this.clientJson},
    };
  }

  post(record: PostCallRecord, content: ContentFields | undefined, at: PostSnapshot): EncodedEvent {
    const outcome = record.outcome;
    const error = outcomeError(outcome);
    const parts = [
      '{"eventId":"',
      at.eventId,
      '","type":"TOOL_CALL_POST","timestamp":',
      this.timestamp(at.timeMs),
      ',"sourceType":"agent_tool_call"',
      at.context,
      ',"toolName":',
      this.toolNameJson(record.call.name),
      ',"requestId":',
      JSON.stringify(record.requestId),
      ',"preEventId":',
      JSON.stringify(record.preEventId),
      this.decision(record.decision, 'post'),
      ',"outcome":"',
      outcome.kind,
      '","durationMs":',
      String(Math.max(0, Math.round(record.durationMs))),
      at.session.window,
      ',"sessionToolCallCount":',
      String(at.session.count),
      at.session.client,
    ];
    if (error) parts.push(member('error', error));
    if (outcome.kind === 'result' && outcome.isError !== undefined) parts.push(outcome.isError ? ',"isError":true' : ',"isError":false');
    if (content) {
      parts.push(',');
      pushContentMembers(parts, content);
    }
    parts.push('}');
    return parts;
  }

  /** The tool name as JSON: the same few names from call to call. */
  private toolNameJson(name: string): string {
    if (name !== this.lastToolName) {
      this.lastToolNameJson = JSON.stringify(name);
      this.lastToolName = name;
    }
    return this.lastToolNameJson;
  }

  private timestamp(timeMs: number): string {
    if (timeMs !== this.timeMs) {
      this.time = JSON.stringify(new Date(timeMs).toISOString());
      this.timeMs = timeMs;
    }
    return this.time;
  }

  /** agentId through endpointId, as commonFields has them (stringify leaves out undefined ones). */
  private context(context: DecisionContext): string {
    const key = [
      context.agentId,
      context.sessionId,
      context.mode,
      context.intent,
      context.tenantId,
      context.userId,
      context.endpointId,
    ] as const;
    if (!sameItems(this.contextKey, key)) {
      this.contextJson = members({
        agentId: key[0],
        sessionId: key[1],
        mode: key[2],
        intent: key[3],
        tenantId: key[4],
        userId: key[5],
        endpointId: key[6],
      });
      this.contextKey = key;
    }
    return this.contextJson;
  }

  /**
   * decision through details, as addDecision has them. The PRE and the POST of a call share their
   * Decision object; across calls a decision is found by its reason (enforcers build a new object
   * per call), and every other member must match too. Decisions with details (objects the caller
   * could change) are serialised each time.
   */
  private decision(decision: Decision, phase: 'pre' | 'post'): string {
    if (!isPlainDecision(decision)) {
      const fields = {} as AuditEvent;
      addDecision(fields, decision);
      return withLargeNumbers.has(fields) ? membersOf(stringifyJson(fields)) : members(fields);
    }
    // The POST of a call comes with the Decision object of its PRE.
    const pending = this.decisionsInFlight.get(decision);
    if (pending !== undefined) {
      if (phase === 'post') this.decisionsInFlight.delete(decision);
      if (sameDecision(pending, decision)) return pending.json;
    }
    let entry = this.decisionsByReason.get(decision.reason);
    if (!entry || !sameDecision(entry, decision)) {
      entry = {
        decision: decision.decision,
        reason: decision.reason,
        ruleId: decision.ruleId,
        observed: decision.observed,
        trace: decision.trace === undefined ? undefined : [...decision.trace],
        json: this.plainDecisionJson(decision),
      };
      keep(this.decisionsByReason, decision.reason, entry, DECISIONS_KEPT);
    }
    if (phase === 'pre') keep(this.decisionsInFlight, decision, entry, DECISIONS_IN_FLIGHT_KEPT);
    return entry.json;
  }

  /** What JSON.stringify writes for addDecision's members when all of them are strings. */
  private plainDecisionJson(decision: Decision): string {
    let json = `,"decision":${JSON.stringify(decision.decision)},"reason":${JSON.stringify(redactText(decision.reason).value)},"ruleId":${JSON.stringify(decision.ruleId)}`;
    if (decision.observed !== undefined) json += `,"observed":${JSON.stringify(decision.observed)}`;
    if (decision.trace !== undefined) {
      json += ',"trace":[';
      for (let i = 0; i < decision.trace.length; i++) json += `${i > 0 ? ',' : ''}${this.traceStep(decision.trace[i]!)}`;
      json += ']';
    }
    return json;
  }

  /** A trace step, redacted and quoted: most steps are the same from call to call. */
  private traceStep(step: string): string {
    let json = this.traceSteps.get(step);
    if (json === undefined) {
      json = JSON.stringify(redactText(step).value);
      keep(this.traceSteps, step, json, TRACE_STEPS_KEPT);
    }
    return json;
  }

  /** Brings windowJson (sessionToolCalls) and clientJson up to date, as addSession has them. */
  private session(context: DecisionContext): void {
    const calls = context.sessionToolCalls;
    const kept = Math.min(calls.length, SESSION_TOOL_CALLS_KEPT);
    if (!this.windowKey || !sameTail(this.windowKey, calls, kept)) {
      const window = calls.slice(calls.length - kept);
      this.windowJson = `,"sessionToolCalls":${JSON.stringify(window)}`;
      this.windowKey = window;
    }
    const client = clientOf(context);
    if (
      this.clientKey[0] !== client ||
      this.clientKey[1] !== client?.name ||
      this.clientKey[2] !== client?.version ||
      this.clientKey[3] !== client?.protocolVersion
    ) {
      const summary = clientSummary(client);
      this.clientJson = summary === undefined ? '' : `,"client":${JSON.stringify(summary)}`;
      this.clientKey = [client, client?.name, client?.version, client?.protocolVersion];
    }
  }
}

/** The content members in the order ContentFields declares them (`Object.assign` kept that order). */
function pushContentMembers(parts: string[], content: ContentFields): void {
  // Only `content` needs escaping: the others are integers, a hex digest, a literal and a boolean.
  parts.push(
    '"content":',
    JSON.stringify(content.content),
    ',"contentBytes":',
    String(content.contentBytes),
    ',"contentSha256":"',
    content.contentSha256,
    '","contentHashOf":"',
    content.contentHashOf,
    '","contentTruncated":',
    content.contentTruncated ? 'true' : 'false',
    ',"redactions":',
    String(content.redactions),
  );
}

/** `,"name":<value>`, or nothing for an undefined value (JSON.stringify leaves such a member out). */
function member(name: string, value: unknown): string {
  const json = JSON.stringify(value) as string | undefined;
  return json === undefined ? '' : `,"${name}":${json}`;
}

function sameItems(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameTrace(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return sameItems(a, b);
}

/** True when `window` equals the last `kept` names of `calls`. */
function sameTail(window: readonly string[], calls: readonly string[], kept: number): boolean {
  if (window.length !== kept) return false;
  const offset = calls.length - kept;
  for (let i = 0; i < kept; i++) if (window[i] !== calls[offset + i]) return false;
  return true;
}

/** `,"a":1,"b":2` for `{a: 1, b: 2}` (empty for an object without members). */
function members(value: object): string {
  return membersOf(JSON.stringify(value));
}

function membersOf(objectJson: string): string {
  return objectJson.length > 2 ? `,${objectJson.slice(1, -1)}` : '';
}
