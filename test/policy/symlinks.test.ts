import {mkdir, realpath, rename, symlink, unlink, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {protectedPaths} from '../../src/policy/session.js';
import type {PolicyDocument} from '../../src/policy/model.js';
import {NODE_FILE_LINKS, type FileLinks} from '../../src/policy/links.js';
import type {PathEnvironment} from '../../src/policy/paths.js';
import {tempDir} from '../helpers/tmp.js';
import {compile, decideCall} from './policy-helpers.js';

/**
 * A real home: ~/.ssh (blocked), ~/work (allowed) with links out of it, ~/vault reached through
 * the link ~/secrets, and a thoth profile in ~/.thoth.
 */
async function linkedHome(): Promise<{home: string; env: Partial<PathEnvironment>}> {
  const home = await realpath(await tempDir());
  await mkdir(join(home, '.ssh/keys'), {recursive: true});
  await writeFile(join(home, '.ssh/id_rsa'), 'KEY');
  await mkdir(join(home, 'work'));
  await writeFile(join(home, 'work/notes.md'), 'notes');
  await symlink(join(home, '.ssh'), join(home, 'work/link'));
  await symlink(join(home, '.ssh/keys'), join(home, 'work/sub'));
  await symlink(join(home, '.ssh/authorized_keys'), join(home, 'work/dangling'));
  await symlink('loop2', join(home, 'work/loop1'));
  await symlink('loop1', join(home, 'work/loop2'));
  await mkdir(join(home, 'vault'));
  await symlink(join(home, 'vault'), join(home, 'secrets'));
  await mkdir(join(home, '.thoth'));
  await symlink(join(home, '.thoth'), join(home, 'work/profile'));
  return {home, env: {home, cwd: join(home, 'work'), flavour: 'posix', caseInsensitive: false}};
}

/** Reads in ~/work are allowed, everything else is refused in block mode; keys are blocked. */
const POLICY: PolicyDocument = {
  agents: {
    fs: {
      approved_scope: [],
      rules: [{id: 'workspace', tool: ['read_file', 'write_file'], args: {path: {path_within: '~/work'}}, decision: 'allow'}],
    },
  },
  rules: [{id: 'no-keys', tool: '*', args: {'*': {path_glob: '~/.ssh/**'}}, decision: 'block', reason: 'keys are off limits'}],
};

describe('symbolic links in path arguments (real links in a temp dir)', () => {
  it('a block rule applies when the resolved path matches, though the path as written does not', async () => {
    const {home, env} = await linkedHome();
    const policy = compile(POLICY, env);
    expect(decideCall(policy, 'read_file', {path: '~/work/notes.md'})).toMatchObject({decision: 'allow', ruleId: 'rule:workspace'});
    const viaLink = decideCall(policy, 'read_file', {path: '~/work/link/id_rsa'});
    expect(viaLink).toMatchObject({decision: 'block', ruleId: 'rule:no-keys', reason: 'keys are off limits'});
    // The trace says where the path led, before the rules that saw it.
    const trace = viaLink.trace ?? [];
    const note = trace.indexOf(`symlink: "~/work/link/id_rsa" → ${home}/.ssh/id_rsa`);
    expect(note).toBeGreaterThan(0);
    expect(note).toBeLessThan(trace.indexOf('rule:no-keys (rules[0]) matches → block'));
    // Relative, file: URL and dangling-link (write target) spellings lead to the same place.
    expect(decideCall(policy, 'read_file', {path: 'link/id_rsa'}).ruleId).toBe('rule:no-keys');
    expect(decideCall(policy, 'read_file', {path: `file://${home}/work/link/id_rsa`}).ruleId).toBe('rule:no-keys');
    expect(decideCall(policy, 'write_file', {path: '~/work/dangling', content: 'ssh-rsa AAA'}).ruleId).toBe('rule:no-keys');
    expect(decideCall(policy, 'write_file', {path: '~/work/link/new/file', content: 'x'}).ruleId).toBe('rule:no-keys');
  });

  it('.. after a link counts where the kernel takes it', async () => {
    const {env} = await linkedHome();
    const policy = compile(POLICY, env);
    // Lexically ~/work/id_rsa; the kernel: ~/.ssh/keys/.. → ~/.ssh/id_rsa.
    expect(decideCall(policy, 'read_file', {path: '~/work/sub/../id_rsa'}).ruleId).toBe('rule:no-keys');
    expect(decideCall(policy, 'read_file', {path: '~/work/link/../work/notes.md'}).decision).toBe('allow');
  });

  it('an allow rule applies only if both the written and the resolved path satisfy it', async () => {
    const {home, env} = await linkedHome();
    await mkdir(join(home, 'elsewhere'));
    await symlink(join(home, 'elsewhere'), join(home, 'work/out'));
    // No block rule at all: only the allow rule could admit the call.
    const allowOnly = compile({agents: {fs: {approved_scope: [], rules: POLICY.agents!['fs']!.rules!}}}, env);
    expect(decideCall(allowOnly, 'read_file', {path: '~/work/notes.md'}).decision).toBe('allow');
    expect(decideCall(allowOnly, 'read_file', {path: '~/work/out/file'})).toMatchObject({decision: 'block', ruleId: 'mode:block'});
    // The reverse: written outside, resolved inside (~/elsewhere/in → ~/work) is not enough either.
    await symlink(join(home, 'work'), join(home, 'elsewhere/in'));
    expect(decideCall(allowOnly, 'read_file', {path: '~/elsewhere/in/notes.md'}).ruleId).toBe('mode:block');
    // Under `not`: "anything but keys" is not satisfied by a link into the keys.
    const allowNotKeys = compile(
      {
        agents: {
          fs: {
            approved_scope: [],
            rules: [{id: 'not-keys', tool: 'read_file', args: {path: {not: {path_glob: '~/.ssh/**'}}}, decision: 'allow'}],
          },
        },
      },
      env,
    );
    expect(decideCall(allowNotKeys, 'read_file', {path: '~/work/notes.md'}).ruleId).toBe('rule:not-keys');
    expect(decideCall(allowNotKeys, 'read_file', {path: '~/work/link/id_rsa'}).ruleId).toBe('mode:block');
  });

  it('a restrictive rule applies if either path satisfies it, under `not` too', async () => {
    const {home, env} = await linkedHome();
    await mkdir(join(home, 'elsewhere'));
    await symlink(join(home, 'elsewhere'), join(home, 'work/out'));
    const outsideNeedsApproval = compile(
      {
        agents: {
          fs: {
            approved_scope: ['read_file'],
            rules: [{id: 'stay-in-work', tool: 'read_file', args: {path: {not: {path_within: '~/work'}}}, decision: 'step_up'}],
          },
        },
      },
      env,
    );
    expect(decideCall(outsideNeedsApproval, 'read_file', {path: '~/work/notes.md'}).ruleId).toBe('scope:approved');
    expect(decideCall(outsideNeedsApproval, 'read_file', {path: '~/work/out/x'})).toMatchObject({
      decision: 'step_up',
      ruleId: 'rule:stay-in-work',
    });
    // One element of an array argument is enough for a restrictive rule.
    const policy = compile(POLICY, env);
    expect(decideCall(policy, 'read_file', {paths: ['~/work/notes.md', '~/work/link/config']}).ruleId).toBe('rule:no-keys');
  });

  it('a link that cannot be followed (a loop) counts in the restrictive direction', async () => {
    const {env} = await linkedHome();
    const policy = compile(POLICY, env);
    const looped = decideCall(policy, 'read_file', {path: '~/work/loop1/x'});
    // The block rule counts it as a possible key; the allow rule does not vouch for it.
    expect(looped).toMatchObject({decision: 'block', ruleId: 'rule:no-keys'});
    expect(looped.trace).toContain('symlink: "~/work/loop1/x" cannot be resolved (ELOOP); path rules read it in the restrictive direction');
    const allowOnly = compile({agents: {fs: {approved_scope: [], rules: POLICY.agents!['fs']!.rules!}}}, env);
    expect(decideCall(allowOnly, 'read_file', {path: '~/work/loop1/x'}).ruleId).toBe('mode:block');
  });

  it('paths written in the policy match where their links lead (resolved when the policy is compiled)', async () => {
    const {env} = await linkedHome();
    // ~/secrets is a link to ~/vault, as /tmp is to /private/tmp on macOS.
    const policy = compile(
      {
        agents: {fs: {approved_scope: ['read_file']}},
        rules: [
          {id: 'glob', tool: 'read_file', args: {path: {path_glob: '~/secrets/**'}}, decision: 'block'},
          {id: 'within', tool: 'write_file', args: {path: {path_within: '~/secrets'}}, decision: 'allow'},
        ],
      },
      env,
    );
    expect(decideCall(policy, 'read_file', {path: '~/secrets/a'}).ruleId).toBe('rule:glob');
    expect(decideCall(policy, 'read_file', {path: '~/vault/a'}).ruleId).toBe('rule:glob');
    expect(decideCall(policy, 'read_file', {path: '~/work/a'}).ruleId).toBe('scope:approved');
    // Allow: the written and the resolved argument each lie in one of the rule's forms.
    expect(decideCall(policy, 'write_file', {path: '~/secrets/new.txt'}).ruleId).toBe('rule:within');
    expect(decideCall(policy, 'write_file', {path: '~/vault/new.txt'}).ruleId).toBe('rule:within');
  });

  it('follows links afresh for every decision: a link swapped between two calls is seen', async () => {
    const {home, env} = await linkedHome();
    await mkdir(join(home, 'work/docs'));
    const policy = compile(POLICY, env);
    expect(decideCall(policy, 'read_file', {path: '~/work/docs/id_rsa'}).decision).toBe('allow');
    await rename(join(home, 'work/docs'), join(home, 'work/docs-old'));
    await symlink(join(home, '.ssh'), join(home, 'work/docs'));
    expect(decideCall(policy, 'read_file', {path: '~/work/docs/id_rsa'}).ruleId).toBe('rule:no-keys');
    await unlink(join(home, 'work/docs'));
    expect(decideCall(policy, 'read_file', {path: '~/work/docs/id_rsa'}).decision).toBe('allow');
  });

  it('shares the answers between the decisions of one turn of the event loop only; the next turn asks again', async () => {
    const {home, env} = await linkedHome();
    const questions: string[] = [];
    const counting: FileLinks = {
      exists: (path) => (questions.push(path), NODE_FILE_LINKS.exists(path)),
      entry: (path) => (questions.push(path), NODE_FILE_LINKS.entry(path)),
      realpath: (path) => (questions.push(path), NODE_FILE_LINKS.realpath(path)),
      readlink: (path) => (questions.push(path), NODE_FILE_LINKS.readlink(path)),
    };
    const policy = compile(POLICY, {...env, links: counting});
    await new Promise((resolve) => setImmediate(resolve));
    questions.length = 0;
    // The calls of one chunk of input are decided in one turn: the second asks nothing new.
    expect(decideCall(policy, 'read_file', {path: '~/work/docs/a.md'}).decision).toBe('allow');
    const first = questions.length;
    expect(first).toBeGreaterThan(0);
    expect(decideCall(policy, 'read_file', {path: '~/work/docs/a.md'}).decision).toBe('allow');
    expect(questions.length).toBe(first);
    // A later turn (a later chunk: any call whose effect it could see was forwarded before it) asks again.
    await symlink(join(home, '.ssh'), join(home, 'work/docs'));
    expect(decideCall(policy, 'read_file', {path: '~/work/docs/a.md'}).ruleId).toBe('rule:no-keys');
    expect(questions.length).toBeGreaterThan(first);
  });

  it('keeps case folding after resolution', async () => {
    const {home, env} = await linkedHome();
    await mkdir(join(home, 'Work2'));
    await symlink(join(home, '.ssh'), join(home, 'Work2/Link'));
    const policy = compile(POLICY, {...env, caseInsensitive: true});
    expect(decideCall(policy, 'read_file', {path: '~/Work2/Link/ID_RSA'}).ruleId).toBe('rule:no-keys');
  });

  it('without an injected file system, paths stay lexical (the resolver is the only difference)', async () => {
    const {env} = await linkedHome();
    const policy = compile(POLICY, {...env, links: undefined});
    expect(decideCall(policy, 'read_file', {path: '~/work/link/id_rsa'}).decision).toBe('allow');
  });
});

describe("thoth's own files through symbolic links", () => {
  it('blocks a path that leads into the profile or to the policy through a link', async () => {
    const {home, env} = await linkedHome();
    const policyFile = join(home, 'vault/policy.json');
    await writeFile(policyFile, '{}');
    await symlink(policyFile, join(home, 'work/p.json'));
    const policy = compile(POLICY, env);
    const hooks = {protectedPaths: protectedPaths({...policy, source: {kind: 'flag', path: policyFile}}, join(home, '.thoth'), home)};
    const viaLink = decideCall(policy, 'read_file', {path: '~/work/profile/approvals.json'}, {hooks});
    expect(viaLink).toMatchObject({decision: 'block', ruleId: 'builtin:protect-thoth-files'});
    expect(viaLink.reason).toContain(`(through a symbolic link to ${home}/.thoth/approvals.json)`);
    expect(viaLink.trace).toContain(
      `thoth files: "~/work/profile/approvals.json" (through a symbolic link to ${home}/.thoth/approvals.json) is protected`,
    );
    // Any argument, not only those named "path"; a link to the policy file itself; a write target in the profile.
    expect(decideCall(policy, 'read_file', {path: '~/work/notes.md', extra: 'profile/pins/fs.json'}, {hooks}).ruleId).toBe(
      'builtin:protect-thoth-files',
    );
    expect(decideCall(policy, 'read_file', {path: '~/work/p.json'}, {hooks}).ruleId).toBe('builtin:protect-thoth-files');
    expect(decideCall(policy, 'write_file', {path: '~/work/profile/new'}, {hooks}).ruleId).toBe('builtin:protect-thoth-files');
    expect(decideCall(policy, 'read_file', {path: '~/work/notes.md', content: 'hello world'}, {hooks}).decision).toBe('allow');
  });

  it('protects the profile where its own links lead (a profile reached through a link)', async () => {
    const {home, env} = await linkedHome();
    const policy = compile(POLICY, env);
    // THOTH_HOME names ~/secrets, a link to ~/vault: ~/vault is protected too.
    const hooks = {protectedPaths: protectedPaths(policy, join(home, 'secrets'), home)};
    expect(decideCall(policy, 'write_file', {path: `${home}/vault/approvals.json`}, {hooks}).ruleId).toBe('builtin:protect-thoth-files');
    expect(decideCall(policy, 'write_file', {path: '~/secrets/approvals.json'}, {hooks}).ruleId).toBe('builtin:protect-thoth-files');
  });
});
