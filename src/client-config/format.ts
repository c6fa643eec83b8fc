import {terminalSafe} from '../util/terminal-text.js';
import {ADAPTERS} from './clients/index.js';
import type {ChangeResult} from './engine.js';
import type {ServerStatus, StatusReport} from './status.js';

/**
 * Human output. The status format is a stable API: one line per server, starting with
 * `✓` when governed, `✗` when not, `!` for drift and servers thoth cannot govern, `-` for servers
 * disabled in the client. Server names, paths and problems come from config files any local
 * program can edit: each is escaped for the terminal (src/util/terminal-text.ts).
 */
export function formatStatus(report: StatusReport): string[] {
  const lines: string[] = [];
  for (const client of report.clients) {
    const label = ADAPTERS[client.client].label;
    if (!client.found) {
      if (!client.error) continue;
    }
    lines.push(`${label} (${terminalSafe(client.scope)}): ${terminalSafe(client.file)}`);
    if (client.error) {
      lines.push(`  ! cannot read: ${terminalSafe(client.error)}`);
      continue;
    }
    if (client.servers.length === 0) lines.push('  (no MCP servers)');
    for (const server of client.servers) lines.push(`  ${serverLine(server)}`);
  }
  const missing = report.clients.filter((c) => !c.found && !c.error).map((c) => ADAPTERS[c.client].label);
  if (missing.length > 0) lines.push(`Not found: ${[...new Set(missing)].join(', ')}`);
  const {governed, notGoverned, drift, ungovernable} = report.counts;
  if (governed + notGoverned + drift + ungovernable === 0 && report.allGoverned) {
    lines.push('No MCP servers found: nothing to govern');
    return lines;
  }
  lines.push(
    `${governed} governed, ${notGoverned} not governed, ${drift} drift, ${ungovernable} ungovernable: ${report.allGoverned ? 'all governed' : 'NOT all governed'}`,
  );
  return lines;
}

export function symbolFor(server: ServerStatus): string {
  if (server.state === 'governed') return '✓';
  if (server.state === 'not-governed') return '✗';
  if (server.disabled) return '-';
  return '!';
}

function serverLine(server: ServerStatus): string {
  const name = terminalSafe(server.scope?.startsWith('local:') ? `${server.server} [${server.scope}]` : server.server);
  const symbol = symbolFor(server);
  const problems = server.problems.map(terminalSafe).join('; ');
  if (server.state === 'governed') {
    const settings = [
      `mode ${terminalSafe(server.mode ?? 'default')}`,
      ...(server.intent ? [`intent ${terminalSafe(server.intent)}`] : []),
    ].join(', ');
    const notes = server.problems.length > 0 ? `; note: ${problems}` : '';
    return `${symbol} ${name}  governed (${settings})${notes}`;
  }
  if (server.disabled) return `${symbol} ${name}  disabled in the client (not started; wrap-config leaves it as is)`;
  const state = server.state === 'not-governed' ? 'not governed' : server.state;
  return `${symbol} ${name}  ${state}: ${problems}`;
}

const VERBS = {wrapped: 'wrapped', rewrapped: 'updated', unchanged: 'unchanged', skipped: 'skipped', unwrapped: 'unwrapped'} as const;

export function formatChange(result: ChangeResult): string[] {
  const lines: string[] = [];
  for (const file of result.files) {
    lines.push(
      `${ADAPTERS[file.client].label}: ${terminalSafe(file.file)}${file.output !== file.file ? ` → ${terminalSafe(file.output)}` : ''}`,
    );
    if (file.error) {
      lines.push(`  error: ${terminalSafe(file.error.message)}`);
      continue;
    }
    if (file.servers.length === 0) lines.push('  (no MCP servers)');
    for (const server of file.servers) {
      const verb =
        result.dryRun && server.action !== 'unchanged' && server.action !== 'skipped'
          ? `would be ${VERBS[server.action]}`
          : VERBS[server.action];
      const where = server.scope?.startsWith('local:') ? ` [${terminalSafe(server.scope)}]` : '';
      lines.push(`  ${verb.padEnd(10)} ${terminalSafe(server.server)}${where}${server.reason ? ` (${terminalSafe(server.reason)})` : ''}`);
    }
    if (result.dryRun) lines.push(file.changed ? '  would change this file; nothing written (--dry-run)' : '  nothing to change');
    else if (file.written) lines.push(`  written${file.backup ? `; backup: ${terminalSafe(file.backup)}` : ''}`);
    else lines.push('  nothing to change');
  }
  return lines;
}
