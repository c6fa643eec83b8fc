import {mkdir, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {BUILTIN_POLICY} from '../../src/policy/builtin-policy.js';
import {loadPolicy, loadPolicyFile, managedPolicyPath, parsePolicyText, policyCandidates} from '../../src/policy/load.js';
import {loadValidator} from '../../src/util/validators.js';
import {tempDir} from '../helpers/tmp.js';
import {compile, decideCall} from './policy-helpers.js';

const VALID = `{
  // JSONC: comments and trailing commas are fine
  "version": "2026-11-22.1",
  "agents": {
    "filesystem": {"mode": "block", "approved_scope": ["read_file"],},
  },
}
`;

async function write(dir: string, name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await mkdir(join(path, '..'), {recursive: true});
  await writeFile(path, text);
  return path;
}

describe('parsing and validation', () => {
  it('loads JSONC and binds approvals to label + content hash', async () => {
    const result = await parsePolicyText(VALID, {kind: 'flag', path: 'p.jsonc'});
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.policy.version).toMatch(/^2026-11-22\.1@sha256:[0-9a-f]{16}$/);
    const edited = await parsePolicyText(VALID.replace('"read_file"', '"read_file", "list_directory"'), {kind: 'flag', path: 'p.jsonc'});
    expect(edited.ok && edited.policy.version).not.toBe(result.policy.version);
    // Formatting and comments do not change the version: only content does.
    const reformatted = await parsePolicyText(JSON.stringify(JSON.parse(VALID.replace(/\/\/.*\n/, '').replace(/,(\s*[}\]])/g, '$1'))), {
      kind: 'flag',
      path: 'p.json',
    });
    expect(reformatted.ok && reformatted.policy.version).toBe(result.policy.version);
  });

  it.each([
    [
      '{"agents": {"fs": {"mode": "blok"}}}',
      /p\.json:1:20 at \/agents\/fs\/mode: must be one of "progressive", "step_up", "block", "observe"/,
    ],
    ['{\n  "agents": {},\n  "rulez": []\n}', /p\.json:3:3 at \/rulez: unknown property "rulez"/],
    ['{"rules": [{"tool": "x"}]}', /at \/rules\/0: missing required property "decision"/],
    ['{"rules": [{"decision": "block"}]}', /at \/rules\/0: a rule needs "tool"/],
    [
      '{"rules": [{"tool": "x", "decision": "block", "args": {"p": {"regex": "(unclosed"}}}]}',
      /at \/rules\/0\/args\/p\/regex: invalid regular expression/,
    ],
    ['{"rules": [{"tool": "x", "decision": "block", "tool_regex": "["}]}', /at \/rules\/0\/tool_regex: invalid regular expression/],
    [
      '{"rules": [{"tool": "x", "decision": "allow", "args": {"p": {"path_within": ["work"]}}}]}',
      /at \/rules\/0\/args\/p\/path_within\/0: "work" must be an absolute path or start with ~\//,
    ],
    [
      '{"agents": {"a": {"intent": "nope"}}, "intents": {"yes": {"tools": "x"}}}',
      /at \/agents\/a\/intent: intent "nope" is not defined under "intents" \(defined: yes\)/,
    ],
    [
      '{"rules": [{"id": "same", "tool": "a", "decision": "block"}, {"id": "same", "tool": "b", "decision": "block"}]}',
      /at \/rules\/1\/id: duplicate rule id "same"/,
    ],
    ['{"rules": [{"tool": "a", "decision": "block", "args": {"n": {"min": 5, "max": 1}}}]}', /min \(5\) is greater than max \(1\)/],
    ['{"agents": {', /p\.json:1:\d+ at \/: invalid JSON/],
    ['', /invalid JSON/],
    ['[]', /at \/: must be object/],
  ])('%s is refused with file:line:col, pointer and message', async (text, expected) => {
    const result = await parsePolicyText(text, {kind: 'flag', path: 'p.json'});
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.failure.message).toMatch(expected);
    expect(result.failure.message).toContain('thoth policy validate p.json');
  });

  it('the built-in default policy is valid against the schema and compiles', async () => {
    const validate = await loadValidator('policy');
    expect(validate(BUILTIN_POLICY)).toBe(true);
    const policy = compile(BUILTIN_POLICY);
    expect(decideCall(policy, 'read_file', {path: '~/.aws/credentials'}, {mode: 'progressive'})).toMatchObject({
      decision: 'step_up',
      ruleId: 'rule:builtin-credential-files',
    });
  });

  it('every fixture policy is valid', async () => {
    const dir = join(import.meta.dirname, '../../fixtures/policies');
    for (const name of ['filesystem.jsonc', 'phi-intent.json', 'everything-e2e.jsonc']) {
      const result = await loadPolicyFile(join(dir, name));
      expect(result.ok ? 'ok' : result.failure.message).toBe('ok');
    }
  });
});

describe('sources', () => {
  it('managed location per operating system', () => {
    expect(managedPolicyPath('darwin', {})).toBe('/Library/Application Support/thoth/policy.json');
    expect(managedPolicyPath('linux', {})).toBe('/etc/thoth/policy.json');
    expect(managedPolicyPath('win32', {ProgramData: 'D:\\ProgramData'})).toBe('D:\\ProgramData\\thoth\\policy.json');
    expect(managedPolicyPath('win32', {})).toBe('C:\\ProgramData\\thoth\\policy.json');
    expect(managedPolicyPath('linux', {}, '/tmp/root')).toBe('/tmp/root/etc/thoth/policy.json');
  });

  it('are tried in order: managed location, --policy, THOTH_POLICY_FILE, profile, built-in (what an administrator installed governs)', async () => {
    const dir = await tempDir();
    const home = join(dir, 'home');
    const root = join(dir, 'root');
    const env = {THOTH_HOME: home};
    const options = {env, managedRoot: root, platform: 'linux' as const, cwd: dir};
    expect(
      policyCandidates({...options, flag: 'flag.json', env: {...env, THOTH_POLICY_FILE: 'env.json'}}).map((c) => [c.kind, c.path]),
    ).toEqual([
      ['managed', join(root, 'etc/thoth/policy.json')],
      ['flag', join(dir, 'flag.json')],
      ['env', join(dir, 'env.json')],
      ['profile', join(home, 'policy.json')],
    ]);
    // A file named by a managed preference is managed, and nothing the entry names competes with it.
    expect(
      policyCandidates({...options, managedFile: '/opt/corp/policy.json', env: {...env, THOTH_POLICY_FILE: 'env.json'}}).map((c) => [
        c.kind,
        c.path,
      ]),
    ).toEqual([
      ['managed', '/opt/corp/policy.json'],
      ['managed', join(root, 'etc/thoth/policy.json')],
      ['profile', join(home, 'policy.json')],
    ]);

    const sourceOf = async (extra: {flag?: string; env?: Record<string, string>} = {}) => {
      const result = await loadPolicy({...options, ...(extra.flag ? {flag: extra.flag} : {}), env: {...env, ...extra.env}});
      if (!result.ok) throw new Error(result.failure.message);
      return [result.policy.source.kind, result.policy.label];
    };
    expect(await sourceOf()).toEqual(['builtin', 'builtin-1']);
    await write(home, 'policy.json', '{"version": "profile"}');
    expect(await sourceOf()).toEqual(['profile', 'profile']);
    await write(dir, 'env.json', '{"version": "env"}');
    expect(await sourceOf({env: {THOTH_POLICY_FILE: join(dir, 'env.json')}})).toEqual(['env', 'env']);
    await write(dir, 'flag.json', '{"version": "flag"}');
    expect(await sourceOf({flag: 'flag.json', env: {THOTH_POLICY_FILE: join(dir, 'env.json')}})).toEqual(['flag', 'flag']);
    await write(root, 'etc/thoth/policy.json', '{"version": "managed"}');
    expect(await sourceOf()).toEqual(['managed', 'managed']);
    // An entry's --policy or THOTH_POLICY_FILE no longer replaces what the administrator installed.
    expect(await sourceOf({flag: 'flag.json', env: {THOTH_POLICY_FILE: join(dir, 'env.json')}})).toEqual(['managed', 'managed']);
  });

  it('a named file that is missing fails instead of falling back', async () => {
    const dir = await tempDir();
    const result = await loadPolicy({flag: join(dir, 'missing.json'), env: {THOTH_HOME: dir}, managedRoot: dir});
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.failure.message).toMatch(/missing\.json does not exist \(named by --policy\)/);
    const viaEnv = await loadPolicy({env: {THOTH_HOME: dir, THOTH_POLICY_FILE: join(dir, 'nope.json')}, managedRoot: dir});
    expect(!viaEnv.ok && viaEnv.failure.message).toMatch(/named by THOTH_POLICY_FILE/);
  });

  it('a managed policy that exists but is unusable fails closed rather than falling back to the profile', async () => {
    const dir = await tempDir();
    const home = join(dir, 'home');
    await write(home, 'policy.json', '{"version": "weaker"}');
    await mkdir(join(dir, 'root/etc/thoth/policy.json'), {recursive: true});
    const asDirectory = await loadPolicy({env: {THOTH_HOME: home}, managedRoot: join(dir, 'root'), platform: 'linux'});
    expect(!asDirectory.ok && asDirectory.failure.message).toMatch(/etc\/thoth\/policy\.json is not a file/);

    await write(dir, 'root2/etc/thoth/policy.json', '{"agents": {"a": {"mode": "permissive"}}}');
    const invalid = await loadPolicy({env: {THOTH_HOME: home}, managedRoot: join(dir, 'root2'), platform: 'linux'});
    expect(invalid.ok).toBe(false);
    if (!invalid.ok) {
      expect(invalid.failure.source.kind).toBe('managed');
      expect(invalid.failure.message).toMatch(/policy\.json:1:\d+ at \/agents\/a\/mode: must be one of/);
    }
  });
});
