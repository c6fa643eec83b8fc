import {mkdir, realpath, symlink, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import type {ToolCall} from '../../src/core/decision.js';
import {composeRunGovernance} from '../../src/run/compose.js';
import {BUILTIN_POLICY} from '../../src/policy/builtin-policy.js';
import {protectedPaths} from '../../src/policy/session.js';
import {NODE_FILE_LINKS, type FileLinks} from '../../src/policy/links.js';
import type {PolicyDocument} from '../../src/policy/model.js';
import {PathReader} from '../../src/policy/path-reader.js';
import {compactRelative, MAX_PATH_CHARS, relativeFor, type PathEnvironment} from '../../src/policy/paths.js';
import {isDirectory, serverDirectories} from '../../src/policy/server-directories.js';
import type {SessionState} from '../../src/governance/types.js';
import type {RunOptions} from '../../src/core/run-flags.js';
import {resolveSettings} from '../../src/settings/resolve.js';
import {tempDir} from '../helpers/tmp.js';
import {compile, decideCall, toolCall} from './policy-helpers.js';

/** The built-in policy's credential rule, with every tool pre-approved so that only rules decide. */
const CREDENTIALS: PolicyDocument = {...BUILTIN_POLICY, defaults: {mode: 'block', approved_scope: '*'}};

/**
 * A real home with keys and a thoth profile; thoth runs elsewhere (/srv/app), as it does when
 * the MCP client starts it with another working directory than the server's root.
 */
async function home(): Promise<{home: string; env: Partial<PathEnvironment>}> {
  const home = await realpath(await tempDir());
  await mkdir(join(home, '.ssh'));
  await writeFile(join(home, '.ssh/id_rsa'), 'KEY');
  await mkdir(join(home, '.thoth'));
  await mkdir(join(home, 'work'));
  return {home, env: {home, cwd: '/srv/app', flavour: 'posix', caseInsensitive: false}};
}

describe('relative paths are read against every base a server could use', () => {
  it("against the user's home: .ssh/id_rsa is the key for a server rooted there", async () => {
    const {env} = await home();
    const policy = compile(CREDENTIALS, env);
    expect(decideCall(policy, 'read_text_file', {path: '.ssh/id_rsa'})).toMatchObject({
      decision: 'step_up',
      ruleId: 'rule:builtin-credential-files',
    });
    expect(decideCall(policy, 'read_text_file', {path: './.ssh/../.ssh/id_rsa'}).ruleId).toBe('rule:builtin-credential-files');
    expect(decideCall(policy, 'read_text_file', {path: 'work/notes.md'}).ruleId).toBe('scope:approved');
  });

  it("against the user's home: thoth's own files are protected from a relative path", async () => {
    const {home: dir, env} = await home();
    const policy = compile(CREDENTIALS, env);
    const hooks = {protectedPaths: protectedPaths(policy, join(dir, '.thoth'), dir)};
    const refused = decideCall(policy, 'write_file', {path: '.thoth/approvals.json', content: '{}'}, {hooks});
    expect(refused).toMatchObject({decision: 'block', ruleId: 'builtin:protect-thoth-files'});
    expect(refused.reason).toContain(`(read as ${dir}/.thoth/approvals.json)`);
    expect(decideCall(policy, 'write_file', {path: 'work/a.txt', content: '{}'}, {hooks}).ruleId).toBe('scope:approved');
  });

  it("against the server's command-line directories and the client's roots", async () => {
    const {env} = await home();
    const root = await realpath(await tempDir());
    const rules: PolicyDocument = {
      defaults: {mode: 'block', approved_scope: '*'},
      rules: [{id: 'root-secrets', tool: '*', args: {'*': {path_glob: `${root}/secret/**`}}, decision: 'block'}],
    };
    let bases: string[] = [];
    const policy = compile(rules, {...env, relativeBases: () => bases});
    expect(decideCall(policy, 'read_file', {path: 'secret/key'}).ruleId).toBe('scope:approved');
    bases = [root];
    expect(decideCall(policy, 'read_file', {path: 'secret/key'})).toMatchObject({decision: 'block', ruleId: 'rule:root-secrets'});
    expect(decideCall(policy, 'read_file', {path: `${root}/secret/key`}).ruleId).toBe('rule:root-secrets');
  });

  it('the most restrictive reading wins: an allow rule needs every base to agree', async () => {
    const {env} = await home();
    const workspace = compile(
      {
        agents: {
          fs: {approved_scope: [], rules: [{id: 'ws', tool: 'read_file', args: {path: {path_within: '/srv/app'}}, decision: 'allow'}]},
        },
      },
      env,
    );
    expect(decideCall(workspace, 'read_file', {path: '/srv/app/notes.md'}).ruleId).toBe('rule:ws');
    // Against the working directory inside /srv/app, against home outside it.
    expect(decideCall(workspace, 'read_file', {path: 'notes.md'}).ruleId).toBe('mode:block');
    // Both bases inside the allowed directory: the relative path is allowed.
    const inside = compile(
      {agents: {fs: {approved_scope: [], rules: [{id: 'ws', tool: 'read_file', args: {path: {path_within: '/srv'}}, decision: 'allow'}]}}},
      {...env, home: '/srv/home'},
    );
    expect(decideCall(inside, 'read_file', {path: 'notes.md'}).ruleId).toBe('rule:ws');
  });

  it("win32: against each base, root-relative (\\x) on each base's drive", () => {
    const reader = new PathReader({
      home: 'C:\\Users\\Ann',
      cwd: 'C:\\work',
      flavour: 'win32',
      caseInsensitive: true,
      relativeBases: () => ['D:\\data'],
    });
    expect(reader.read('.ssh\\id_rsa')?.forms).toEqual(['c:/work/.ssh/id_rsa', 'c:/users/ann/.ssh/id_rsa', 'd:/data/.ssh/id_rsa']);
    expect(reader.read('..\\..\\x')?.forms).toEqual(['c:/x', 'd:/x']);
    expect(reader.read('\\etc\\x')?.forms).toEqual(['c:/etc/x', 'd:/etc/x']);
    expect(reader.read('C:\\Users\\Ann\\.ssh')?.forms).toEqual(['c:/users/ann/.ssh']);
    // cmd.exe and PowerShell take a backslash as a separator, not an escape.
    const words = reader.readArgument('type C:\\Users\\Ann\\.ssh\\id_rsa & dir notes.txt.').words;
    expect(words.map((word) => word.reading?.forms[0])).toEqual(['c:/users/ann/.ssh/id_rsa', 'c:/work/notes.txt']);
  });

  it('absolute and ~ arguments ask the file system nothing per base', async () => {
    const {env} = await home();
    const asked: string[] = [];
    const counting: FileLinks = {
      exists: (path) => (asked.push(path), false),
      entry: (path) => (asked.push(path), undefined),
      realpath: (path) => (asked.push(path), path),
      readlink: (path) => (asked.push(path), ''),
    };
    let basesAsked = 0;
    const reader = new PathReader({...(env as PathEnvironment), links: counting, relativeBases: () => (basesAsked++, ['/a', '/b', '/c'])});
    reader.read('/etc/passwd');
    reader.read('~/.ssh/id_rsa');
    expect(basesAsked).toBe(0);
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.filter((path) => /^\/(a|b|c|srv)(\/|$)/.test(path))).toEqual([]);
    // A relative one is read against each base, which are asked for once per decision.
    expect(reader.read('x/y')?.forms).toEqual(['/srv/app/x/y', `${env.home}/x/y`, '/a/x/y', '/b/x/y', '/c/x/y']);
    reader.read('z');
    expect(basesAsked).toBe(1);
  });
});

describe('no length skips a check: arguments are normalised first', () => {
  it('HOME/./././…/.ssh/id_rsa (5000 times) is the key', async () => {
    const {home: dir, env} = await home();
    const policy = compile(CREDENTIALS, env);
    const padded = `${dir}/${'./'.repeat(5000)}.ssh/id_rsa`;
    expect(padded.length).toBeGreaterThan(MAX_PATH_CHARS / 4);
    expect(decideCall(policy, 'read_text_file', {path: padded}).ruleId).toBe('rule:builtin-credential-files');
    const longer = `${dir}/${'./'.repeat(20_000)}.ssh/id_rsa`;
    expect(longer.length).toBeGreaterThan(MAX_PATH_CHARS);
    expect(decideCall(policy, 'read_text_file', {path: longer}).ruleId).toBe('rule:builtin-credential-files');
    expect(decideCall(policy, 'read_text_file', {path: `${dir}/${'x/../'.repeat(10_000)}.ssh/id_rsa`}).ruleId).toBe(
      'rule:builtin-credential-files',
    );
    expect(decideCall(policy, 'read_text_file', {path: `${'./'.repeat(20_000)}.ssh/id_rsa`}).ruleId).toBe('rule:builtin-credential-files');
  });

  it("a padded path into thoth's own files is refused, however long", async () => {
    const {home: dir, env} = await home();
    const policy = compile(CREDENTIALS, env);
    const hooks = {protectedPaths: protectedPaths(policy, join(dir, '.thoth'), dir)};
    for (const padding of [2500, 20_000]) {
      const padded = `${dir}/${'./'.repeat(padding)}.thoth/approvals.json`;
      expect(decideCall(policy, 'write_file', {path: padded, content: '{}'}, {hooks}).ruleId).toBe('builtin:protect-thoth-files');
      expect(decideCall(policy, 'write_file', {path: `~/${'/'.repeat(padding)}.thoth/x`, content: '{}'}, {hooks}).ruleId).toBe(
        'builtin:protect-thoth-files',
      );
    }
  });

  it('a path too long to name a file, once normalised, matches nothing (and is not unknown)', async () => {
    const {env} = await home();
    const policy = compile(CREDENTIALS, env);
    const tooLong = `~/.ssh/${'a/'.repeat(MAX_PATH_CHARS)}id_rsa`;
    expect(decideCall(policy, 'read_text_file', {path: tooLong}).ruleId).toBe('scope:approved');
    // A long text (a file's content) is not a path, and costs no restrictive reading either.
    expect(decideCall(policy, 'write_file', {path: '/srv/app/a.txt', content: 'x'.repeat(5_000_000)}).ruleId).toBe('scope:approved');
  });

  it('resolving links stays linear in the number of names: a/../a/../… of 30 000 characters', async () => {
    const {home: dir, env} = await home();
    await symlink(join(dir, '.ssh'), join(dir, 'work/keys'));
    const policy = compile(CREDENTIALS, env);
    const climbing = `${dir}/${'work/../'.repeat(3500)}work/keys/id_rsa`;
    expect(climbing.length).toBeLessThan(MAX_PATH_CHARS);
    expect(decideCall(policy, 'read_text_file', {path: climbing}).ruleId).toBe('rule:builtin-credential-files');
  });

  it('compacts a relative path once, whatever the bases', () => {
    expect(compactRelative('./././x/./y', 'posix')).toEqual({up: 0, rest: 'x/y'});
    expect(compactRelative('../../a/../b', 'posix')).toEqual({up: 2, rest: 'b'});
    expect(compactRelative('..', 'posix')).toEqual({up: 1, rest: ''});
    expect(compactRelative('.', 'posix')).toEqual({up: 0, rest: ''});
    expect(relativeFor({up: 5000, rest: 'x'}, '/home/ann', 'posix')).toBe('../../x');
    expect(compactRelative('..\\..\\a', 'win32')).toEqual({up: 2, rest: 'a'});
  });
});

describe("the server's command-line directories", () => {
  it('are the existing directories among its arguments and --name=value values, ~ expanded', async () => {
    const {home: dir} = await home();
    const io = {cwd: dir, home: dir, isDirectory};
    const args = [
      '-y',
      '@modelcontextprotocol/server-filesystem',
      join(dir, 'work'),
      '~/.ssh',
      '--root=/tmp',
      'ROOT=work',
      'missing',
      `file://${dir}/.thoth`,
      join(dir, '.ssh/id_rsa'),
    ];
    expect(serverDirectories(args, io)).toEqual([join(dir, 'work'), join(dir, '.ssh'), '/tmp', join(dir, '.thoth')]);
  });

  it('and the client roots reach path rules through thoth run governance (compose.ts)', async () => {
    const root = await realpath(await tempDir());
    const fromCommandLine = await realpath(await tempDir());
    const profile = await tempDir();
    const policyFile = join(profile, 'policy.json');
    await writeFile(
      policyFile,
      JSON.stringify({
        defaults: {mode: 'block', approved_scope: '*'},
        rules: [
          {id: 'root-secrets', tool: '*', args: {'*': {path_glob: `${root}/secret/**`}}, decision: 'block'},
          {id: 'server-secrets', tool: '*', args: {'*': {path_glob: `${fromCommandLine}/secret/**`}}, decision: 'block'},
        ],
      }),
    );
    const env = {THOTH_HOME: profile, THOTH_POLICY_FILE: policyFile, THOTH_AUDIT: 'off'};
    const settings = await resolveSettings({env, home: profile, cwd: profile, platform: 'linux'});
    const options: RunOptions = {
      agentId: 'fs',
      filterTools: false,
      maxMessageBytes: 1 << 20,
      shutdownGraceMs: 100,
      command: process.execPath,
      args: ['server.js', fromCommandLine],
    };
    const session: SessionState = {sessionId: 's', sessionToolCalls: []};
    const governance = await composeRunGovernance(options, session, {env, settings, warn: () => undefined});
    const signal = new AbortController().signal;
    const decide = async (call: ToolCall) => {
      const outcome = await governance.governor.govern(
        call,
        governance.context,
        'r',
        {capabilities: {}, request: async () => ({})},
        signal,
      );
      return outcome.ticket.decision.ruleId;
    };
    try {
      expect(await decide(toolCall('read_file', {path: 'secret/key'}))).toBe('rule:server-secrets');
      // Roots change during a session: each decision reads the latest. (Both rules block; the earlier names the call.)
      session.clientRoots = [root];
      expect(await decide(toolCall('read_file', {path: 'secret/key'}))).toBe('rule:root-secrets');
      session.clientRoots = [await realpath(await tempDir())];
      expect(await decide(toolCall('read_file', {path: 'secret/key'}))).toBe('rule:server-secrets');
      expect(await decide(toolCall('read_file', {path: 'notes.md'}))).toBe('scope:approved');
    } finally {
      await governance.close();
    }
  });
});

describe('words read without following links are still normalised', () => {
  it('src//./x of a command is <base>/src/x', async () => {
    const {env} = await home();
    // (Nothing named src exists under either base: the word is read without following links.)
    const reader = new PathReader({...(env as PathEnvironment), links: NODE_FILE_LINKS});
    const words = reader.readArgument('cat src//./x ../.ssh/./id_rsa').words;
    expect(words.map((word) => word.reading?.forms)).toEqual([
      ['/srv/app/src/x', `${env.home}/src/x`],
      ['/srv/.ssh/id_rsa', `${env.home!.slice(0, env.home!.lastIndexOf('/'))}/.ssh/id_rsa`],
    ]);
  });
});
