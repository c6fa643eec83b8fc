import {terminalSafe} from '../util/terminal-text.js';
import {ADAPTERS} from './clients/index.js';
import {shellWord} from '../core/shell-word.js';
import type {ClientId} from './clients/types.js';
import type {ChangeResult} from './engine.js';
import type {ServerStatus, StatusReport} from './status.js';

/**
 * Human output. The status format is a stable API: one line per server, starting with
 * `✓` when governed, `✗` when not, `!` for drift and servers thoth cannot govern, `-` for servers
 * that do not count (disabled in the client; remote ones when THOTH_ALLOW_REMOTE_SERVERS allows
 * them). Server names, paths and problems come from config files any local program can edit:
 * each is escaped for the terminal (src/util/terminal-text.ts).
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
    for (const server of client.servers) lines.push(`  ${serverLine(server, report.remoteServersAllowed)}`);
  }
  const missing = report.clients.filter((c) => !c.found && !c.error).map((c) => ADAPTERS[c.client].label);
  if (missing.length > 0) lines.push(`Not found: ${[...new Set(missing)].join(', ')}`);
  const {governed, notGoverned, drift, ungovernable, remote, disabled} = report.counts;
  if (governed + notGoverned + drift + ungovernable === 0 && report.allGoverned) {
    lines.push('No MCP servers found: nothing to govern');
    return lines;
  }
  const other = ungovernable - remote - disabled;
  const parts = [
    `${governed} governed`,
    `${notGoverned} not governed`,
    `${drift} drift`,
    ...(remote > 0 ? [`${remote} remote${report.remoteServersAllowed ? ' (allowed)' : ''}`] : []),
    ...(disabled > 0 ? [`${disabled} disabled`] : []),
    ...(other > 0 ? [`${other} ungovernable`] : []),
  ];
  lines.push(`${parts.join(', ')}: ${report.allGoverned ? 'all governed' : 'NOT all governed'}`);
  if (remote > 0 && !report.remoteServersAllowed) {
    lines.push(
      'Remote (url) servers count against this: thoth cannot sit in front of them. To accept them, pass --allow-remote-servers or set THOTH_ALLOW_REMOTE_SERVERS=true (a fleet: in managed preferences).',
    );
  }
  return lines;
}

export function symbolFor(server: ServerStatus, remoteServersAllowed = false): string {
  if (server.state === 'governed') return '✓';
  if (server.state === 'not-governed') return '✗';
  if (server.disabled || (server.remote && remoteServersAllowed)) return '-';
  return '!';
}

const MODE_SOURCES: Record<string, string> = {
  default: 'by default',
  policy: 'from the policy',
  'policy-locked': 'locked by the policy',
  flag: 'from --enforcement-mode',
  env: 'from THOTH_ENFORCEMENT_MODE',
  settings: 'from the settings',
  managed: 'from managed preferences',
};

/** `mode block from the policy, tenant acme, intent phi_eligibility_check`. */
function describeSettings(server: ServerStatus): string {
  const mode = server.mode === undefined ? [] : [`mode ${terminalSafe(server.mode)} ${MODE_SOURCES[server.modeSource ?? ''] ?? ''}`.trim()];
  const tenant = server.tenant === undefined ? 'no tenant' : `tenant ${terminalSafe(server.tenant)}`;
  return [...mode, tenant, ...(server.intent ? [`intent ${terminalSafe(server.intent)}`] : [])].join(', ');
}

function serverLine(server: ServerStatus, remoteServersAllowed: boolean): string {
  const name = terminalSafe(server.scope?.startsWith('local:') ? `${server.server} [${server.scope}]` : server.server);
  const symbol = symbolFor(server, remoteServersAllowed);
  const problems = server.problems.map(terminalSafe).join('; ');
  if (server.state === 'governed') {
    const notes = server.problems.length > 0 ? `; note: ${problems}` : '';
    return `${symbol} ${name}  governed (${describeSettings(server)})${notes}`;
  }
  if (server.disabled) return `${symbol} ${name}  disabled in the client (not started; wrap-config leaves it as is)`;
  if (server.remote) return `${symbol} ${name}  remote${remoteServersAllowed ? ', allowed' : ''}: ${problems}`;
  const state = server.state === 'not-governed' ? 'not governed' : server.state;
  return `${symbol} ${name}  ${state}: ${problems}`;
}

/** `- old command line`, `+ new command line`, `env: +NAME ~NAME -NAME`: a changed entry, for people (the patch is in --json). */
function entryDiffLines(server: ChangeResult['files'][number]['servers'][number]): string[] {
  const lines: string[] = [];
  const show = (words: readonly string[]): string => terminalSafe(words.map(shellWord).join(' '));
  if (server.commandBefore !== undefined && server.commandAfter !== undefined) {
    if (server.commandBefore !== null) lines.push(`      - ${show(server.commandBefore)}`);
    if (server.commandAfter !== null) lines.push(`      + ${show(server.commandAfter)}`);
  }
  if (server.envChanges !== undefined && server.envChanges.length > 0)
    lines.push(`      env: ${server.envChanges.map(terminalSafe).join(' ')}`);
  return lines;
}

/** What to do after a config changed, so that the client starts its servers as the file now says. */
const RESTART: Record<ClientId, string> = {
  'claude-desktop': 'quit and restart Claude Desktop',
  'claude-code': 'start a new Claude Code session (running ones keep their servers)',
  cursor: 'restart Cursor',
  vscode: 'reload the VS Code window (Developer: Reload Window)',
  windsurf: 'restart Windsurf',
};

export function nextSteps(result: ChangeResult): string[] {
  const written = result.files.filter((file) => file.written);
  if (result.dryRun || written.length === 0) return [];
  const restarts = [...new Set(written.map((file) => RESTART[file.client]))];
  const how = result.action === 'wrap' ? 'starts its servers through thoth' : 'starts its servers directly again';
  return [`Next: ${restarts.join('; ')}, so that it ${how}.`, ...(result.action === 'wrap' ? ['Then check with: thoth status'] : [])];
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
    const verbs = file.servers.map((server) =>
      result.dryRun && server.action !== 'unchanged' && server.action !== 'skipped'
        ? `would be ${VERBS[server.action]}`
        : VERBS[server.action],
    );
    const width = Math.max(10, ...verbs.map((verb) => verb.length));
    file.servers.forEach((server, index) => {
      const where = server.scope?.startsWith('local:') ? ` [${terminalSafe(server.scope)}]` : '';
      lines.push(
        `  ${verbs[index]!.padEnd(width)} ${terminalSafe(server.server)}${where}${server.reason ? ` (${terminalSafe(server.reason)})` : ''}`,
      );
      // --dry-run: what the entry's command line becomes, and which env variables change (names only).
      if (result.dryRun) lines.push(...entryDiffLines(server));
    });
    if (result.dryRun) lines.push(file.changed ? '  would change this file; nothing written (--dry-run)' : '  nothing to change');
    else if (file.written) lines.push(`  written${file.backup ? `; backup: ${terminalSafe(file.backup)}` : ''}`);
    else lines.push('  nothing to change');
  }
  return lines;
}
