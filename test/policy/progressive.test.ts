import {spawn} from 'node:child_process';
import {readFile, readdir, writeFile, mkdir} from 'node:fs/promises';
import {join} from 'node:path';
import {pathToFileURL} from 'node:url';
import {describe, expect, it} from 'vitest';

import {BaselineStore} from '../../src/policy/baseline-store.js';
import {EmbeddedEnforcer} from '../../src/policy/enforcer.js';
import type {PolicyDocument} from '../../src/policy/model.js';
import {emptyBaseline, learnCall, ProgressiveSession, type BaselineData} from '../../src/policy/progressive.js';
import {REPO_ROOT} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';
import {compile, decideCall, toolCall} from './policy-helpers.js';

const SETTINGS = {learning_calls: 3, learning_sessions: 1, step_ups_before_block: 2, burst_per_minute: 5, burst_factor: 2};

function harness(doc: PolicyDocument = {}, start: Partial<BaselineData> = {}) {
  const policy = compile({progressive: SETTINGS, ...doc});
  const data: BaselineData = {...emptyBaseline('fs', new Date(0)), ...start};
  const session = new ProgressiveSession(() => ({data, sessionCounted: false}));
  let clock = 1_000_000;
  const call = (tool: string, args: Record<string, unknown> = {}, advanceMs = 1000) => {
    clock += advanceMs;
    session.noteCall(clock);
    const decision = decideCall(policy, tool, args, {mode: 'progressive', hooks: {progressive: session}, nowMs: clock});
    if (decision.decision === 'allow') learnCall(data, toolCall(tool, args), new Date(clock), session.callsInWindow(clock));
    return decision;
  };
  return {call, data, session};
}

describe('progressive mode', () => {
  it('learns while the baseline is young, then steps up a novel tool and explains why', () => {
    const {call, data} = harness();
    for (const tool of ['read_file', 'list_directory', 'read_file']) {
      expect(call(tool, {path: '/x'})).toMatchObject({decision: 'allow', ruleId: 'progressive:learning'});
    }
    expect(data.calls).toBe(3);
    expect(call('read_file', {path: '/y'})).toMatchObject({decision: 'allow', ruleId: 'progressive:baseline'});

    const novel = call('delete_file', {path: '/x'});
    expect(novel).toMatchObject({decision: 'step_up', ruleId: 'progressive:novel-tool'});
    expect(novel.reason).toContain('"delete_file" has never been allowed for agent "fs" (known tools: read_file, list_directory)');
    expect(novel.details).toMatchObject({
      progressive: {trigger: 'novel-tool', phase: 'established', escalationsThisSession: 1, stepUpsBeforeBlock: 2},
    });
  });

  it('with a declared scope, out-of-scope calls need approval even while learning', () => {
    const {call} = harness({agents: {fs: {approved_scope: ['read_file']}}});
    expect(call('read_file')).toMatchObject({decision: 'allow', ruleId: 'progressive:learning'});
    expect(call('write_file')).toMatchObject({decision: 'step_up', ruleId: 'progressive:out-of-scope'});
  });

  it('an argument name never seen for a known tool is anomalous', () => {
    const {call} = harness();
    for (let i = 0; i < 3; i++) call('search', {query: 'a'});
    expect(call('search', {query: 'b'}).decision).toBe('allow');
    const anomalous = call('search', {query: 'b', exfiltrate_to: 'https://evil.example'});
    expect(anomalous).toMatchObject({decision: 'step_up', ruleId: 'progressive:novel-argument'});
    expect(anomalous.reason).toContain('argument "exfiltrate_to" never seen in allowed calls of "search" (known: query)');
  });

  it('a burst above max(burst_per_minute, burst_factor x busiest baseline minute) is anomalous; a session cannot raise its own limit', () => {
    const tools = {ping: {calls: 3, firstSeen: '', lastSeen: '', argumentNames: []}};
    const {call, data} = harness({}, {calls: 3, sessions: 1, peakPerMinute: 2, tools});
    // Limit: max(5, 2 x 2) = 5 calls per minute.
    for (let i = 0; i < 5; i++) expect(call('ping', {}, 10).decision).toBe('allow');
    expect(data.peakPerMinute).toBe(5);
    const burst = call('ping', {}, 10);
    expect(burst).toMatchObject({decision: 'step_up', ruleId: 'progressive:burst'});
    expect(burst.reason).toContain(
      '6 calls in the last minute, above the limit of 5 (the larger of 5 and 2 x the busiest baseline minute, 2)',
    );
    // A minute later the window is empty again.
    expect(call('ping', {}, 60_000).decision).toBe('allow');
  });

  it('escalates the first N distinct anomalies to step_up, later ones to block; a retry keeps its level', () => {
    const {call} = harness();
    for (let i = 0; i < 3; i++) call('read_file', {path: '/a'});
    expect(call('tool_a').decision).toBe('step_up');
    expect(call('tool_b').decision).toBe('step_up');
    const third = call('tool_c');
    expect(third).toMatchObject({decision: 'block', ruleId: 'progressive:novel-tool'});
    expect(third.reason).toContain('blocked because this session already had 2 novel or anomalous calls escalated to approval');
    // The retry of an earlier escalated call is still a step_up, so its grant can be used.
    expect(call('tool_a').decision).toBe('step_up');
    expect(call('tool_c').decision).toBe('block');
  });

  it('rules and intent still come first', () => {
    const {call} = harness({rules: [{id: 'no-rm', tool: 'rm', decision: 'block'}], intents: {ro: {tools: 'read_*'}}});
    expect(call('rm')).toMatchObject({decision: 'block', ruleId: 'rule:no-rm'});
  });
});

describe('EmbeddedEnforcer learning', () => {
  const context = {agentId: 'fs', sessionId: 's', mode: 'progressive' as const, sessionToolCalls: []};

  it('learns allowed calls as it decides them, unless a later enforcer decides last (deferLearning)', async () => {
    const home = await tempDir();
    const store = await BaselineStore.open({home, agentId: 'fs', flushDelayMs: 60_000});
    const enforcer = new EmbeddedEnforcer({policy: compile({progressive: SETTINGS}), baseline: store});
    await enforcer.decide(toolCall('read_file', {path: '/a'}), context);
    expect(store.view().data.calls).toBe(1);

    const learn = enforcer.deferLearning();
    await enforcer.decide(toolCall('list_directory', {path: '/a'}), context);
    expect(store.view().data.calls).toBe(1);
    learn(toolCall('list_directory', {path: '/a'}));
    expect(store.view().data).toMatchObject({calls: 2, tools: {list_directory: {calls: 1}}});
    await enforcer.close();
  });
});

describe('BaselineStore', () => {
  it('saves what a session learned and a new session reads it back', async () => {
    const home = await tempDir();
    const store = await BaselineStore.open({home, agentId: 'fs', flushDelayMs: 60_000});
    store.record(toolCall('read_file', {path: '/secret/value/not/stored'}), 1);
    store.record(toolCall('read_file', {path: '/b', encoding: 'utf8'}), 2);
    await store.close();
    const text = await readFile(store.file, 'utf8');
    expect(text).not.toContain('/secret/value');
    const reopened = await BaselineStore.open({home, agentId: 'fs'});
    expect(reopened.view()).toMatchObject({
      sessionCounted: false,
      data: {calls: 2, sessions: 1, peakPerMinute: 2, tools: {read_file: {calls: 2, argumentNames: ['path', 'encoding']}}},
    });
    const files = await readdir(join(home, 'baselines'));
    expect(files).toEqual([expect.stringMatching(/^fs-[0-9a-f]{12}\.json$/)]);
  });

  it('concurrent sessions of the same agent merge instead of overwriting each other', async () => {
    const home = await tempDir();
    const a = await BaselineStore.open({home, agentId: 'fs', flushDelayMs: 60_000});
    const b = await BaselineStore.open({home, agentId: 'fs', flushDelayMs: 60_000});
    for (let i = 0; i < 5; i++) a.record(toolCall('read_file', {path: 'x'}), 1);
    for (let i = 0; i < 7; i++) b.record(toolCall('write_file', {path: 'x', content: 'y'}), 1);
    await Promise.all([a.flush(), b.flush()]);
    a.record(toolCall('read_file', {path: 'x'}), 1);
    await a.flush();
    const data = JSON.parse(await readFile(a.file, 'utf8')) as BaselineData;
    expect(data).toMatchObject({calls: 13, sessions: 2, tools: {read_file: {calls: 6}, write_file: {calls: 7}}});
    // Each store now sees the other's learning too.
    expect(Object.keys(a.view().data.tools).sort()).toEqual(['read_file', 'write_file']);
  });

  it('several thoth processes saving at once lose nothing', async () => {
    const home = await tempDir();
    const module = pathToFileURL(join(REPO_ROOT, 'dist/policy/baseline-store.js')).href;
    const script = `
      const {BaselineStore} = await import(${JSON.stringify(module)});
      const store = await BaselineStore.open({home: process.argv[1], agentId: 'shared', flushDelayMs: 5});
      for (let i = 0; i < 40; i++) {
        store.record({name: 'tool_' + (i % 4), arguments: {['arg_' + process.argv[2]]: 1}, argumentsJson: ''}, 1);
        if (i % 10 === 9) await store.flush();
      }
      await store.close();
    `;
    const runs = Array.from(
      {length: 4},
      (_, index) =>
        new Promise<number | null>((resolve, reject) => {
          const child = spawn(process.execPath, ['--input-type=module', '-e', script, home, String(index)], {
            stdio: ['ignore', 'ignore', 'pipe'],
          });
          let stderr = '';
          child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
          child.on('error', reject);
          child.on('close', (code) => (code === 0 ? resolve(code) : reject(new Error(`child failed (${code}): ${stderr}`))));
        }),
    );
    await Promise.all(runs);
    const [file] = await readdir(join(home, 'baselines'));
    const data = JSON.parse(await readFile(join(home, 'baselines', file!), 'utf8')) as BaselineData;
    expect(data.calls).toBe(160);
    expect(data.sessions).toBe(4);
    expect(data.tools['tool_0']!.argumentNames.sort()).toEqual(['arg_0', 'arg_1', 'arg_2', 'arg_3']);
  });

  it('a damaged baseline is moved aside and learning starts again', async () => {
    const home = await tempDir();
    const warnings: string[] = [];
    const first = await BaselineStore.open({home, agentId: 'fs'});
    await mkdir(join(home, 'baselines'), {recursive: true});
    await writeFile(first.file, '{"version": 1, "calls": "many"');
    const store = await BaselineStore.open({home, agentId: 'fs', warn: (m) => warnings.push(m)});
    expect(store.view().data.calls).toBe(0);
    expect(warnings[0]).toMatch(/was unreadable; moved it to .*\.corrupt-\d+/);
    expect((await readdir(join(home, 'baselines'))).some((name) => name.includes('.corrupt-'))).toBe(true);
  });
});
