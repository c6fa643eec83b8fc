import {terminalSafe} from '../util/terminal-text.js';
import type {AuditEvent} from './events.js';
import type {StoredEvent} from './reader.js';
import type {VerifyReport} from './verify.js';

/**
 * One readable line per event: time, type, agent, tool, decision or outcome, rule, reason. Every
 * field is escaped for the terminal: tool names come from servers, reasons quote them, and the
 * files are the user's (an agent can append a well-formed but unauthenticated line that `show`
 * prints before `verify` complains).
 */
export function formatEventLine(stored: StoredEvent): string {
  const event: AuditEvent = stored.event;
  const tool = typeof event['toolName'] === 'string' ? event['toolName'] : '-';
  const verdict =
    typeof event['outcome'] === 'string' ? `${String(event['decision'] ?? '')}→${event['outcome']}` : String(event['decision'] ?? '');
  const rule = typeof event['ruleId'] === 'string' ? event['ruleId'] : '';
  const reason = typeof event['reason'] === 'string' ? JSON.stringify(shorten(event['reason'], 100)) : '';
  const duration = typeof event['durationMs'] === 'number' ? `${event['durationMs']}ms` : '';
  return [
    String(event.timestamp),
    String(event.type).padEnd(16),
    String(event.agentId),
    tool,
    verdict,
    rule,
    duration,
    reason,
    `session=${String(event.sessionId)}`,
  ]
    .filter((part) => part !== '')
    .map(terminalSafe)
    .join('  ');
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
