import {spawn} from 'node:child_process';
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {invalidAuditEvents} from '../helpers/audit-schemas.js';
import {THOTH_BIN, parseEnvelope, runThoth} from '../helpers/cli.js';
import {MISBEHAVING_SERVER} from '../helpers/mcp.js';
import {RawSession} from '../helpers/raw-session.js';
import {tempDir} from '../helpers/tmp.js';

/**
 * Issue 7 ("the operator's terminal"): names, arguments and lines chosen by a hostile server or an
 * agent reach a person through thoth's output. Every command and `thoth run` is driven for real
 * and its output must hold no raw control, bidi or invisible character: only the line feeds thoth
 * writes itself (src/util/terminal-text.ts).
 */

/** The tool names fixtures/servers/misbehaving-server.mjs announces with --hostile-names. */
const HOSTILE_TOOLS = [
  '\u001b]0;pwned\u0007read_file',
  'x\r\u001b[2Kthoth: all calls approved\u009b31m\u007f\u202etxt.exe\u{e0041}\nforged line',
];
const SHOWN = ['\\x1b]0;pwned\\x07read_file', 'x\\r\\x1b[2Kthoth: all calls approved\\u009b31m\\x7f\\u202etxt.exe\\u{e0041}\\nforged line'];
/** What an agent puts in the arguments (the approval preview and the audit content show them). */
const HOSTILE_TEXT = 'fine\r\u001b[1A\u001b[2Kthoth: approved by admin\u0007\u009d0;t\u009c\u2066\u200b';

const UNSAFE_BUT_LF = /(?!\n)[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Default_Ignorable_Code_Point}]/u;

function expectNoRawControls(output: string, what: string): void {
  const found = UNSAFE_BUT_LF.exec(output);
  expect(
    found,
    `${what} holds U+${found?.[0].codePointAt(0)?.toString(16).padStart(4, '0')} at ${found?.index}: ${JSON.stringify(output.slice(Math.max(0, (found?.index ?? 0) - 40), (found?.index ?? 0) + 40))}`,
  ).toBeNull();
}

/** Runs `thoth audit tail -f` until its stdout holds `expected` (then SIGINT), and returns the stdout. */
function followUntil(args: string[], env: Record<string, string>, expected: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [THOTH_BIN, ...args], {
      env: {PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...env},
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`audit tail -f printed no ${JSON.stringify(expected)} within 20 s; stdout: ${JSON.stringify(stdout)}; stderr: ${stderr}`),
      );
    }, 20_000);
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      // Whole lines only: the last event may still be on its way.
      if (stdout.includes(expected) && stdout.endsWith('\n')) child.kill('SIGINT');
    });
    child.on('close', () => {
      clearTimeout(timer);
      resolve(stdout);
    });
  });
}

const hostileServer = (...switches: string[]) => [process.execPath, MISBEHAVING_SERVER, '--hostile-names', '--hostile-banner', ...switches];
const callTool = (id: unknown, name: string, args: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: {name, arguments: args},
});

describe('a hostile server and agent cannot drive the operator’s terminal', () => {
  // Two real sessions against one profile, shared by the tests below (made once: each spawns thoth).
  let home = '';
  let env: Record<string, string> = {};
  let first: RawSession;
  let second: RawSession;
  let approvalId = '';

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'thoth-terminal-'));
    env = {THOTH_HOME: home};
    // Session 1 (step_up): the hostile tool is called with hostile arguments and waits for approval.
    first = new RawSession(['--agent-id', 'hostile', '--enforcement-mode', 'step_up'], hostileServer(), env);
    await first.initialize();
    first.send({jsonrpc: '2.0', id: 'list', method: 'tools/list'});
    const listed = (await first.nextJson())['result'] as {tools: Array<{name: string}>};
    expect(listed.tools.map((tool) => tool.name)).toEqual(expect.arrayContaining(HOSTILE_TOOLS));
    first.send(callTool(1, HOSTILE_TOOLS[1]!, {text: HOSTILE_TEXT}));
    const stepped = (await first.nextJson())['error'] as {code: number; data: {approvalId: string}};
    expect(stepped.code).toBe(-32002);
    approvalId = stepped.data.approvalId;
    first.closeStdin();
    expect((await first.exited).code).toBe(0);

    // Session 2 (observe): the tools were redefined (pins report it, naming them) and the agent
    // makes the server print a raw line of its choosing (diverted to stderr).
    second = new RawSession(['--agent-id', 'hostile', '--enforcement-mode', 'observe'], hostileServer('--redefine'), env);
    await second.initialize();
    second.send({jsonrpc: '2.0', id: 'list', method: 'tools/list'});
    await second.nextJson();
    second.send(callTool(2, 'raw', {line: HOSTILE_TEXT}));
    expect(await second.nextJson()).toMatchObject({id: 2});
    second.closeStdin();
    expect((await second.exited).code).toBe(0);
  }, 60_000);

  afterAll(async () => {
    if (home !== '') await rm(home, {recursive: true, force: true});
  });

  it('thoth run: the banner, the diverted line and the pin warnings naming the tools reach stderr escaped, one line each', async () => {
    for (const [name, session] of [
      ['session 1', first],
      ['session 2', second],
    ] as const) {
      expectNoRawControls(session.stderr, `${name} stderr`);
      // The banner was shown, escaped, not dropped.
      expect(session.stderr).toContain(
        'kept off the protocol stream: \\x1b]0;pwned\\x07\\x1b[2J\\rthoth: all calls approved \\u009b32m\\x7f\\u202e\\u2066banner',
      );
    }
    expect(second.stderr).toContain(`the definition of tool "${SHOWN[0]}" changed`);
    expect(second.stderr).toContain(`the definition of tool "${SHOWN[1]}" changed`);
    expect(second.stderr).toContain(
      'kept off the protocol stream: fine\\r\\x1b[1A\\x1b[2Kthoth: approved by admin\\x07\\u009d0;t\\u009c\\u2066\\u200b',
    );
    for (const line of second.stderr.trimEnd().split('\n')) expect(line).toMatch(/^\[thoth\] /);
    expect(await invalidAuditEvents(join(home, 'audit'))).toEqual([]);
  });

  it('approvals list: the tool name and the arguments preview escaped, four lines per approval (the last the command to approve it); --json keeps the exact name', async () => {
    const approvals = await runThoth(['approvals', 'list'], {env});
    expect(approvals.code).toBe(0);
    expectNoRawControls(approvals.stdout, 'approvals list');
    expect(approvals.stdout).toContain(`hostile → ${SHOWN[1]}  until`);
    expect(approvals.stdout).toContain('fine\\r\\u001b[1A\\u001b[2Kthoth: approved by admin\\u0007\\u009d0;t\\u009c\\u2066\\u200b');
    const lines = approvals.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[3]).toMatch(/^ {4}approve: thoth approve [0-9a-z]+( --thoth-home \S+)?$/);
    const approvalsJson = await runThoth(['approvals', 'list', '--json'], {env});
    expectNoRawControls(approvalsJson.stdout, 'approvals list --json');
    const listedJson = parseEnvelope<{approvals: Array<{tool: string; id: string}>}>(approvalsJson.stdout).result!.approvals;
    expect(listedJson.map((approval) => approval.tool)).toEqual([HOSTILE_TOOLS[1]]);
  });

  it('audit show and audit tail: one escaped line per event; --json keeps the exact name', async () => {
    for (const args of [
      ['audit', 'show'],
      ['audit', 'tail', '-n', '100'],
      ['audit', 'show', '--tool', HOSTILE_TOOLS[1]!],
    ]) {
      const audit = await runThoth(args, {env});
      expect(audit.code, audit.stderr).toBe(0);
      expectNoRawControls(audit.stdout + audit.stderr, args.join(' '));
      expect(audit.stdout).toContain(SHOWN[1]);
      const [header, ...rows] = audit.stdout.trimEnd().split('\n');
      expect(header).toMatch(/^TIME +EVENT +AGENT +TOOL +DECISION +RULE +SESSION +DETAIL$/);
      for (const line of rows) expect(line).toMatch(/^\d{4}-\d\d-\d\dT/);
    }
    const tailJson = await runThoth(['audit', 'tail', '-n', '100', '--json'], {env});
    expectNoRawControls(tailJson.stdout, 'audit tail --json');
    const events = parseEnvelope<{events: Array<{toolName?: string}>}>(tailJson.stdout).result!.events;
    expect(events.map((event) => event.toolName)).toContain(HOSTILE_TOOLS[1]);
  });

  it('audit export to stdout: JSON Lines and OCSF with C1 and bidi characters as \\u escapes, the same values', async () => {
    for (const format of ['jsonl', 'ocsf']) {
      const exported = await runThoth(['audit', 'export', '--format', format], {env});
      expect(exported.code, exported.stderr).toBe(0);
      expectNoRawControls(exported.stdout, `audit export --format ${format}`);
      const lines = exported.stdout
        .trimEnd()
        .split('\n')
        .map((line) => JSON.stringify(JSON.parse(line) as unknown));
      expect(lines.some((line) => line.includes(JSON.stringify(HOSTILE_TOOLS[1]).slice(1, -1)))).toBe(true);
    }
  });

  it('pins list and approve name the tools escaped', async () => {
    const pins = await runThoth(['pins', 'list'], {env});
    expectNoRawControls(pins.stdout, 'pins list');
    expect(pins.stdout).toContain(`! ${SHOWN[0]}  changed`);
    expect(pins.stdout).toContain(`! ${SHOWN[1]}  changed`);

    const approve = await runThoth(['approve', approvalId], {env});
    expect(approve.code, approve.stderr).toBe(0);
    expectNoRawControls(approve.stdout + approve.stderr, 'approve');
    expect(approve.stdout).toContain(`hostile may call ${SHOWN[1]} with these arguments once`);
  });
});

describe('the operator’s terminal: other commands', () => {
  it('audit tail --follow prints escaped lines, and JSON Lines with C1 and bidi characters as \\u escapes', async () => {
    const home = await tempDir();
    const env = {THOTH_HOME: home};
    const session = new RawSession(['--agent-id', 'hostile', '--enforcement-mode', 'observe'], hostileServer(), env);
    await session.initialize();
    session.send(callTool(1, HOSTILE_TOOLS[1]!, {text: HOSTILE_TEXT}));
    expect(await session.nextJson()).toMatchObject({id: 1, result: {}});
    session.closeStdin();
    await session.exited;
    for (const json of [false, true]) {
      const tail = await followUntil(
        ['audit', 'tail', '-f', '-n', '100', '--interval', '50', ...(json ? ['--json'] : [])],
        env,
        json ? '"toolName":"x\\r\\u001b[2Kthoth' : SHOWN[1]!,
      );
      expectNoRawControls(tail, `audit tail -f${json ? ' --json' : ''}`);
      if (json) {
        const names = tail
          .trimEnd()
          .split('\n')
          .map((line) => (JSON.parse(line) as {toolName?: string}).toolName);
        expect(names).toContain(HOSTILE_TOOLS[1]);
      } else {
        expect(tail).toContain(SHOWN[1]);
      }
    }
  });

  it('status, wrap-config --dry-run, health, policy validate and policy explain escape names from config and policy files', async () => {
    const home = await tempDir();
    const profile = join(home, '.thoth');
    const env = {HOME: home, THOTH_HOME: profile};
    const configDir = join(home, '.config', 'Claude');
    await mkdir(configDir, {recursive: true});
    const server = 'files\r\u001b[2K\u001b[32m✓ everything  governed\u009b0m\u202e';
    await writeFile(
      join(configDir, 'claude_desktop_config.json'),
      JSON.stringify({mcpServers: {[server]: {command: 'npx', args: ['-y', 'x']}}}, null, 2),
    );
    await mkdir(profile, {recursive: true});
    const policy = join(profile, 'policy.json');
    await writeFile(policy, JSON.stringify({agents: {'a\u001b]0;pwned\u0007': {mode: 'blok\u009b'}}}));

    const status = await runThoth(['status'], {env});
    expect(status.code).toBe(11);
    expectNoRawControls(status.stdout + status.stderr, 'status');
    expect(status.stdout).toContain('✗ files\\r\\x1b[2K\\x1b[32m✓ everything  governed\\u009b0m\\u202e  not governed');

    const dryRun = await runThoth(['wrap-config', '--dry-run'], {env});
    expect(dryRun.code, dryRun.stderr).toBe(10);
    expectNoRawControls(dryRun.stdout + dryRun.stderr, 'wrap-config --dry-run');
    expect(dryRun.stdout).toContain('would be wrapped files\\r\\x1b[2K');

    for (const args of [
      ['health'],
      ['policy', 'validate', policy],
      ['policy', 'explain', '--agent-id', 'a\u001b]0;pwned\u0007', '--tool', HOSTILE_TOOLS[1]!],
    ]) {
      const run = await runThoth(args, {env});
      expect(run.code, `${args.join(' ')}: ${run.stderr}`).not.toBe(0);
      expectNoRawControls(run.stdout + run.stderr, args.join(' '));
      expect(run.stdout + run.stderr).toContain('a\\x1b]0;pwned\\x07');
    }
  });

  it('error lines quote what was given, escaped, in the CLI and in thoth run', async () => {
    const home = await tempDir();
    const approve = await runThoth(['approve', HOSTILE_TEXT], {env: {THOTH_HOME: home}});
    expect(approve.code).not.toBe(0);
    expectNoRawControls(approve.stderr, 'approve error');
    expect(approve.stderr).toMatch(/^thoth: error: .*fine\\r\\x1b\[1A\\x1b\[2Kthoth: approved by admin/);

    const json = await runThoth(['approve', HOSTILE_TEXT, '--json'], {env: {THOTH_HOME: home}});
    expectNoRawControls(json.stdout, 'approve --json');
    expect(parseEnvelope(json.stdout).error!.message).toContain(HOSTILE_TEXT);

    const run = new RawSession(['--agent-id', 'x', '--enforcement-mode', `block${HOSTILE_TEXT}`], [process.execPath, MISBEHAVING_SERVER], {
      THOTH_HOME: home,
    });
    expect((await run.exited).code).not.toBe(0);
    expectNoRawControls(run.stderr, 'thoth run error');
    expect(run.stderr).toContain('block');
    expect(run.stderr).toContain('fine\\r\\x1b[1A');
  });
});
