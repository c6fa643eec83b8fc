import {terminalSafe} from '../util/terminal-text.js';
import type {HealthReport} from './health.js';

/** Values a Jamf Smart Group (or any script) can match with `--field`. */
export const HEALTH_FIELDS = [
  'status',
  'governed',
  'version',
  'meets-min-version',
  'endpoint-id',
  'identity-source',
  'tenant',
  'fleet',
  'env',
  'enrollment-source',
  'governed-count',
  'not-governed-count',
  'drift-count',
  'ungovernable-count',
  'drift',
  'override-attempts',
  'policy',
  'audit',
  'heartbeat',
  'last-heartbeat',
  'reasons',
] as const;

export type HealthField = (typeof HEALTH_FIELDS)[number];

function tri(value: boolean | null): string {
  return value === null ? 'unknown' : value ? 'true' : 'false';
}

/** `YYYY-MM-DD hh:mm:ss` (UTC): the Date format of Jamf extension attributes. */
export function jamfDate(iso: string | null): string {
  if (iso === null) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  return date.toISOString().replace('T', ' ').slice(0, 19);
}

export function healthField(report: HealthReport, field: HealthField): string {
  const totals = report.governance.totals;
  const count = (key: 'governed' | 'notGoverned' | 'drift' | 'ungovernable') => (totals === null ? '' : String(totals[key]));
  switch (field) {
    case 'status':
      return report.status;
    case 'governed':
      return tri(report.governance.allGoverned);
    case 'version':
      return report.version.current;
    case 'meets-min-version':
      return report.version.meetsMinimum === null ? 'no-minimum' : tri(report.version.meetsMinimum);
    case 'endpoint-id':
      return report.identity.endpointId;
    case 'identity-source':
      return report.identity.source;
    case 'tenant':
      return report.tenant.tenantId ?? '';
    case 'fleet':
      return report.tenant.fleetId ?? '';
    case 'env':
      return report.tenant.env;
    case 'enrollment-source':
      return report.tenant.enrollmentSource;
    case 'governed-count':
      return count('governed');
    case 'not-governed-count':
      return count('notGoverned');
    case 'drift-count':
      return count('drift');
    case 'ungovernable-count':
      return count('ungovernable');
    case 'drift':
      return (report.governance.drifted ?? []).map((entry) => `${entry.client}/${entry.server}: ${entry.problems.join(', ')}`).join('; ');
    case 'override-attempts':
      return String(report.overrides.attempts.length);
    case 'policy':
      return report.policy.state;
    case 'audit':
      return report.audit.state;
    case 'heartbeat':
      return report.heartbeat.state;
    case 'last-heartbeat':
      return jamfDate(report.heartbeat.lastHeartbeatAt);
    case 'reasons':
      return report.reasons.join('; ');
  }
}

/**
 * Exactly one `<result>…</result>` line: Jamf stores the text between the tags. Angle brackets
 * and line breaks in the value would break that, so they are replaced.
 */
export function jamfExtensionAttribute(value: string): string {
  // Jamf shows the value in its web console: no control or bidi character gets there either.
  const clean = terminalSafe(value.replace(/[\r\n]+/g, ' ')).replace(/[<>]/g, '_');
  return `<result>${clean}</result>`;
}

/**
 * Intune detection: detected only when thoth runs (it does: this is thoth), meets the minimum
 * version, and every server is governed. Intune reads "detected" as exit 0 AND something on stdout.
 */
export function intuneDetection(report: HealthReport): {detected: boolean; line: string} {
  const versionOk = report.version.meetsMinimum !== false;
  const governed = report.governance.allGoverned === true;
  const servers = report.governance.totals?.governed ?? 0;
  return {
    detected: versionOk && governed,
    line: `thoth ${report.version.current} detected: ${servers} server${servers === 1 ? '' : 's'} governed`,
  };
}

/**
 * The human view of `thoth health`. Ids, paths, summaries and reasons quote the environment,
 * managed preferences, config files and error messages: each value is escaped for the terminal.
 */
export function renderHealthText(report: HealthReport): string {
  const s = (value: string | null | undefined, fallback = '-') => terminalSafe(value ?? fallback);
  const lines: string[] = [];
  const minimum =
    report.version.minimum === null
      ? 'no minimum set'
      : `minimum ${s(report.version.minimum)}: ${report.version.meetsMinimum ? 'ok' : 'TOO OLD'}`;
  lines.push(`status      ${report.status}`);
  lines.push(`version     ${s(report.version.current)} (${minimum})`);
  lines.push(`endpoint    ${s(report.identity.endpointId)} (${s(report.identity.source)}: ${s(report.identity.detail)})`);
  const {tenant} = report;
  lines.push(
    `tenant      ${s(tenant.tenantId)}  fleet ${s(tenant.fleetId)}  env ${s(tenant.env)}  enrollment ${s(tenant.enrollmentSource)}`,
  );
  lines.push(`governance  ${report.governance.state}: ${s(report.governance.summary)}`);
  for (const client of report.governance.clients) {
    if (!client.found) continue;
    lines.push(
      `  ${s(client.client).padEnd(15)} ${client.governed} governed, ${client.notGoverned} not governed, ${client.drift} drift${client.ungovernable > 0 ? `, ${client.ungovernable} ungovernable` : ''}${client.error ? ` (${s(client.error)})` : ''}`,
    );
    for (const entry of (report.governance.drifted ?? []).filter((drifted) => drifted.client === client.client)) {
      lines.push(`    ! ${s(entry.server)}: ${entry.problems.map((problem) => s(problem)).join('; ')}`);
    }
  }
  lines.push(`policy      ${report.policy.state}: ${s(report.policy.summary)}`);
  lines.push(`audit       ${report.audit.state}: ${s(report.audit.summary)}`);
  const last = report.heartbeat.lastHeartbeatAt === null ? '' : ` (last ${s(report.heartbeat.lastHeartbeatAt)})`;
  lines.push(`heartbeat   ${report.heartbeat.state}: ${s(report.heartbeat.summary)}${last}`);
  lines.push(`overrides   ${report.overrides.state}: ${s(report.overrides.summary)}`);
  if (report.reasons.length > 0) {
    lines.push('reasons:');
    for (const reason of report.reasons) lines.push(`  - ${s(reason)}`);
  }
  return `${lines.join('\n')}\n`;
}
