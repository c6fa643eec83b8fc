/**
 * `npm run demo`: a real MCP session with the official SDK client, through `thoth run`, to the
 * reference server `@modelcontextprotocol/server-everything`, on thoth's embedded defaults; then
 * the same server under a small policy a security team might write. Prints what happened.
 * Everything thoth writes goes to a temporary profile directory, removed at the end.
 */
import {spawnSync} from 'node:child_process';
import {mkdtemp, rm, writeFile} from 'node:fs/promises';
import {createRequire} from 'node:module';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';

import {Client} from '@modelcontextprotocol/sdk/client/index.js';
import {StdioClientTransport} from '@modelcontextprotocol/sdk/client/stdio.js';

const require = createRequire(import.meta.url);
const THOTH = fileURLToPath(new URL('../bin/run.js', import.meta.url));
const EVERYTHING = require.resolve('@modelcontextprotocol/server-everything/dist/index.js');

const home = await mkdtemp(join(tmpdir(), 'thoth-demo-'));
const env: Record<string, string> = {PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', THOTH_HOME: home};

const say = (text = ''): void => void process.stdout.write(`${text}\n`);
const step = (text: string): void => say(`\n▶ ${text}`);

function thoth(args: string[]): {code: number | null; stdout: string} {
  const result = spawnSync(process.execPath, [THOTH, ...args], {env, encoding: 'utf8'});
  return {code: result.status, stdout: result.stdout};
}

async function session(thothArgs: string[]): Promise<{client: Client; stderr: () => string}> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [THOTH, 'run', ...thothArgs, '--', process.execPath, EVERYTHING, 'stdio'],
    env,
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const client = new Client({name: 'thoth-demo', version: '1.0.0'});
  const started = performance.now();
  await client.connect(transport);
  say(`  connected to ${client.getServerVersion()?.name} through thoth in ${Math.round(performance.now() - started)} ms`);
  return {client, stderr: () => stderr};
}

async function call(client: Client, name: string, args: Record<string, unknown>): Promise<void> {
  try {
    const result = (await client.callTool({name, arguments: args})) as {content?: Array<{type: string; text?: string}>};
    const text = result.content?.find((c) => c.type === 'text')?.text ?? JSON.stringify(result).slice(0, 80);
    say(`  ✓ ${name}(${JSON.stringify(args)}) → ${text.slice(0, 90)}`);
  } catch (error) {
    const e = error as {code?: number; message: string; data?: {ruleId?: string; approveCommand?: string}};
    const kind = e.code === -32001 ? 'blocked (-32001)' : e.code === -32002 ? 'needs approval (-32002)' : `error ${e.code}`;
    say(`  ✗ ${name}(${JSON.stringify(args)}) → ${kind}, rule ${e.data?.ruleId ?? '?'}`);
    say(`    ${e.message.replace(/^MCP error -?\d+: /, '')}`);
  }
}

try {
  say(`thoth demo — profile in ${home}`);

  step('1. thoth run on its embedded defaults (no policy installed, no account, offline)');
  const first = await session(['--agent-id', 'everything']);
  say(`  tools/list passes through untouched: ${(await first.client.listTools()).tools.length} tools`);
  await call(first.client, 'echo', {message: 'hello through thoth'});
  await call(first.client, 'get-sum', {a: 20, b: 22});
  say('  The built-in policy asks a human before any tool touches a credential file:');
  await call(first.client, 'echo', {message: '~/.ssh/id_ed25519'});
  const pending = thoth(['approvals', 'list', '--json']);
  const approvals = (JSON.parse(pending.stdout) as {result: {approvals: Array<{id: string}>}}).result.approvals;
  if (approvals[0]) {
    say(`  an operator runs: thoth approve ${approvals[0].id}`);
    thoth(['approve', approvals[0].id]);
    say('  the client retries the identical call, which now passes once:');
    await call(first.client, 'echo', {message: '~/.ssh/id_ed25519'});
  }
  await first.client.close();

  step('2. the same server under a policy a security team wrote (block mode, approved scope)');
  const policy = join(home, 'policy.json');
  await writeFile(
    policy,
    JSON.stringify(
      {
        version: 'demo-1',
        agents: {
          everything: {
            mode: 'block',
            approved_scope: ['echo', 'get-sum'],
            rules: [
              {
                id: 'no-passwords',
                tool: 'echo',
                args: {message: {regex: 'password', ignore_case: true}},
                decision: 'block',
                reason: 'never echo passwords',
              },
            ],
          },
        },
      },
      null,
      2,
    ),
  );
  const second = await session(['--agent-id', 'everything', '--policy', policy]);
  const visible = (await second.client.listTools()).tools.map((t) => t.name);
  say(`  tools the policy can never allow are hidden: the client now sees ${visible.length} tools (${visible.join(', ')})`);
  await call(second.client, 'get-sum', {a: 1, b: 2});
  await call(second.client, 'echo', {message: 'my password is hunter2'});
  await call(second.client, 'get-env', {});
  await second.client.close();

  step('3. the evidence: a tamper-evident audit trail');
  const shown = thoth(['audit', 'show', '--json']);
  const events = (JSON.parse(shown.stdout) as {result: {events: Array<{type: string; toolName?: string; decision?: string}>}}).result
    .events;
  for (const event of events.filter((e) => e.type === 'TOOL_CALL_PRE')) say(`  TOOL_CALL_PRE ${event.toolName} → ${event.decision}`);
  say(`  ${events.length} events in total (session start/end, policy loaded, approvals, calls)`);
  const verify = thoth(['audit', 'verify']);
  say(`  thoth audit verify → exit ${verify.code} (${verify.code === 0 ? 'intact' : 'NOT intact'})`);
  say('\nDone. Next: `thoth wrap-config --dry-run` shows how thoth would govern your Claude Desktop servers.');
} finally {
  await rm(home, {recursive: true, force: true});
}
