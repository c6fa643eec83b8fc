import {mkdir, readFile, readdir, writeFile} from 'node:fs/promises';
import {join} from 'node:path';

import {describe, expect, it} from 'vitest';

import {parseEnvelope, runThoth} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';
import type {ChangeResult} from '../../src/client-config/engine.js';
import type {StatusReport} from '../../src/client-config/status.js';
import {loadValidator} from '../../src/util/validators.js';
import {fixture} from './helpers.js';

/** A home directory with Claude Desktop's config where the Linux build keeps it. */
async function home(content: Buffer | string = fixture('claude-desktop/macos-basic.json')) {
  const dir = await tempDir();
  const configDir = join(dir, '.config', 'Claude');
  await mkdir(configDir, {recursive: true});
  const file = join(configDir, 'claude_desktop_config.json');
  await writeFile(file, content);
  const env = {HOME: dir, THOTH_HOME: join(dir, '.thoth'), THOTH_API_KEY: undefined, THOTH_API_KEY_FILE: undefined};
  return {dir, file, configDir, env};
}

describe('thoth wrap-config / unwrap-config / status (the built CLI)', () => {
  it('dry run → 10 with the patch; wrap → 0; again → 0 byte-identical; status ✓ → 0; unwrap → original bytes', async () => {
    const h = await home();
    const original = await readFile(h.file);

    const dry = await runThoth(['wrap-config', '--dry-run', '--json', '--enforcement-mode', 'block'], {env: h.env});
    expect(dry.code).toBe(10);
    const dryEnvelope = parseEnvelope<ChangeResult>(dry.stdout);
    expect(dryEnvelope).toMatchObject({ok: true, command: 'wrap-config', status: 10});
    expect(await (await loadValidator('config-change'))(dryEnvelope.result)).toBe(true);
    expect(dryEnvelope.result!.files[0]!.patch).toContainEqual({
      op: 'replace',
      path: '/mcpServers/github/command',
      value: process.execPath,
    });
    expect(await readFile(h.file)).toEqual(original);

    // People get a labelled diff: the file, then per server what its command line becomes; no raw patch.
    const human = await runThoth(['wrap-config', '--dry-run', '--enforcement-mode', 'block'], {env: h.env});
    expect(human.code).toBe(10);
    expect(human.stdout).not.toContain('"op"');
    const lines = human.stdout.split('\n');
    expect(lines[0]).toBe(`Claude Desktop: ${h.file}`);
    const at = lines.indexOf('  would be wrapped filesystem');
    expect(at).toBeGreaterThan(0);
    expect(lines[at + 1]).toBe('      - npx -y @modelcontextprotocol/server-filesystem /Users/jane/Desktop /Users/jane/Downloads');
    expect(lines[at + 2]).toMatch(
      / {6}\+ \S+ \S+run\.js run --agent-id filesystem --enforcement-mode block -- npx -y @modelcontextprotocol\/server-filesystem \/Users\/jane\/Desktop \/Users\/jane\/Downloads$/,
    );
    expect(human.stdout).not.toContain('ghp_');
    expect(human.stdout).toContain('would change this file; nothing written (--dry-run)');
    expect(human.stdout).not.toContain('Next:');

    const wrapped = await runThoth(['wrap-config', '--enforcement-mode', 'block'], {env: h.env});
    expect([wrapped.code, wrapped.stderr]).toEqual([0, '']);
    expect(wrapped.stdout).toMatch(/wrapped {4}github/);
    expect(wrapped.stdout).toContain(
      'Next: quit and restart Claude Desktop, so that it starts its servers through thoth.\nThen check with: thoth status\n',
    );
    const once = await readFile(h.file);
    expect(once.toString()).toContain('"preferences": {\n    "quickEntryShortcut": "off"');

    const again = await runThoth(['wrap-config', '--enforcement-mode', 'block'], {env: h.env});
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('unchanged  github (already governed with these settings)');
    expect(await readFile(h.file)).toEqual(once);
    const governedDry = await runThoth(['wrap-config', '--dry-run', '--json', '--enforcement-mode', 'block'], {env: h.env});
    expect(governedDry.code).toBe(0);
    expect(parseEnvelope<ChangeResult>(governedDry.stdout).result).toMatchObject({changed: false, files: [{changed: false, patch: []}]});

    const status = await runThoth(['status', '--client', 'claude-desktop'], {env: h.env});
    expect(status.code).toBe(0);
    expect(status.stdout.split('\n').filter((line) => line.startsWith('  ✓'))).toEqual([
      '  ✓ filesystem  governed (mode block from --enforcement-mode, no tenant)',
      '  ✓ github  governed (mode block from --enforcement-mode, no tenant)',
      '  ✓ sqlite  governed (mode block from --enforcement-mode, no tenant)',
    ]);
    const statusJson = await runThoth(['status', '--json', '--enforcement-mode', 'block'], {env: h.env});
    const report = parseEnvelope<StatusReport>(statusJson.stdout);
    expect([statusJson.code, report.status, report.result!.allGoverned]).toEqual([0, 0, true]);
    expect(await (await loadValidator('status'))(report.result)).toBe(true);
    const drift = await runThoth(['status', '--enforcement-mode', 'observe'], {env: h.env});
    expect(drift.code).toBe(11);
    expect(drift.stdout).toContain('  ! github  drift: enforcement mode is "block", expected "observe"');

    const unwrapped = await runThoth(['unwrap-config'], {env: h.env});
    expect(unwrapped.code).toBe(0);
    expect(await readFile(h.file)).toEqual(original);
    const notGoverned = await runThoth(['status'], {env: h.env});
    expect(notGoverned.code).toBe(11);
    expect(notGoverned.stdout).toContain('  ✗ github  not governed');
    const backups = (await readdir(h.configDir)).filter((name) => name.includes('.thoth-backup-'));
    expect(backups).toHaveLength(2);
  });

  it('invalid config: exit 3, one line naming file:line:column and pointer, file untouched', async () => {
    const h = await home(fixture('claude-desktop/invalid-json.json'));
    const before = await readFile(h.file);
    const result = await runThoth(['wrap-config'], {env: h.env});
    expect(result.code).toBe(3);
    expect(result.stderr.split('\n')[0]).toBe(`thoth: error: ${h.file}:5:7 at /mcpServers/filesystem/args: expected ","`);
    expect(await readFile(h.file)).toEqual(before);
    expect(await readdir(h.configDir)).toEqual(['claude_desktop_config.json']);
    const json = await runThoth(['wrap-config', '--json'], {env: h.env});
    expect(parseEnvelope(json.stdout)).toMatchObject({ok: false, status: 3, error: {code: 'CONFIG_INVALID'}});
    const status = await runThoth(['status', '--client', 'claude-desktop'], {env: h.env});
    expect(status.code).toBe(11);
    expect(status.stdout).toContain(`  ! cannot read: ${h.file}:5:7`);
  });

  it('usage errors exit 2, a missing config exits 4', async () => {
    const h = await home();
    expect((await runThoth(['wrap-config', '--env', 'NOT A PAIR'], {env: h.env})).code).toBe(2);
    expect((await runThoth(['wrap-config', '--env', 'THOTH_WRAP_ORIGINAL=x'], {env: h.env})).code).toBe(2);
    expect((await runThoth(['wrap-config', '--enforcement-mode', 'lenient'], {env: h.env})).code).toBe(2);
    const missing = await runThoth(['wrap-config', '--client', 'cursor'], {env: h.env});
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain(`no Cursor config found (looked in ${join(h.dir, '.cursor', 'mcp.json')}`);
  });

  it('--embed-api-key writes the key into the config only, warns loudly, and never prints it', async () => {
    const h = await home();
    const key = 'thk_live_0123456789abcdef';
    const result = await runThoth(['wrap-config', '--embed-api-key', '--json'], {env: {...h.env, THOTH_API_KEY: key}});
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain(key);
    expect(result.stderr).not.toContain(key);
    const envelope = parseEnvelope<ChangeResult>(result.stdout);
    expect(envelope.warnings[0]).toMatch(/^--embed-api-key: the API key from THOTH_API_KEY is written in clear text/);
    expect(JSON.stringify(envelope.result)).toContain('<redacted API key>');
    expect(await readFile(h.file, 'utf8')).toContain(`"--api-key",\n        "${key}"`);
    const status = await runThoth(['status'], {env: h.env});
    expect(status.stdout).not.toContain(key);
    expect(status.stdout).toContain('note: an API key is embedded in the config');

    const noKey = await runThoth(['wrap-config', '--embed-api-key'], {env: h.env});
    expect(noKey.code).toBe(4);
  });

  it('--thoth-bin writes that executable as the command; intents come from intent_map.json', async () => {
    const h = await home();
    await mkdir(join(h.dir, '.thoth'), {recursive: true});
    await writeFile(join(h.dir, '.thoth', 'intent_map.json'), '{"github": "code_review"}');
    const result = await runThoth(['wrap-config', '--thoth-bin', '/opt/thoth/thoth', '--json'], {env: h.env});
    expect(result.code).toBe(0);
    expect(parseEnvelope(result.stdout).warnings).toContain(
      '--thoth-bin /opt/thoth/thoth does not exist (yet); the client will fail to start the servers until it does',
    );
    const config = JSON.parse(await readFile(h.file, 'utf8')) as {mcpServers: Record<string, {command: string; args: string[]}>};
    expect(config.mcpServers['github']).toMatchObject({
      command: '/opt/thoth/thoth',
      args: ['run', '--agent-id', 'github', '--session-intent', 'code_review', '--', 'npx', '-y', '@modelcontextprotocol/server-github'],
    });
    const status = await runThoth(['status'], {env: h.env});
    expect(status.code).toBe(11);
    expect(status.stdout).toContain('  ! github  drift: /opt/thoth/thoth (written as the thoth command) does not exist');
  });

  it('an explicit file of another client: inferred and said so; --output leaves the input alone', async () => {
    const dir = await tempDir();
    const input = join(dir, '.vscode', 'mcp.json');
    await mkdir(join(dir, '.vscode'));
    await writeFile(input, fixture('vscode/mcp.json'));
    const output = join(dir, 'wrapped.json');
    const result = await runThoth(['wrap-config', input, '--output', output], {env: {HOME: dir, THOTH_HOME: join(dir, '.thoth')}});
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`thoth: warning: treating ${input} as a VS Code config (from its file name); pass --client to choose`);
    expect(await readFile(input)).toEqual(fixture('vscode/mcp.json'));
    expect(await readFile(output, 'utf8')).toContain('// A local stdio server');
  });
});
