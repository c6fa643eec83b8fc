import {mkdtemp, mkdir, readFile, rm, symlink, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {Client} from '@modelcontextprotocol/sdk/client/index.js';
import {StdioClientTransport} from '@modelcontextprotocol/sdk/client/stdio.js';

import {invalidAuditEvents} from '../helpers/audit-schemas.js';
import {tempDir} from '../helpers/tmp.js';
import {callText, E2E_POLICY, EVERYTHING_SERVER, refusedCall} from '../policy/session.js';
import {release, run, skipReason, type RunResult} from './release-helper.js';

/**
 * The Linux tarball, unpacked into a temporary directory and used with no Node.js on PATH at all
 * (PATH=/nonexistent, nothing else inherited): its launcher, a real MCP session through its
 * `thoth run` with the official SDK client and server-everything (run by the bundled node),
 * wrap-config / status / unwrap-config on a Claude Desktop config, and the audit trail it leaves.
 */

const NO_NODE = '/nonexistent';
/** This suite may run as root (CI containers): thoth refuses root with a tenant in prod unless told this is fine. */
const AS_ROOT_OK = {THOTH_REQUIRE_NON_ROOT: 'false'};
/** What Node or V8 print when something is off; thoth's own stderr must never contain an error either. */
const NOISE = /\(node:\d+\)|DeprecationWarning|ExperimentalWarning|unrecognized flag|error/i;
const pins = JSON.parse(await readFile(new URL('../../scripts/dist/node-pins.json', import.meta.url), 'utf8')) as {version: string};

let root: string;
let launcher: string;
let bundledNode: string;
let version: string;

const skip = skipReason(['tar']);

beforeAll(async () => {
  if (skip) return;
  const built = await release();
  version = built.version;
  root = await mkdtemp(join(tmpdir(), 'thoth-unpacked-'));
  const unpacked = await run('tar', ['-xzf', built.linux, '-C', root]);
  if (unpacked.code !== 0) throw new Error(unpacked.stderr);
  launcher = join(root, 'thoth', 'bin', 'thoth');
  bundledNode = join(root, 'thoth', 'bin', 'node');
}, 15 * 60_000);

afterAll(async () => {
  if (root) await rm(root, {recursive: true, force: true});
});

/** The unpacked thoth with nothing but PATH=/nonexistent (plus what a test adds). */
function thoth(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<RunResult> {
  return run(launcher, args, {env: {PATH: NO_NODE, ...AS_ROOT_OK, ...env}, ...(cwd === undefined ? {} : {cwd})});
}

async function connect(command: string, args: string[], env: Record<string, string>): Promise<{client: Client; stderr: () => string}> {
  const transport = new StdioClientTransport({command, args, env: {...AS_ROOT_OK, ...env, PATH: NO_NODE}, stderr: 'pipe'});
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const client = new Client({name: 'thoth-installed-e2e', version: '1.0.0'}, {capabilities: {}});
  await client.connect(transport);
  return {client, stderr: () => stderr};
}

describe.skipIf(skip !== undefined)('the unpacked Linux tarball, without Node.js on PATH', () => {
  it('`env -i PATH=/nonexistent thoth --version` runs the bundled Node', async () => {
    const result = await run('/usr/bin/env', ['-i', `PATH=${NO_NODE}`, launcher, '--version']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`thoth-mcp/${version} linux-x64 node-v${pins.version}\n`);
  });

  it('the bundle has the not-found hook, help and completion: a typo gets "did you mean", thoth help and -h work', async () => {
    const home = await tempDir();
    const typo = await thoth(['wrap-confg'], {HOME: home, THOTH_HOME: join(home, '.thoth')});
    expect(typo.code).toBe(2);
    expect(typo.stderr).toBe(
      'thoth: error: "wrap-confg" is not a thoth command\n  Try this: Did you mean `thoth wrap-config`? `thoth help` lists every command.\n',
    );
    const help = await thoth(['help', 'audit', 'show'], {HOME: home});
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('$ thoth audit show');
    const short = await thoth(['status', '-h'], {HOME: home});
    expect(short.stdout).toContain('$ thoth status');
    const completion = await thoth(['autocomplete', 'bash'], {HOME: home});
    expect(completion.stdout).toContain('complete -o default -F _thoth_complete thoth');
  });

  it('the launcher is relocatable (called by a relative path from elsewhere) and says what is wrong when symlinked away from node', async () => {
    const relative = await thoth(['--version'], {}, join(root, 'thoth', 'lib'));
    expect(relative.code).toBe(0);
    const viaRelative = await run('../bin/thoth', ['--version'], {cwd: join(root, 'thoth', 'lib'), env: {PATH: NO_NODE}});
    expect(viaRelative.stdout).toContain(`node-v${pins.version}`);
    const elsewhere = await tempDir();
    await symlink(launcher, join(elsewhere, 'thoth'));
    const linked = await run(join(elsewhere, 'thoth'), ['--version'], {env: {PATH: NO_NODE}});
    expect(linked.code).toBe(127);
    expect(linked.stderr).toBe(
      `thoth: ${elsewhere}/node is missing: run this launcher where it was unpacked (through a symlink it cannot find node)\n`,
    );
  });

  it('thoth run: a real MCP session is governed (allow, block -32001, step-up -32002) and leaves an intact, schema-valid audit trail', async () => {
    const home = await tempDir();
    // The profile is a directory of the home, as ~/.thoth is: with the profile as the home itself,
    // every relative string (read against the home, as a server would) lands inside thoth's files.
    const profile = join(home, '.thoth');
    const auditDir = join(home, 'trail');
    const {client, stderr} = await connect(
      launcher,
      ['run', '--agent-id', 'everything', '--policy', E2E_POLICY, '--audit-dir', auditDir, '--', bundledNode, EVERYTHING_SERVER, 'stdio'],
      {HOME: home, THOTH_HOME: profile},
    );
    try {
      expect((await client.listTools()).tools.map((tool) => tool.name).sort()).toEqual(['echo', 'get-sum', 'get-tiny-image']);
      expect(await callText(client, 'echo', {message: 'from the installed thoth'})).toBe('Echo: from the installed thoth');
      expect(await callText(client, 'get-sum', {a: 40, b: 2})).toBe('The sum of 40 and 2 is 42.');
      expect((await refusedCall(client, 'get-env')).code).toBe(-32001);
      expect((await refusedCall(client, 'get-sum', {a: 5000, b: 1})).code).toBe(-32002);
      expect(await callText(client, 'echo', {message: 'still usable'})).toBe('Echo: still usable');
    } finally {
      await client.close();
    }
    expect(stderr()).not.toMatch(NOISE);
    const verify = await thoth(['audit', 'verify', auditDir, '--json'], {HOME: home, THOTH_HOME: profile});
    expect(verify.code, verify.stderr).toBe(0);
    expect((JSON.parse(verify.stdout) as {result: {status: string}}).result.status).toBe('intact');
    expect(await invalidAuditEvents(auditDir)).toEqual([]);
  });

  it('wrap-config writes the installed node and entry by absolute path; the wrapped entry starts and is governed; status and unwrap-config agree', async () => {
    const home = await tempDir();
    const env = {HOME: home, THOTH_HOME: join(home, '.thoth')};
    const configDir = join(home, '.config', 'Claude');
    await mkdir(configDir, {recursive: true});
    const config = join(configDir, 'claude_desktop_config.json');
    const original = `${JSON.stringify({mcpServers: {everything: {command: bundledNode, args: [EVERYTHING_SERVER, 'stdio'], env: {DEMO: '1'}}}}, null, 2)}\n`;
    await writeFile(config, original);

    const wrapped = await thoth(['wrap-config', '--tenant-id', 'acme', '--enforcement-mode', 'observe'], env);
    expect(wrapped.code, wrapped.stderr).toBe(0);
    const entry = (
      JSON.parse(await readFile(config, 'utf8')) as {
        mcpServers: Record<string, {command: string; args: string[]; env: Record<string, string>}>;
      }
    ).mcpServers['everything']!;
    expect(entry.command).toBe(bundledNode);
    expect(entry.args.slice(0, 2)).toEqual([join(root, 'thoth', 'lib', 'bin', 'run.js'), 'run']);
    expect(entry.args.slice(-4)).toEqual(['--', bundledNode, EVERYTHING_SERVER, 'stdio']);
    // Nothing version-specific in the paths: an upgrade in place keeps every wrapped config working.
    expect(`${entry.command} ${entry.args[0]}`).not.toContain(version);

    const status = await thoth(['status', '--json'], env);
    expect(status.code, status.stdout + status.stderr).toBe(0);
    const servers = (
      JSON.parse(status.stdout) as {result: {clients: Array<{servers: Array<{server: string; state: string; problems: string[]}>}>}}
    ).result.clients.flatMap((c) => c.servers);
    expect(servers).toEqual([expect.objectContaining({server: 'everything', state: 'governed', problems: []})]);

    // Start the entry exactly as the client would: its command, args and env, and no node on PATH.
    const {client} = await connect(entry.command, entry.args, {...env, ...entry.env});
    try {
      expect(await callText(client, 'echo', {message: 'wrapped'})).toBe('Echo: wrapped');
    } finally {
      await client.close();
    }

    const unwrapped = await thoth(['unwrap-config'], env);
    expect(unwrapped.code, unwrapped.stderr).toBe(0);
    expect(await readFile(config, 'utf8')).toBe(original);
  });
});
