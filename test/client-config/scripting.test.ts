import {mkdir, writeFile} from 'node:fs/promises';
import {join} from 'node:path';

import {describe, expect, it} from 'vitest';

import type {ChangeResult} from '../../src/client-config/engine.js';
import type {StatusReport} from '../../src/client-config/status.js';
import {loadValidator} from '../../src/util/validators.js';
import {parseEnvelope, runThoth} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';
import {fixture} from './helpers.js';

/** A home with Claude Desktop's config (Linux location) and, optionally, Cursor's. */
async function home(options: {claude?: string; cursor?: string} = {}) {
  const dir = await tempDir();
  const claude = join(dir, '.config', 'Claude', 'claude_desktop_config.json');
  await mkdir(join(dir, '.config', 'Claude'), {recursive: true});
  await writeFile(claude, options.claude ?? fixture('claude-desktop/macos-basic.json'));
  const cursor = join(dir, '.cursor', 'mcp.json');
  if (options.cursor !== undefined) {
    await mkdir(join(dir, '.cursor'), {recursive: true});
    await writeFile(cursor, options.cursor);
  }
  const env = {HOME: dir, THOTH_HOME: join(dir, '.thoth'), THOTH_API_KEY: undefined, THOTH_API_KEY_FILE: undefined};
  return {dir, claude, cursor, env};
}

const REMOTE_AND_LOCAL = JSON.stringify(
  {
    mcpServers: {
      linear: {url: 'https://mcp.linear.app/sse'},
      memory: {command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory']},
    },
  },
  null,
  2,
);

describe('thoth status you can script against', () => {
  it('a config FILE (or --client config) that does not exist: exit 4, never "exit 0, all governed"', async () => {
    const h = await home();
    const validate = await loadValidator('envelope');
    const missing = join(h.dir, 'nope.json');
    const human = await runThoth(['status', missing], {env: h.env});
    expect(human.code).toBe(4);
    expect(human.stdout).toBe('');
    expect(human.stderr).toBe(
      `thoth: error: ${missing}: no such file\n  Try this: Check the path, or run without a file to use the installed clients' configs.\n`,
    );
    const json = await runThoth(['status', missing, '--json'], {env: h.env});
    expect(json.code).toBe(4);
    const envelope = parseEnvelope(json.stdout);
    expect(validate(envelope)).toBe(true);
    expect(envelope).toMatchObject({ok: false, status: 4, error: {code: 'CONFIG_NOT_FOUND'}});
    const client = await runThoth(['status', '--client', 'cursor', '--json'], {env: h.env});
    expect(client.code).toBe(4);
    expect(parseEnvelope(client.stdout).error?.message).toBe(`no Cursor config found (looked in ${h.cursor})`);
  });

  it('remote servers are counted apart; they count against "all governed" unless --allow-remote-servers or THOTH_ALLOW_REMOTE_SERVERS allows them', async () => {
    const h = await home({claude: REMOTE_AND_LOCAL});
    expect((await runThoth(['wrap-config'], {env: h.env})).code).toBe(0);
    const counted = await runThoth(['status', '--client', 'claude-desktop'], {env: h.env});
    expect(counted.code).toBe(11);
    expect(counted.stdout).toContain('  ! linear  remote: remote server (url)');
    expect(counted.stdout).toContain(
      '1 governed, 0 not governed, 0 drift, 1 remote: NOT all governed\nRemote (url) servers count against this',
    );

    const allowed = await runThoth(['status', '--client', 'claude-desktop', '--allow-remote-servers', '--json'], {env: h.env});
    expect(allowed.code).toBe(0);
    const report = parseEnvelope<StatusReport>(allowed.stdout).result!;
    expect(await (await loadValidator('status'))(report)).toBe(true);
    expect(report).toMatchObject({
      allGoverned: true,
      remoteServersAllowed: true,
      counts: {governed: 1, notGoverned: 0, drift: 0, ungovernable: 1, remote: 1, disabled: 0},
    });
    expect(report.clients[0]!.servers.find((server) => server.server === 'linear')).toMatchObject({state: 'ungovernable', remote: true});

    // The setting, from the environment or settings.json (a fleet: managed preferences); the flag wins both ways.
    const fromEnv = await runThoth(['status', '--client', 'claude-desktop'], {env: {...h.env, THOTH_ALLOW_REMOTE_SERVERS: 'true'}});
    expect(fromEnv.code).toBe(0);
    expect(fromEnv.stdout).toContain('  - linear  remote, allowed: ');
    expect(fromEnv.stdout).toContain('1 governed, 0 not governed, 0 drift, 1 remote (allowed): all governed');
    await writeFile(join(h.dir, '.thoth', 'settings.json'), '{"THOTH_ALLOW_REMOTE_SERVERS": true}');
    expect((await runThoth(['status', '--client', 'claude-desktop'], {env: h.env})).code).toBe(0);
    expect((await runThoth(['status', '--client', 'claude-desktop', '--no-allow-remote-servers'], {env: h.env})).code).toBe(11);
    // thoth health judges governance the same way.
    const health = parseEnvelope<{governance: {state: string}}>((await runThoth(['health', '--json'], {env: h.env})).stdout);
    expect(health.result?.governance.state).toBe('ok');
  });

  it('shows the tenant and the mode each server resolves to, and where the mode comes from, instead of "mode default"', async () => {
    const h = await home();
    expect((await runThoth(['wrap-config', '--tenant-id', 'acme'], {env: h.env})).code).toBe(0);
    const plain = await runThoth(['status', '--client', 'claude-desktop'], {env: h.env});
    expect(plain.stdout).toContain('  ✓ github  governed (mode progressive by default, tenant acme)');
    expect(plain.stdout).not.toContain('mode default');
    // A policy that sets a server's mode: that is the mode thoth run uses.
    await writeFile(join(h.dir, '.thoth', 'policy.json'), JSON.stringify({agents: {github: {mode: 'block', lock_mode: true}}}));
    const policy = await runThoth(['status', '--client', 'claude-desktop', '--json'], {env: h.env});
    const servers = parseEnvelope<StatusReport>(policy.stdout).result!.clients[0]!.servers;
    expect(servers.find((server) => server.server === 'github')).toMatchObject({
      mode: 'block',
      modeSource: 'policy-locked',
      tenant: 'acme',
    });
    expect(servers.find((server) => server.server === 'sqlite')).toMatchObject({mode: 'progressive', modeSource: 'default'});
    const human = await runThoth(['status', '--client', 'claude-desktop'], {env: h.env});
    expect(human.stdout).toContain('  ✓ github  governed (mode block locked by the policy, tenant acme)');
  });
});

describe('reading what wrap-config did', () => {
  it('--dry-run --all: a labelled diff per file and server for people, the RFC 6902 patches only under --json', async () => {
    const h = await home({
      cursor: JSON.stringify({mcpServers: {git: {command: 'uvx', args: ['mcp-server-git'], env: {GIT_TOKEN: 'tok_secret'}}}}),
    });
    const human = await runThoth(['wrap-config', '--all', '--dry-run', '--env', 'THOTH_USER_ID=ada@example.com'], {env: h.env});
    expect(human.code).toBe(10);
    expect(human.stdout).not.toMatch(/^\[|"op"|"path"/m);
    expect(human.stdout).not.toContain('tok_secret');
    const lines = human.stdout.split('\n');
    const claude = lines.indexOf(`Claude Desktop: ${h.claude}`);
    const cursor = lines.indexOf(`Cursor: ${h.cursor}`);
    expect(claude).toBeGreaterThanOrEqual(0);
    expect(cursor).toBeGreaterThan(claude);
    expect(lines.slice(cursor + 1, cursor + 5)).toEqual([
      '  would be wrapped git',
      '      - uvx mcp-server-git',
      expect.stringMatching(/^ {6}\+ \S+ \S+run\.js run --agent-id git -- uvx mcp-server-git$/) as string,
      '      env: +THOTH_USER_ID +THOTH_WRAP_ORIGINAL',
    ]);
    expect(lines.filter((line) => line === '  would change this file; nothing written (--dry-run)')).toHaveLength(2);

    const json = await runThoth(['wrap-config', '--all', '--dry-run', '--json'], {env: h.env});
    const envelope = parseEnvelope<ChangeResult>(json.stdout);
    expect(await (await loadValidator('config-change'))(envelope.result)).toBe(true);
    expect(envelope.result!.files.map((file) => file.client)).toEqual(['claude-desktop', 'cursor']);
    for (const file of envelope.result!.files) expect(file.patch.length).toBeGreaterThan(0);
    expect(JSON.stringify(envelope)).not.toContain('tok_secret');
  });

  it('after writing, says what to do next for each client it changed', async () => {
    const h = await home({cursor: JSON.stringify({mcpServers: {git: {command: 'uvx', args: ['mcp-server-git']}}})});
    const wrapped = await runThoth(['wrap-config', '--all'], {env: h.env});
    expect(wrapped.code).toBe(0);
    expect(wrapped.stdout).toContain(
      'Next: quit and restart Claude Desktop; restart Cursor, so that it starts its servers through thoth.\nThen check with: thoth status\n',
    );
    const again = await runThoth(['wrap-config', '--all'], {env: h.env});
    expect(again.stdout).not.toContain('Next:');
    const unwrapped = await runThoth(['unwrap-config', '--client', 'cursor'], {env: h.env});
    expect(unwrapped.stdout).toContain('Next: restart Cursor, so that it starts its servers directly again.\n');
  });
});
