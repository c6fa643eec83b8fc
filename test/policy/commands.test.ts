import {readFile, readdir, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {requestApproval} from '../../src/approvals/store.js';
import {checkTools} from '../../src/pins/store.js';
import {BaselineStore} from '../../src/policy/baseline-store.js';
import {parseEnvelope, REPO_ROOT, runThoth} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';
import {toolCall} from './policy-helpers.js';

const FIXTURES = join(REPO_ROOT, 'fixtures/policies');

async function thoth(home: string, args: string[], json = true) {
  const result = await runThoth(json ? [...args, '--json'] : args, {env: {THOTH_HOME: home}});
  return {...result, envelope: json ? parseEnvelope<Record<string, unknown>>(result.stdout) : undefined};
}

describe('thoth policy validate', () => {
  it('accepts a valid JSONC policy and reports its version', async () => {
    const home = await tempDir();
    const {code, envelope} = await thoth(home, ['policy', 'validate', join(FIXTURES, 'filesystem.jsonc')]);
    expect(code).toBe(0);
    expect(envelope?.result).toMatchObject({
      valid: true,
      exists: true,
      version: expect.stringMatching(/^2026-11-22\.1@sha256:/),
      agents: ['filesystem'],
      rules: 5,
    });
  });

  it('lists every problem as file:line:col at /pointer and exits 3', async () => {
    const home = await tempDir();
    const file = join(home, 'bad.jsonc');
    await writeFile(file, '{\n  // two mistakes\n  "defaults": {"mode": "strict"},\n  "agentz": {}\n}\n');
    const json = await thoth(home, ['policy', 'validate', file]);
    expect(json.code).toBe(3);
    expect(json.envelope?.status).toBe(3);
    const problems = (json.envelope?.result?.['problems'] as Array<{text: string}>).map((problem) => problem.text);
    expect(problems).toEqual([
      `${file}:3:16 at /defaults/mode: must be one of "progressive", "step_up", "block", "observe"`,
      `${file}:4:3 at /agentz: unknown property "agentz"`,
    ]);
    const human = await thoth(home, ['policy', 'validate', file], false);
    expect(human.code).toBe(3);
    expect(human.stdout.trim().split('\n')).toEqual(problems);
  });

  it('exits 4 for a file that does not exist', async () => {
    const home = await tempDir();
    const {code, envelope} = await thoth(home, ['policy', 'validate', join(home, 'nope.json')]);
    expect(code).toBe(4);
    expect(envelope?.result).toMatchObject({valid: false, exists: false});
  });
});

describe('thoth policy explain', () => {
  it('prints the decision and the rule chain, using the same sources as thoth run', async () => {
    const home = await tempDir();
    // The fixture allows reads in ~/work and /tmp; ~/.ssh must fall outside every allowed root
    // wherever HOME is (it may be under /tmp): the same policy with a fresh workspace for /tmp.
    const workspace = await tempDir('thoth-workspace-');
    const fixture = await readFile(join(FIXTURES, 'filesystem.jsonc'), 'utf8');
    const policy = join(home, 'filesystem.jsonc');
    await writeFile(policy, fixture.replaceAll('"/tmp"', JSON.stringify(workspace)));
    const {code, envelope} = await thoth(home, [
      'policy',
      'explain',
      '--agent-id',
      'filesystem',
      '--tool',
      'read_file',
      '--args',
      '{"path": "~/work/../.ssh/id_rsa"}',
      '--policy',
      policy,
    ]);
    expect(code).toBe(0);
    // Both rules block; among equally restrictive matches the agent's own rule gives the reason.
    expect(envelope?.result).toMatchObject({
      decision: 'block',
      ruleId: 'rule:reads-stay-in-workspace',
      mode: 'block',
      modeSource: 'policy',
      policy: {source: 'flag', path: policy},
    });
    const trace = envelope?.result?.['trace'] as string[];
    expect(trace).toContain('rule:reads-stay-in-workspace (agents.filesystem.rules[0]) matches → block');
    expect(trace).toContain('rule:no-credentials (rules[0]) matches → block');
    expect(trace.at(-1)).toBe('→ block (rule:reads-stay-in-workspace)');

    const env = await runThoth(
      ['policy', 'explain', '--agent-id', 'phi-boundary', '--tool', 'export_records', '--enforcement-mode', 'observe'],
      {
        env: {THOTH_HOME: home, THOTH_POLICY_FILE: join(FIXTURES, 'phi-intent.json')},
      },
    );
    expect(env.code).toBe(0);
    expect(env.stdout).toContain('decision: block');
    expect(env.stdout).toContain('mode:     block (policy-locked)    intent: phi_eligibility_check (policy)');
    expect(env.stdout).toContain('tools/list: hidden (outside session intent "phi_eligibility_check")');
    expect(env.stderr).toContain('the policy locks agent "phi-boundary" to block mode; the requested observe mode is ignored');
  });

  it('reads the baseline and pins without changing them', async () => {
    const home = await tempDir();
    const store = await BaselineStore.open({home, agentId: 'fs'});
    for (let i = 0; i < 60; i++) store.record(toolCall('read_file', {path: 'x'}), 1);
    await store.close();
    for (let s = 0; s < 2; s++) {
      const another = await BaselineStore.open({home, agentId: 'fs'});
      another.record(toolCall('read_file', {path: 'x'}), 1);
      await another.close();
    }
    await checkTools(home, 'fs', [{name: 'read_file', description: 'v1'}]);
    await checkTools(home, 'fs', [{name: 'read_file', description: 'v2'}]);
    // Every command bootstraps the profile first (intent_map.json, proxy_api_key.json): do it now.
    await thoth(home, ['policy', 'explain', '--agent-id', 'other', '--tool', 't']);
    const before = await Promise.all(
      (await readdir(home, {recursive: true})).sort().map(async (name) => [name, await readFile(join(home, name)).catch(() => null)]),
    );

    const novel = await thoth(home, ['policy', 'explain', '--agent-id', 'fs', '--tool', 'write_file', '--args', '{"path": "x"}']);
    expect(novel.envelope?.result).toMatchObject({
      decision: 'step_up',
      ruleId: 'progressive:novel-tool',
      mode: 'progressive',
      policy: {source: 'builtin'},
    });
    const pinned = await thoth(home, ['policy', 'explain', '--agent-id', 'fs', '--tool', 'read_file', '--args', '{"path": "x"}']);
    expect(pinned.envelope?.result).toMatchObject({decision: 'block', ruleId: 'pin:changed'});

    const after = await Promise.all(
      (await readdir(home, {recursive: true})).sort().map(async (name) => [name, await readFile(join(home, name)).catch(() => null)]),
    );
    expect(after).toEqual(before);
  });

  it('rejects --args that are not JSON with a usage error', async () => {
    const home = await tempDir();
    const {code, envelope} = await thoth(home, ['policy', 'explain', '--agent-id', 'a', '--tool', 't', '--args', '{path: x}']);
    expect(code).toBe(2);
    expect(envelope?.error?.message).toMatch(/^--args is not valid JSON/);
  });
});

describe('thoth approvals list / approve / deny and thoth pins list / accept', () => {
  it('lists, approves and denies', async () => {
    const home = await tempDir();
    expect((await thoth(home, ['approvals', 'list'], false)).stdout.trim()).toBe('No pending approvals.');
    const binding = {agentId: 'fs', tool: 'write_file', argumentsHash: `sha256:${'a'.repeat(64)}`, policyVersion: 'v1'};
    const info = {
      sessionId: 's',
      intent: 'ops',
      ruleId: 'rule:w',
      reason: 'writes need approval',
      argumentsJson: '{"path":"/w"}',
      ttlMs: 600_000,
    };
    const one = await requestApproval(home, binding, info);
    const two = await requestApproval(home, {...binding, tool: 'move_file'}, info);

    const human = await thoth(home, ['approvals', 'list'], false);
    expect(human.stdout).toContain(`${one.record.id}  pending   fs → write_file`);
    expect(human.stdout).toContain('why:  writes need approval');

    const approved = await thoth(home, ['approve', one.record.id, '--note', 'looks fine']);
    expect(approved).toMatchObject({code: 0});
    expect(approved.envelope?.result).toMatchObject({
      id: one.record.id,
      status: 'approved',
      note: 'looks fine',
      decidedBy: expect.any(String),
    });
    expect((await thoth(home, ['deny', two.record.id])).envelope?.result).toMatchObject({status: 'denied'});
    expect((await thoth(home, ['approvals', 'list'])).envelope?.result).toEqual({approvals: []});
    expect(((await thoth(home, ['approvals', 'list', '--all'])).envelope?.result?.['approvals'] as unknown[]).length).toBe(2);

    const again = await thoth(home, ['approve', one.record.id]);
    expect(again.code).toBe(5);
    expect(again.envelope?.error?.code).toBe('APPROVAL_ALREADY_DECIDED');
    const unknown = await thoth(home, ['approve', 'zzzzzzzzzz'], false);
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toContain('no approval with id "zzzzzzzzzz"');
    expect(unknown.stderr).toContain('Try this: List pending approvals with: thoth approvals list');
  });

  it('lists and accepts changed pins', async () => {
    const home = await tempDir();
    expect((await thoth(home, ['pins', 'list'], false)).stdout).toContain('No tools pinned yet');
    await checkTools(home, 'fs', [
      {name: 'read_file', description: 'v1'},
      {name: 'list', description: 'v1'},
    ]);
    await checkTools(home, 'fs', [
      {name: 'read_file', description: 'v2'},
      {name: 'list', description: 'v1'},
    ]);
    const listed = await thoth(home, ['pins', 'list'], false);
    expect(listed.stdout).toContain('fs: 2 tools, 1 CHANGED');
    expect(listed.stdout).toMatch(/! read_file {2}changed \(new definition seen /);

    const usage = await thoth(home, ['pins', 'accept', '--agent-id', 'fs']);
    expect(usage.code).toBe(2);
    const accepted = await thoth(home, ['pins', 'accept', '--agent-id', 'fs', '--all']);
    expect(accepted.envelope?.result).toMatchObject({agentId: 'fs', accepted: [{name: 'read_file'}]});
    expect((await thoth(home, ['pins', 'list', '--agent-id', 'fs'])).envelope?.result).toMatchObject({
      agents: [
        {
          tools: [
            {name: 'list', status: 'pinned'},
            {name: 'read_file', status: 'pinned', acceptedAt: expect.any(String)},
          ],
        },
      ],
    });
  });
});
