import {spawn} from 'node:child_process';
import {randomUUID} from 'node:crypto';
import {appendFile, mkdir, readFile, writeFile} from 'node:fs/promises';
import {join} from 'node:path';

import {describe, expect, it} from 'vitest';

import {loadOrCreateKey} from '../../src/audit/key.js';
import {FileAuditSink} from '../../src/audit/sink.js';
import {loadValidator} from '../../src/util/validators.js';
import {REPO_ROOT, THOTH_BIN, parseEnvelope, runThoth} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';
import {ALLOW, segmentNames, testContext, testSettings, toolCall, writeSession} from './helpers.js';

/** A profile with a real key file and two sessions: `files` (6 calls) and `web` (2 calls). */
async function profile(): Promise<{home: string; dir: string}> {
  const home = await tempDir();
  const dir = join(home, 'audit');
  const key = await loadOrCreateKey(join(home, 'audit_hmac_key.json'));
  await writeSession(dir, key, 6, {context: {agentId: 'files'}});
  await writeSession(dir, key, 2, {context: {agentId: 'web'}});
  return {home, dir};
}

describe('thoth audit verify', () => {
  it('exits 0 on an intact trail; --json matches its schema', async () => {
    const {home} = await profile();
    const human = await runThoth(['audit', 'verify'], {env: {THOTH_HOME: home}});
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/✓ intact/);
    const json = await runThoth(['audit', 'verify', '--json'], {env: {THOTH_HOME: home}});
    const envelope = parseEnvelope<{status: string; events: number; chains: number}>(json.stdout);
    expect(envelope).toMatchObject({ok: true, status: 0, result: {status: 'intact', chains: 2, events: 2 + 12 + 2 + 4}});
    const validate = await loadValidator('audit/verify-result');
    expect(validate(envelope), JSON.stringify(validate.errors)).toBe(true);
  });

  it('exits 12 on tampering and names the first broken record (file, line, what is wrong)', async () => {
    const {home, dir} = await profile();
    const [first] = await segmentNames(dir);
    const path = join(dir, first!);
    const original = await readFile(path, 'utf8');
    const line = original.split('\n').findIndex((text) => text.includes('/data/3.txt')) + 1;
    await writeFile(path, original.replace('/data/3.txt', '/data/9.txt'));
    const result = await runThoth(['audit', 'verify', '--json'], {env: {THOTH_HOME: home}});
    expect(result.code).toBe(12);
    const envelope = parseEnvelope<{status: string; problems: Array<{file: string; line: number; message: string}>}>(result.stdout);
    expect(envelope.result?.status).toBe('tampered');
    expect(envelope.result?.problems[0]).toMatchObject({file: first, line, message: expect.stringMatching(/HMAC/) as string});
    const human = await runThoth(['audit', 'verify', dir], {env: {THOTH_HOME: home}});
    expect(human.code).toBe(12);
    expect(human.stdout).toContain(`${first}:${line}:`);
  });

  it('exits 13 when a writer was killed mid-session (crash, not tampering), and verifies a single file', async () => {
    const home = await tempDir();
    const writer = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'test', 'audit', 'writer-process.ts'), '3', '--no-close'], {
      cwd: REPO_ROOT,
      env: {...process.env, THOTH_HOME: home},
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve) => writer.stdout.once('data', () => resolve()));
    writer.kill('SIGKILL');
    await new Promise((resolve) => writer.on('close', resolve));
    const dir = join(home, 'audit');
    const [name] = await segmentNames(dir);
    await appendFile(join(dir, name!), '{"v":1,"chain":"');
    const result = await runThoth(['audit', 'verify', '--json'], {env: {THOTH_HOME: home}});
    expect(result.code).toBe(13);
    const envelope = parseEnvelope<{status: string; problems: Array<{kind: string; file: string}>}>(result.stdout);
    expect(envelope.result).toMatchObject({status: 'torn-tail', problems: [{kind: 'torn-tail', file: name}]});
    const file = await runThoth(['audit', 'verify', join(dir, name!)], {env: {THOTH_HOME: home}});
    expect(file.code).toBe(13);
    expect(file.stdout).toMatch(/not a complete record/);
  });

  it('exits 4 with a clear message when the directory or the key is missing', async () => {
    const home = await tempDir();
    const noDir = await runThoth(['audit', 'verify', join(home, 'nowhere')], {env: {THOTH_HOME: home}});
    expect(noDir.code).toBe(4);
    expect(noDir.stderr).toMatch(/nowhere does not exist/);
    const {dir} = await profile();
    const noKey = await runThoth(['audit', 'verify', dir, '--key-file', join(home, 'missing.json')], {env: {THOTH_HOME: home}});
    expect(noKey.code).toBe(4);
    expect(noKey.stderr).toMatch(/missing\.json does not exist/);
  });
});

describe('thoth audit show / tail', () => {
  it('filters by agent, tool, decision, type and time, readable and --json', async () => {
    const {home} = await profile();
    const env = {THOTH_HOME: home};
    const all = parseEnvelope<{count: number}>((await runThoth(['audit', 'show', '--json'], {env})).stdout);
    expect(all.result?.count).toBe(20);
    const validate = await loadValidator('audit/show-result');
    expect(validate(all), JSON.stringify(validate.errors)).toBe(true);
    const web = parseEnvelope<{events: Array<{agentId: string}>}>(
      (await runThoth(['audit', 'show', '--agent-id', 'web', '--json'], {env})).stdout,
    );
    expect(web.result?.events).toHaveLength(6);
    expect(new Set(web.result?.events.map((e) => e.agentId))).toEqual(new Set(['web']));
    const blocked = parseEnvelope<{events: Array<{decision: string; type: string}>}>(
      (await runThoth(['audit', 'show', '--decision', 'block', '--type', 'TOOL_CALL_PRE', '--json'], {env})).stdout,
    );
    expect(blocked.result?.events).toHaveLength(1);
    const future = parseEnvelope<{count: number}>(
      (await runThoth(['audit', 'show', '--since', '2099-01-01T00:00:00Z', '--json'], {env})).stdout,
    );
    expect(future.result?.count).toBe(0);
    const recent = parseEnvelope<{count: number}>(
      (await runThoth(['audit', 'show', '--since', '1h', '--until', '0s', '--json'], {env})).stdout,
    );
    expect(recent.result?.count).toBe(20);
    const human = await runThoth(['audit', 'show', '--tool', 'read_file', '--limit', '3'], {env});
    const [header, ...lines] = human.stdout.trim().split('\n');
    expect(header).toMatch(/^TIME\s+EVENT\s+AGENT\s+TOOL\s+DECISION\s+RULE\s+SESSION\s+DETAIL$/);
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line).toMatch(/^\d{4}-\d\d-\d\dT.*TOOL_CALL_(PRE|POST)\s+(files|web)\s+read_file/);
    const bad = await runThoth(['audit', 'show', '--since', 'yesterday-ish'], {env});
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--since "yesterday-ish"/);
  });

  it('tail -n shows the newest events; tail --follow prints events as other processes append them', async () => {
    const {home, dir} = await profile();
    const tail = parseEnvelope<{events: Array<{type: string}>}>(
      (await runThoth(['audit', 'tail', '-n', '2', '--json'], {env: {THOTH_HOME: home}})).stdout,
    );
    expect(tail.result?.events.map((e) => e.type)).toEqual(['TOOL_CALL_POST', 'SESSION_END']);
    const validate = await loadValidator('audit/tail-result');
    expect(validate(tail)).toBe(true);

    const follower = spawn(
      process.execPath,
      [THOTH_BIN, 'audit', 'tail', '--follow', '-n', '0', '--json', '--tool', 'live_tool', '--interval', '50'],
      {
        cwd: REPO_ROOT,
        env: {PATH: process.env['PATH'], HOME: home, THOTH_HOME: home},
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    follower.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((resolve) => follower.on('close', resolve));
    try {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const context = testContext({agentId: 'live'});
      const key = await loadOrCreateKey(join(home, 'audit_hmac_key.json'));
      const sink = new FileAuditSink({settings: testSettings(dir), context, key});
      for (let i = 0; i < 3; i++)
        await sink.toolCallPre({call: toolCall('live_tool', {i}), context, decision: ALLOW, requestId: String(i)});
      await sink.close();
      const deadline = Date.now() + 15_000;
      while (out.trim().split('\n').filter(Boolean).length < 3 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      follower.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    const events = out
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as {toolName: string; agentId: string});
    expect(events).toHaveLength(3);
    expect(events.every((e) => e.toolName === 'live_tool' && e.agentId === 'live')).toBe(true);
  });
});

describe('thoth audit show: what a person reads', () => {
  /** One session with a UUID id (as thoth run makes), pins recorded, a call stepped up and approved by a person. */
  async function trail(): Promise<{home: string; dir: string; session: string}> {
    const home = await tempDir();
    const dir = join(home, 'audit');
    const key = await loadOrCreateKey(join(home, 'audit_hmac_key.json'));
    const session = randomUUID();
    const context = testContext({agentId: 'files', sessionId: session});
    const sink = new FileAuditSink({settings: testSettings(dir), context, key});
    for (const tool of ['read_file', 'write_file']) sink.event('PIN_RECORDED', context, {toolName: tool, pinSha256: 'ab'.repeat(32)});
    sink.event('APPROVAL_REQUESTED', context, {approvalId: 'k3m9x2q7ta', toolName: 'write_file', ruleId: 'rule:writes', via: 'cli'});
    sink.event('APPROVAL_GRANTED', context, {
      approvalId: 'k3m9x2q7ta',
      toolName: 'write_file',
      ruleId: 'rule:writes',
      via: 'cli',
      approvedBy: 'ada',
    });
    const call = toolCall('write_file', {path: '/data/a.txt'});
    await sink.toolCallPre({call, context, decision: ALLOW, requestId: '1'});
    await sink.close();
    await writeSession(dir, key, 1, {context: {agentId: 'web', sessionId: randomUUID()}});
    return {home, dir, session};
  }

  it('decisions in aligned columns with a short session id and who approved; pin bookkeeping only under --pins', async () => {
    const {home, session} = await trail();
    const env = {THOTH_HOME: home};
    const shown = await runThoth(['audit', 'show'], {env});
    expect(shown.code).toBe(0);
    const [header, ...rows] = shown.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^TIME +EVENT +AGENT +TOOL +DECISION +RULE +SESSION +DETAIL$/);
    expect(rows.join('\n')).not.toContain('PIN_RECORDED');
    // Every column starts where its heading does.
    for (const heading of ['EVENT', 'AGENT', 'TOOL', 'DECISION', 'RULE', 'SESSION', 'DETAIL']) {
      const at = header!.indexOf(heading);
      // (A row without DETAIL ends after its SESSION.)
      for (const row of rows) if (row.length > at) expect(row.slice(at - 2, at), `${heading} in ${row}`).toBe('  ');
    }
    const sessionAt = header!.indexOf('SESSION');
    const granted = rows.find((row) => row.includes('APPROVAL_GRANTED'))!;
    expect(granted.slice(sessionAt, sessionAt + 8)).toBe(session.slice(0, 8));
    expect(granted.slice(header!.indexOf('DETAIL'))).toBe('approved by ada, approval k3m9x2q7ta');
    expect(shown.stdout).not.toContain(session);

    // The short id is what --session-id takes.
    const one = parseEnvelope<{events: Array<{sessionId: string}>}>(
      (await runThoth(['audit', 'show', '--session-id', session.slice(0, 8), '--json'], {env})).stdout,
    );
    expect(new Set(one.result?.events.map((event) => event.sessionId))).toEqual(new Set([session]));
    // Pins: left out of the default (human and --json), back with --pins, alone with --type.
    expect(one.result?.events.some((event) => (event as {type?: string}).type === 'PIN_RECORDED')).toBe(false);
    const withPins = await runThoth(['audit', 'show', '--pins'], {env});
    expect(withPins.stdout.match(/PIN_RECORDED/g)).toHaveLength(2);
    const onlyPins = parseEnvelope<{events: Array<{type: string}>}>(
      (await runThoth(['audit', 'show', '--type', 'PIN_RECORDED', '--json'], {env})).stdout,
    );
    expect(onlyPins.result?.events.map((event) => event.type)).toEqual(['PIN_RECORDED', 'PIN_RECORDED']);
    const tail = await runThoth(['audit', 'tail', '-n', '50'], {env});
    expect(tail.stdout).not.toContain('PIN_RECORDED');
    expect(tail.stdout.split('\n')[0]).toBe(header);
  });

  it('a trail not written yet: "no events yet" and exit 0 (show, tail, export); a missing --audit-dir is still exit 4, and verify never passes it', async () => {
    const home = await tempDir();
    const env = {THOTH_HOME: home};
    const show = await runThoth(['audit', 'show'], {env});
    expect(show.code).toBe(0);
    expect(show.stdout).toBe(
      `no events yet in the audit trail (${join(home, 'audit')}): thoth run records every tool call, from the first session on\n`,
    );
    expect(show.stderr).toBe('');
    const json = await runThoth(['audit', 'show', '--json'], {env});
    expect(json.code).toBe(0);
    expect(parseEnvelope(json.stdout)).toMatchObject({ok: true, status: 0, result: {events: [], count: 0, total: 0}});
    expect((await runThoth(['audit', 'tail'], {env})).stdout).toMatch(/^no events yet/);
    const exported = await runThoth(['audit', 'export'], {env});
    expect(exported.code).toBe(0);
    expect(exported.stdout).toBe('');
    // An empty directory is a trail without events too.
    await mkdir(join(home, 'audit'));
    expect((await runThoth(['audit', 'show'], {env})).stdout).toMatch(/^no events yet/);
    const named = await runThoth(['audit', 'show', '--audit-dir', join(home, 'typo'), '--json'], {env});
    expect(named.code).toBe(4);
    expect(parseEnvelope(named.stdout).error?.code).toBe('AUDIT_DIR_NOT_FOUND');
    expect((await runThoth(['audit', 'verify', join(home, 'nowhere')], {env})).code).toBe(4);
  });

  it('one flag for the audit directory: --audit-dir on run, audit show/tail/export/verify, approve and deny; --dir still works, unlisted', async () => {
    const manifest = JSON.parse(await readFile(join(REPO_ROOT, 'oclif.manifest.json'), 'utf8')) as {
      commands: Record<string, {flags: Record<string, {aliases?: string[]}>}>;
    };
    for (const id of ['run', 'audit:show', 'audit:tail', 'audit:export', 'audit:verify', 'approve', 'deny']) {
      expect(Object.keys(manifest.commands[id]!.flags), id).toContain('audit-dir');
      expect(Object.keys(manifest.commands[id]!.flags), id).not.toContain('dir');
    }
    const {home, dir} = await profile();
    const elsewhere = await tempDir();
    const env = {THOTH_HOME: elsewhere};
    for (const flag of ['--audit-dir', '--dir']) {
      const shown = parseEnvelope<{count: number}>((await runThoth(['audit', 'show', flag, dir, '--json'], {env})).stdout);
      expect(shown.result?.count, flag).toBe(20);
    }
    const verified = await runThoth(['audit', 'verify', '--audit-dir', dir, '--key-file', join(home, 'audit_hmac_key.json')], {env});
    expect(verified.code, verified.stderr).toBe(0);
    const help = await runThoth(['audit', 'show', '--help'], {env});
    expect(help.stdout).toContain('--audit-dir=<value>');
    expect(help.stdout).not.toMatch(/--dir\b/);
  });
});

describe('thoth audit export', () => {
  it('writes JSON Lines with chain positions, and OCSF to stdout', async () => {
    const {home} = await profile();
    const env = {THOTH_HOME: home};
    const output = join(home, 'export.jsonl');
    const result = await runThoth(['audit', 'export', '--format', 'jsonl', '--output', output, '--json'], {env});
    const envelope = parseEnvelope<{count: number; format: string}>(result.stdout);
    expect(envelope.result).toMatchObject({count: 20, format: 'jsonl', output});
    const validate = await loadValidator('audit/export-result');
    expect(validate(envelope)).toBe(true);
    const lines = (await readFile(output, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as {eventId: string; audit: {chain: string; seq: number}});
    expect(lines).toHaveLength(20);
    expect(lines[0]!.audit.seq).toBeGreaterThanOrEqual(0);
    const ocsf = await runThoth(['audit', 'export', '--format', 'ocsf', '--agent-id', 'web'], {env});
    expect(ocsf.code).toBe(0);
    const events = ocsf.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as {class_uid: number; metadata: {version: string}});
    expect(events).toHaveLength(6);
    expect(events.map((e) => e.class_uid)).toEqual([6002, 6003, 6003, 6003, 6003, 6002]);
    expect(events.every((e) => e.metadata.version === '1.3.0')).toBe(true);
    const noOutput = await runThoth(['audit', 'export', '--json'], {env});
    expect(noOutput.code).toBe(2);
  });
});
