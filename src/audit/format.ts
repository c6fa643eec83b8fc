import {terminalSafe} from '../util/terminal-text.js';
import type {AuditEvent} from './events.js';
import type {StoredEvent} from './reader.js';
import type {VerifyReport} from './verify.js';

/**
 * `audit show` and `audit tail`: one row per event in aligned columns, so that a person reads
 * down the decisions. Every field is escaped for the terminal: tool names come from servers,
 * reasons quote them, and the files are the user's (an agent can append a well-formed but
 * unauthenticated line that `show` prints before `verify` complains).
 */
export const EVENT_COLUMNS = ['TIME', 'EVENT', 'AGENT', 'TOOL', 'DECISION', 'RULE', 'SESSION', 'DETAIL'] as const;

/**
 * The widest a column is padded to. A longer value is printed whole and shifts the rest of its row:
 * a tool name is what a person judges the call by, and must not be cut (DETAIL, the last, is cut
 * at 100 characters; the whole event is in --json).
 */
const MAX_WIDTH = {TIME: 24, EVENT: 24, AGENT: 24, TOOL: 32, DECISION: 16, RULE: 36, SESSION: 8} as const;

/** Widths for `tail --follow`, which prints each event as it comes and cannot measure them first. */
export const FOLLOW_WIDTHS: readonly number[] = [24, 18, 14, 20, 14, 28, 8];

/** Pin bookkeeping (one PIN_RECORDED per tool a server lists): shown with --pins or --type. */
export const BOOKKEEPING_EVENT_TYPES: readonly string[] = ['PIN_RECORDED'];

/** The cells of one event, escaped, in EVENT_COLUMNS order. */
export function eventCells(event: AuditEvent): string[] {
  const text = (value: unknown): string => (typeof value === 'string' ? value : '');
  const tool = text(event['toolName']) || '-';
  const decision = text(event['decision']);
  const outcome = text(event['outcome']);
  const verdict = outcome !== '' ? `${decision}→${outcome}` : decision || '-';
  const rule = text(event['ruleId']) || '-';
  return [
    text(event.timestamp),
    text(event.type),
    text(event.agentId),
    tool,
    verdict,
    rule,
    shortSessionId(text(event.sessionId)),
    shorten(eventDetail(event), 100),
  ].map(terminalSafe);
}

/**
 * A session id short enough to read and to type back (`--session-id` takes a prefix): the first
 * 8 characters of thoth's UUIDs (random, so 8 hex digits tell sessions apart), other ids whole.
 */
export function shortSessionId(id: string): string {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id) ? id.slice(0, 8) : id;
}

/** What a person needs from an event besides its columns: who approved, why refused, how long. */
export function eventDetail(event: AuditEvent): string {
  const text = (key: string): string | undefined =>
    typeof event[key] === 'string' && event[key] !== '' ? (event[key] as string) : undefined;
  const number = (key: string): number | undefined => (typeof event[key] === 'number' ? (event[key] as number) : undefined);
  const note = text('note') === undefined ? '' : ` (note: ${text('note')})`;
  const approval = text('approvalId') === undefined ? '' : `approval ${text('approvalId')}`;
  const via = (by: string | undefined, verb: string): string => {
    if (by !== undefined) return `${verb} by ${by}`;
    if (text('via') === 'elicitation') return `${verb} in the client's prompt`;
    if (text('via') === 'control-plane') return `${verb} on the control plane`;
    return verb;
  };
  switch (event.type) {
    case 'APPROVAL_GRANTED':
      return [via(text('approvedBy'), 'approved'), approval].filter(Boolean).join(', ') + note;
    case 'APPROVAL_DENIED':
      return [via(text('deniedBy') ?? text('approvedBy'), 'denied'), approval].filter(Boolean).join(', ') + note;
    case 'APPROVAL_USED':
      return [approval, text('approvedBy') === undefined ? '' : `approved by ${text('approvedBy')}`].filter(Boolean).join(', ');
    case 'APPROVAL_REQUESTED':
      return [approval, text('expiresAt') === undefined ? '' : `until ${text('expiresAt')}`].filter(Boolean).join(', ');
    case 'APPROVAL_EXPIRED':
      return [approval, text('status') === undefined ? '' : `${text('status')} lapsed`].filter(Boolean).join(', ');
    case 'APPROVAL_UNVERIFIED':
      return [approval, text('why')].filter(Boolean).join(': ');
    case 'TOOL_CALL_POST': {
      const duration = number('durationMs') === undefined ? '' : `${number('durationMs')}ms`;
      return [duration, event['isError'] === true ? 'the tool reported an error' : ''].filter(Boolean).join(', ');
    }
    case 'SESSION_END':
      return [
        number('durationMs') === undefined ? '' : `${number('durationMs')}ms`,
        number('toolCalls') === undefined ? '' : `${number('toolCalls')} calls`,
      ]
        .filter(Boolean)
        .join(', ');
    case 'POLICY_LOADED':
      return [text('policyVersion'), text('policyFile') ?? text('source')].filter(Boolean).join(' from ');
    case 'POLICY_LOAD_FAILED':
      return text('message') ?? '';
    case 'TOOLS_HIDDEN':
      return Array.isArray(event['tools']) ? `hidden: ${(event['tools'] as unknown[]).map(String).join(', ')}` : '';
    case 'PIN_RECORDED':
    case 'PIN_CHANGED':
    case 'PIN_ACCEPTED':
      return [
        text('pinSha256') === undefined ? '' : `sha256 ${text('pinSha256')!.slice(0, 12)}`,
        text('acceptedBy') ? `accepted by ${text('acceptedBy')}` : '',
      ]
        .filter(Boolean)
        .join(', ');
    case 'SETTING_OVERRIDE_REFUSED':
      return `${text('attempted') ?? '?'} tried to change ${text('setting') ?? '?'} (managed: ${text('managedOrigin') ?? '?'})`;
    case 'MESSAGE_REFUSED':
      return [text('reason'), text('detail')].filter(Boolean).join(': ');
    default:
      return text('reason') ?? '';
  }
}

/** A header and one row per event, each column as wide as its widest value (within MAX_WIDTH). */
export function formatEventTable(events: readonly StoredEvent[]): string[] {
  const rows = events.map((stored) => eventCells(stored.event));
  const caps = Object.values(MAX_WIDTH);
  const widths = caps.map((cap, column) =>
    Math.min(cap, Math.max(EVENT_COLUMNS[column]!.length, ...rows.map((row) => row[column]!.length))),
  );
  return [alignRow([...EVENT_COLUMNS], widths), ...rows.map((row) => alignRow(row, widths))];
}

/** One event as a row of the given widths (tail --follow); the header is formatEventHeader. */
export function formatEventLine(stored: StoredEvent, widths: readonly number[] = FOLLOW_WIDTHS): string {
  return alignRow(eventCells(stored.event), widths);
}

export function formatEventHeader(widths: readonly number[] = FOLLOW_WIDTHS): string {
  return alignRow([...EVENT_COLUMNS], widths);
}

function alignRow(cells: readonly string[], widths: readonly number[]): string {
  return cells
    .map((cell, column) => {
      const width = widths[column];
      return width === undefined ? cell : cell.padEnd(width);
    })
    .join('  ')
    .trimEnd();
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export function formatVerifyReport(report: VerifyReport): string {
  const lines: string[] = [];
  const verdict = {intact: '✓ intact', 'torn-tail': '! crash artefacts (not tampering)', tampered: '✗ TAMPERED'}[report.status];
  lines.push(`${verdict}: ${terminalSafe(report.path)}`);
  lines.push(
    `  ${report.chains} chain(s), ${report.files} file(s), ${report.records} record(s), ${report.events} event(s); key ${terminalSafe(report.keyId)}`,
  );
  // File names and messages may quote what a tampered file holds: one escaped line each.
  for (const problem of report.problems) {
    const where = problem.line === undefined ? problem.file : `${problem.file}:${problem.line}`;
    lines.push(
      `  ${problem.kind === 'tampered' || problem.kind === 'unapproved' ? '✗' : '!'} ${terminalSafe(where)}: ${terminalSafe(problem.message)}`,
    );
  }
  for (const note of report.notes) lines.push(`  · ${terminalSafe(note)}`);
  return lines.join('\n');
}
