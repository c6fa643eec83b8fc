import type {AuditEvent} from './events.js';
import type {StoredEvent} from './reader.js';
import type {VerifyReport} from './verify.js';

/** One readable line per event: time, type, agent, tool, decision or outcome, rule, reason. */
export function formatEventLine(stored: StoredEvent): string {
  const event: AuditEvent = stored.event;
  const tool = typeof event['toolName'] === 'string' ? event['toolName'] : '-';
  const verdict = typeof event['outcome'] === 'string' ? `${String(event['decision'] ?? '')}→${event['outcome']}` : String(event['decision'] ?? '');
  const rule = typeof event['ruleId'] === 'string' ? event['ruleId'] : '';
  const reason = typeof event['reason'] === 'string' ? JSON.stringify(shorten(event['reason'], 100)) : '';
  const duration = typeof event['durationMs'] === 'number' ? `${event['durationMs']}ms` : '';
  return [event.timestamp, event.type.padEnd(16), event.agentId, tool, verdict, rule, duration, reason, `session=${event.sessionId}`]
    .filter((part) => part !== '')
    .join('  ');
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export function formatVerifyReport(report: VerifyReport): string {
  const lines: string[] = [];
  const verdict = {intact: '✓ intact', 'torn-tail': '! crash artefacts (not tampering)', tampered: '✗ TAMPERED'}[report.status];
  lines.push(`${verdict}: ${report.path}`);
  lines.push(`  ${report.chains} chain(s), ${report.files} file(s), ${report.records} record(s), ${report.events} event(s); key ${report.keyId}`);
  for (const problem of report.problems) {
    const where = problem.line === undefined ? problem.file : `${problem.file}:${problem.line}`;
    lines.push(`  ${problem.kind === 'tampered' || problem.kind === 'unapproved' ? '✗' : '!'} ${where}: ${problem.message}`);
  }
  for (const note of report.notes) lines.push(`  · ${note}`);
  return lines.join('\n');
}
