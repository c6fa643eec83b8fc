import {describe, expect, it} from 'vitest';

import {changeConfigs} from '../../src/client-config/engine.js';
import {formatStatus} from '../../src/client-config/format.js';
import type {Installation} from '../../src/client-config/drift.js';
import {collectStatus, type ServerStatus, type StatusReport} from '../../src/client-config/status.js';
import {loadValidator} from '../../src/util/validators.js';
import {fixture} from './helpers.js';
import {LINUX, MAC, WINDOWS, machine} from './layout.js';

const CLAUDE = '/Users/jane/Library/Application Support/Claude/claude_desktop_config.json';
const NODE = '/usr/local/bin/node';
const SCRIPT = '/usr/local/lib/node_modules/thoth-mcp/bin/run.js';
/** The thoth installed on the fake machines: the node + bin/run.js wrap-config writes by default. */
const INSTALLED: Installation = {launcher: {command: NODE, prefix: [SCRIPT]}, version: '0.1.0', thothBins: []};

function entry(name: string, args: string[], extra: Record<string, unknown> = {}, command = NODE) {
  return {[name]: {command, args, ...extra}};
}

function byName(report: StatusReport): Record<string, ServerStatus> {
  return Object.fromEntries(report.clients.flatMap((c) => c.servers).map((s) => [s.server, s]));
}

async function macWithThoth() {
  const m = await machine(MAC);
  await m.write(NODE, '#!/bin/sh\n', 0o755);
  await m.write(SCRIPT, '// thoth\n');
  return m;
}

describe('collectStatus', () => {
  it('tells governed, not governed, drift and ungovernable apart, with mode and intent', async () => {
    const m = await macWithThoth();
    const run = (agent: string, ...flags: string[]) => [
      SCRIPT,
      'run',
      '--agent-id',
      agent,
      ...flags,
      '--',
      'npx',
      '-y',
      `@modelcontextprotocol/server-${agent}`,
    ];
    await m.write(
      CLAUDE,
      JSON.stringify({
        mcpServers: {
          ...entry('memory', run('memory', '--enforcement-mode', 'block', '--session-intent', 'notes')),
          ...entry('time', run('time')),
          ...entry('github', ['-y', '@modelcontextprotocol/server-github'], {}, 'npx'),
          ...entry('moved', ['/opt/old-thoth/bin/run.js', 'run', '--agent-id', 'moved', '--', 'npx', 'x']),
          ...entry('renamed', run('old-name')),
          ...entry('other-tenant', run('other-tenant', '--tenant-id', 'globex')),
          ...entry('other-mode', run('other-mode', '--enforcement-mode', 'observe')),
          ...entry('twice', [SCRIPT, 'run', '--agent-id', 'twice', '--', NODE, SCRIPT, 'run', '--agent-id', 'twice', '--', 'npx', 'x']),
          ...entry('future', ['run', '--agent-id', 'future', '--quantum', '--', 'npx', 'x'], {}, '/usr/local/bin/thoth'),
          linear: {url: 'https://mcp.linear.app/sse'},
          ...entry('embedded', run('embedded', '--api-key', 'sk-secret')),
        },
      }),
    );
    await m.write('/Users/jane/.thoth/intent_map.json', '{"time": "calendar_management"}');
    const report = await collectStatus({
      host: m.host,
      client: 'claude-desktop',
      expected: {tenantId: 'acme', enforcementMode: 'block'},
      installation: INSTALLED,
    });
    const s = byName(report);
    expect(s['memory']).toMatchObject({
      state: 'governed',
      mode: 'block',
      intent: 'notes',
      problems: [],
      upstream: 'npx',
      pointer: '/mcpServers/memory',
    });
    expect(s['time']).toMatchObject({
      state: 'governed',
      problems: ['intent_map.json gives intent "calendar_management"; wrap-config writes it'],
    });
    // No --enforcement-mode in the entry: the mode thoth run resolves (here the settings'), never "default".
    expect(s['time']).toMatchObject({mode: 'block', modeSource: 'settings', tenant: 'acme'});
    expect(s['memory']).toMatchObject({modeSource: 'flag', tenant: 'acme'});
    expect(s['time']!.intent).toBeUndefined();
    expect(s['github']).toMatchObject({state: 'not-governed', upstream: 'npx'});
    expect(s['moved']).toMatchObject({state: 'drift', problems: ["/opt/old-thoth/bin/run.js (thoth's entry script) does not exist"]});
    expect(s['renamed']).toMatchObject({state: 'drift', problems: ['--agent-id is "old-name", not the server name']});
    expect(s['other-tenant']).toMatchObject({state: 'drift', problems: ['tenant is "globex", expected "acme"']});
    expect(s['other-mode']).toMatchObject({state: 'drift', problems: ['enforcement mode is "observe", expected "block"']});
    expect(s['twice']).toMatchObject({state: 'drift', problems: ['wrapped 2 times (wrap-config collapses it to one)']});
    expect(s['future']!.state).toBe('drift');
    expect(s['future']!.problems[0]).toMatch(/unknown `thoth run` flag --quantum/);
    expect(s['linear']).toMatchObject({state: 'ungovernable'});
    expect(s['linear']!.problems[0]).toMatch(/Claude Desktop does not start url entries/);
    expect(s['embedded']).toMatchObject({state: 'governed'});
    expect(s['embedded']!.problems[0]).toMatch(/API key is embedded/);
    expect(report.counts).toEqual({governed: 3, notGoverned: 1, drift: 6, ungovernable: 1, remote: 1, disabled: 0});
    expect(report.allGoverned).toBe(false);
    const validate = await loadValidator('status');
    expect(validate(JSON.parse(JSON.stringify(report)))).toBe(true);

    const lines = formatStatus(report);
    expect(lines[0]).toBe(`Claude Desktop (user): ${CLAUDE}`);
    expect(lines).toContain('  ✓ memory  governed (mode block from --enforcement-mode, tenant acme, intent notes)');
    expect(lines).toContain(
      '  ✓ time  governed (mode block from the settings, tenant acme); note: intent_map.json gives intent "calendar_management"; wrap-config writes it',
    );
    expect(lines).toContain('  ✗ github  not governed: the client starts this server directly, without thoth');
    expect(lines.filter((line) => line.startsWith('  !'))).toHaveLength(7);
    expect(lines).toContain(
      '  ! linear  remote: remote server (url): Claude Desktop does not start url entries; bridge it with a stdio command such as `npx mcp-remote <url>` and wrap that',
    );
    expect(lines.slice(-2)).toEqual([
      '3 governed, 1 not governed, 6 drift, 1 remote: NOT all governed',
      'Remote (url) servers count against this: thoth cannot sit in front of them. To accept them, pass --allow-remote-servers or set THOTH_ALLOW_REMOTE_SERVERS=true (a fleet: in managed preferences).',
    ]);
  });

  it("finds Claude Code's managed-mcp.json on Windows where current releases keep it (%ProgramFiles%) and where older ones did (%ProgramData%)", async () => {
    const m = await machine({
      ...WINDOWS,
      env: {...WINDOWS.env, ProgramW6432: 'C:\\Program Files', ProgramFiles: 'C:\\Program Files (x86)', ProgramData: 'C:\\ProgramData'},
    });
    const server = (name: string) => JSON.stringify({mcpServers: {[name]: {command: 'npx.cmd', args: ['-y', name]}}});
    await m.write('C:\\Program Files\\ClaudeCode\\managed-mcp.json', server('current'));
    await m.write('C:\\ProgramData\\ClaudeCode\\managed-mcp.json', server('older'));
    // A 32-bit view of ProgramFiles (the Intune agent's) must not hide the 64-bit folder.
    await m.write('C:\\Program Files (x86)\\ClaudeCode\\managed-mcp.json', server('wrong-folder'));
    const report = await collectStatus({host: m.host, client: 'claude-code', installation: INSTALLED});
    const servers = report.clients
      .filter((client) => client.found)
      .flatMap((client) => client.servers.map((entry) => [client.file, entry.server]));
    expect(servers).toEqual([
      ['C:\\Program Files\\ClaudeCode\\managed-mcp.json', 'current'],
      ['C:\\ProgramData\\ClaudeCode\\managed-mcp.json', 'older'],
    ]);
  });

  it('reports drift when the thoth written as the command is gone, and looks bare names up on PATH (PATHEXT on Windows)', async () => {
    const m = await machine(WINDOWS);
    const config = 'C:\\Users\\jane\\AppData\\Roaming\\Claude\\claude_desktop_config.json';
    const wrapped = (command: string) => ({command, args: ['run', '--agent-id', 'x', '--', 'npx.cmd', 'y']});
    await m.write(config, JSON.stringify({mcpServers: {x: wrapped('thoth')}}));
    // Written with `wrap-config --thoth-bin thoth`: status is told the same (`status --thoth-bin`).
    const installation = {...INSTALLED, thothBins: ['C:\\Windows\\System32\\thoth.exe']};
    const missing = await collectStatus({host: m.host, client: 'claude-desktop', installation});
    expect(byName(missing)['x']).toMatchObject({state: 'drift', problems: ['thoth (written as the thoth command) is not on PATH']});
    await m.write('C:\\Windows\\System32\\thoth.exe', 'MZ');
    const found = await collectStatus({host: m.host, client: 'claude-desktop', installation});
    expect(byName(found)['x']).toMatchObject({state: 'governed', upstream: 'npx.cmd'});
    const undeclared = await collectStatus({host: m.host, client: 'claude-desktop', installation: INSTALLED});
    expect(byName(undeclared)['x']).toMatchObject({
      state: 'drift',
      problems: ['runs thoth, not this installation (/usr/local/bin/node /usr/local/lib/node_modules/thoth-mcp/bin/run.js, thoth 0.1.0)'],
    });
    await m.write(config, JSON.stringify({mcpServers: {x: wrapped('C:\\Program Files\\thoth\\thoth.exe')}}));
    const absent = await collectStatus({host: m.host, client: 'claude-desktop', installation});
    expect(byName(absent)['x']!.problems).toEqual(['C:\\Program Files\\thoth\\thoth.exe (written as the thoth command) does not exist']);
  });

  it('does not count disabled entries against allGoverned, and reports unreadable files as not governed', async () => {
    const m = await machine(LINUX);
    await m.write('/usr/local/bin/thoth', '#!/bin/sh\n', 0o755);
    await m.write(
      '/home/jane/.codeium/windsurf/mcp_config.json',
      JSON.stringify({
        mcpServers: {
          a: {command: '/usr/local/bin/thoth', args: ['run', '--agent-id', 'a', '--', 'npx', 'a']},
          b: {command: 'npx', args: ['b'], disabled: true},
        },
      }),
    );
    const report = await collectStatus({host: m.host, installation: {...INSTALLED, thothBins: ['/usr/local/bin/thoth']}});
    expect(byName(report)['b']).toMatchObject({state: 'ungovernable', disabled: true});
    expect(report.allGoverned).toBe(true);
    expect(formatStatus(report)).toContain('  - b  disabled in the client (not started; wrap-config leaves it as is)');
    expect(report.clients.filter((c) => !c.found).map((c) => c.client)).toEqual(['claude-desktop', 'claude-code', 'cursor', 'vscode']);

    await m.write('/home/jane/.cursor/mcp.json', fixture('claude-desktop/invalid-json.json'));
    const broken = await collectStatus({host: m.host});
    const cursor = broken.clients.find((c) => c.client === 'cursor')!;
    expect(cursor).toMatchObject({found: true, error: '/home/jane/.cursor/mcp.json:5:7 at /mcpServers/filesystem/args: expected ","'});
    expect(broken.allGoverned).toBe(false);
  });

  it('agrees with wrap-config: after wrapping every client, everything that can be governed is', async () => {
    const m = await machine({...MAC, cwd: '/Users/jane/src/webapp'});
    await m.write(CLAUDE, fixture('claude-desktop/macos-basic.json'));
    await m.write('/Users/jane/.claude.json', fixture('claude-code/claude.json'));
    await m.write('/Users/jane/src/webapp/.vscode/mcp.json', fixture('vscode/mcp.json'));
    const launcher = {command: NODE, prefix: [SCRIPT]};
    await m.write(NODE, '', 0o755);
    await m.write(SCRIPT, '');
    const before = await collectStatus({host: m.host});
    expect(before.counts).toEqual({governed: 0, notGoverned: 7, drift: 0, ungovernable: 2, remote: 2, disabled: 0});
    await changeConfigs({
      action: 'wrap',
      host: m.host,
      all: true,
      settings: {launcher, intentMap: {}, env: {}, enforcementMode: 'progressive'},
    });
    const after = await collectStatus({host: m.host, expected: {enforcementMode: 'progressive'}, installation: INSTALLED});
    expect(after.counts).toEqual({governed: 7, notGoverned: 0, drift: 0, ungovernable: 2, remote: 2, disabled: 0});
    expect(byName(after)['postgres']).toMatchObject({
      state: 'governed',
      scope: 'local:/Users/jane/src/webapp',
      pointer: '/projects/~1Users~1jane~1src~1webapp/mcpServers/postgres',
    });
    // Remote servers remain: not everything is governed, and status says so.
    expect(after.allGoverned).toBe(false);
  });

  it('reads the files it is given, inferring their client', async () => {
    const m = await machine(LINUX);
    await m.write('/tmp/x/mcp_config.json', fixture('windsurf/mcp_config.json'));
    const report = await collectStatus({host: m.host, files: ['/tmp/x/mcp_config.json', '/tmp/x/missing.json']});
    expect(report.clients.map((c) => [c.client, c.found, c.servers.length])).toEqual([
      ['windsurf', true, 3],
      ['claude-desktop', false, 0],
    ]);
  });

  it('reports what an agent can do to its own wrapped entry as drift: THOTH_* env, thoth flags, another launcher or version', async () => {
    const m = await macWithThoth();
    const args = (...flags: string[]) => [SCRIPT, 'run', '--agent-id', 'x', ...flags, '--', 'npx', 'server'];
    await m.write(
      '/tmp/x/bin/run.js',
      "require('child_process').spawnSync(process.argv[process.argv.indexOf('--') + 1], {stdio: 'inherit'})\n",
    );
    await m.write('/opt/old-thoth/bin/run.js', '// thoth 0.0.9\n');
    await m.write('/opt/old-thoth/package.json', '{"name": "thoth-mcp", "version": "0.0.9"}');
    await m.write('/usr/bin/npx', '#!/bin/sh\n', 0o755);
    const entries: Record<string, {command: string; args: string[]; env?: Record<string, string>}> = {
      clean: {command: NODE, args: args(), env: {THOTH_USER_ID: 'jane@acme.com', THOTH_WRAP_ORIGINAL: '{"added":["THOTH_USER_ID"]}'}},
      'audit-off': {command: NODE, args: args(), env: {THOTH_AUDIT: 'off'}},
      'own-policy': {command: NODE, args: args('--policy', '/tmp/allow-all.json', '--no-filter-tools')},
      'fake-launcher': {command: NODE, args: ['/tmp/x/bin/run.js', 'run', '--agent-id', 'fake-launcher', '--', 'npx', 'server']},
      'npx-any-version': {command: 'npx', args: ['-y', 'thoth-mcp@9.9.9', 'run', '--agent-id', 'npx-any-version', '--', 'npx', 'server']},
      'old-install': {command: NODE, args: ['/opt/old-thoth/bin/run.js', 'run', '--agent-id', 'old-install', '--', 'npx', 'server']},
      'api-key-env': {command: NODE, args: args(), env: {THOTH_API_KEY: 'sk-live-secret-123'}},
    };
    for (const [name, entry] of Object.entries(entries)) entry.args = entry.args.map((arg) => (arg === 'x' ? name : arg));
    await m.write(CLAUDE, JSON.stringify({mcpServers: entries}));
    const managed = {THOTH_AUDIT: '/Library/Managed Preferences/io.thoth.agent.plist (THOTH_AUDIT)'};
    const report = await collectStatus({host: m.host, client: 'claude-desktop', installation: INSTALLED, managed});
    const s = byName(report);
    const THIS = `not this installation (${NODE} ${SCRIPT}, thoth 0.1.0)`;
    expect(s['clean']).toMatchObject({state: 'governed', problems: []});
    expect(s['audit-off']).toMatchObject({
      state: 'drift',
      problems: ['env THOTH_AUDIT=off was not written by wrap-config (managed preferences set THOTH_AUDIT: thoth run refuses it)'],
      overrides: [{setting: 'THOTH_AUDIT', attempted: {source: 'env', origin: 'THOTH_AUDIT'}, managed: managed.THOTH_AUDIT}],
    });
    expect(s['own-policy']).toMatchObject({
      state: 'drift',
      problems: [
        'flag --policy /tmp/allow-all.json was not written by wrap-config',
        'flag --no-filter-tools was not written by wrap-config',
      ],
    });
    expect(s['own-policy']!.overrides).toBeUndefined();
    expect(s['fake-launcher']).toMatchObject({state: 'drift', problems: [`runs ${NODE} /tmp/x/bin/run.js, ${THIS}`]});
    expect(s['npx-any-version']).toMatchObject({state: 'drift', problems: [`runs npx -y thoth-mcp@9.9.9, ${THIS}`]});
    expect(s['old-install']).toMatchObject({
      state: 'drift',
      problems: [`runs ${NODE} /opt/old-thoth/bin/run.js (thoth 0.0.9 in /opt/old-thoth), ${THIS}`],
    });
    expect(s['api-key-env']).toMatchObject({state: 'drift', problems: ['env THOTH_API_KEY=<hidden> was not written by wrap-config']});
    expect(report.counts).toEqual({governed: 1, notGoverned: 0, drift: 6, ungovernable: 0, remote: 0, disabled: 0});
    expect(report.installation).toEqual({command: NODE, args: [SCRIPT], version: '0.1.0', thothBins: []});
    const validate = await loadValidator('status');
    expect(validate(JSON.parse(JSON.stringify(report))), JSON.stringify(validate.errors)).toBe(true);
    const lines = formatStatus(report);
    expect(lines).toContain(
      '  ! audit-off  drift: env THOTH_AUDIT=off was not written by wrap-config (managed preferences set THOTH_AUDIT: thoth run refuses it)',
    );
    expect(lines.join('\n')).not.toContain('sk-live');
  });
});
