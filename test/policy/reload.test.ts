import {mkdir, readFile, rename, rm, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {decideAndRecord} from '../../src/approvals/decide.js';
import type {DecisionContext} from '../../src/core/decision.js';
import type {AuditSink, ClientChannel} from '../../src/governance/types.js';
import {agentFile} from '../../src/core/agent-files.js';
import {createPolicySession, type PolicyGeneration, type PolicySessionInput} from '../../src/policy/session.js';
import type {PolicyDocument} from '../../src/policy/model.js';
import {tempDir} from '../helpers/tmp.js';
import {toolCall} from './policy-helpers.js';

interface Recorded {
  type: string;
  fields: Record<string, unknown>;
  mode: string;
  intent: string | undefined;
}

/** Written next to the target and renamed over it: what MDM tools and atomic writers do. */
async function replaceFile(path: string, content: string | PolicyDocument): Promise<void> {
  const temporary = `${path}.tmp-${Math.random().toString(36).slice(2)}`;
  await writeFile(temporary, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  await rename(temporary, path);
}

async function setup(initial: PolicyDocument | string | undefined, overrides: Partial<PolicySessionInput> = {}) {
  const dir = await tempDir();
  const home = join(dir, 'home');
  await mkdir(home, {recursive: true});
  const file = join(dir, 'policy.json');
  if (initial !== undefined) await replaceFile(file, initial);
  const events: Recorded[] = [];
  const audit: AuditSink = {
    toolCallPre: async () => '',
    toolCallPost: () => undefined,
    event: (type, context, fields) => events.push({type, fields, mode: context.mode, intent: context.intent}),
    close: async () => undefined,
  };
  const warnings: string[] = [];
  const context: DecisionContext = {agentId: 'everything', sessionId: 'session-1', mode: 'progressive', sessionToolCalls: []};
  const governance = await createPolicySession({
    policyFile: file,
    filterTools: true,
    context,
    env: {THOTH_HOME: home},
    warn: (message) => warnings.push(message),
    audit,
    managedRoot: join(dir, 'root'),
    ...overrides,
  });
  const swaps: Array<{next: PolicyGeneration; previous: PolicyGeneration}> = [];
  governance.onSwap((next, previous) => swaps.push({next, previous}));
  return {dir, home, file, governance, events, warnings, context, swaps};
}

const decide = (generation: PolicyGeneration, name: string, args: Record<string, unknown> = {}) =>
  generation.enforcer.decide(toolCall(name, args), generation.context);

const ALLOW_ECHO: PolicyDocument = {
  version: 'allow-echo',
  defaults: {mode: 'block', approved_scope: ['get-sum']},
  rules: [{id: 'echo-ok', tool: 'echo', decision: 'allow'}],
};
const BLOCK_ECHO: PolicyDocument = {
  version: 'block-echo',
  defaults: {mode: 'block', approved_scope: ['get-sum']},
  rules: [{id: 'no-echo', tool: 'echo', decision: 'block', reason: 'echo is retired'}],
};

const noClient: ClientChannel = {capabilities: {}, request: async () => ({})};
const signal = new AbortController().signal;

describe('policy reload in a running session', () => {
  it('a replaced policy decides the calls that start after it is loaded; the generation before keeps its own', async () => {
    const {file, governance, events, warnings, swaps} = await setup(ALLOW_ECHO);
    try {
      const first = governance.current;
      expect(await decide(first, 'echo')).toMatchObject({decision: 'allow', ruleId: 'rule:echo-ok'});

      await replaceFile(file, BLOCK_ECHO);
      const change = await governance.checkNow();
      expect(change?.change).toBe(`${file} was replaced`);
      const second = governance.current;
      expect(second).not.toBe(first);
      expect(await decide(second, 'echo')).toMatchObject({decision: 'block', ruleId: 'rule:no-echo', reason: 'echo is retired'});
      // What a call that started before the swap holds: still the old policy.
      expect(await decide(first, 'echo')).toMatchObject({decision: 'allow'});
      expect(swaps).toEqual([{next: second, previous: first}]);

      // Hidden tools follow: the client's list may be stale, and the new hook hides echo.
      expect(second.toolsListKey).not.toBe(first.toolsListKey);
      const tools = {tools: [{name: 'echo'}, {name: 'get-sum'}]};
      expect(await first.toolsListHook!.onToolsList(tools, first.context)).toBeUndefined();
      expect((await second.toolsListHook!.onToolsList(tools, second.context))?.['tools']).toEqual([{name: 'get-sum'}]);

      expect(events.filter((event) => event.type.startsWith('POLICY_'))).toEqual([
        {
          type: 'POLICY_LOADED',
          mode: 'block',
          intent: undefined,
          fields: expect.objectContaining({
            status: 'loaded',
            source: 'flag',
            policyFile: file,
            policyVersion: first.policy!.version,
            reload: false,
          }),
        },
        {
          type: 'POLICY_LOADED',
          mode: 'block',
          intent: undefined,
          fields: expect.objectContaining({
            status: 'loaded',
            policyVersion: second.policy!.version,
            policySha256: expect.stringMatching(/^[0-9a-f]{64}$/),
            reload: true,
            change: `${file} was replaced`,
            previousVersion: first.policy!.version,
          }),
        },
      ]);
      expect(warnings).toContainEqual(`policy reloaded (${file} was replaced): ${second.policy!.version} from ${file}, block mode`);
    } finally {
      await governance.close();
    }
  });

  it('an invalid policy fails closed naming the file, the field and the fix, and the next valid one recovers', async () => {
    const {file, governance, events, warnings} = await setup(ALLOW_ECHO);
    try {
      await replaceFile(file, '{"version": "broken", "agents": {"everything": {"mode": "blok"}}}');
      await governance.checkNow();
      const failed = governance.current;
      expect(failed.failure).toBeDefined();
      const refused = await decide(failed, 'echo');
      expect(refused).toMatchObject({decision: 'block', ruleId: 'policy:invalid'});
      expect(refused.reason).toMatch(
        new RegExp(
          `^policy ${file}:1:\\d+ at /agents/everything/mode: must be one of .*check it with: thoth policy validate ${file}; until it is fixed every tool call is refused$`,
        ),
      );
      expect(warnings.at(-1)).toMatch(/^policy reload: policy .* every tool call will be refused until it is fixed \(.* was replaced\)$/);
      expect(events.at(-1)).toMatchObject({
        type: 'POLICY_LOAD_FAILED',
        fields: {status: 'invalid', source: 'flag', policyFile: file, reload: true, previousVersion: expect.stringMatching(/^allow-echo@/)},
      });

      await replaceFile(file, '{"version": "still broken",');
      await governance.checkNow();
      expect((await decide(governance.current, 'echo')).reason).toMatch(/invalid JSON/);

      await replaceFile(file, ALLOW_ECHO);
      await governance.checkNow();
      expect(governance.current.failure).toBeUndefined();
      expect(await decide(governance.current, 'echo')).toMatchObject({decision: 'allow'});
      expect(events.at(-1)).toMatchObject({type: 'POLICY_LOADED', fields: {reload: true, previousVersion: null}});
    } finally {
      await governance.close();
    }
  });

  it('a session that started with an invalid policy recovers when the file is fixed', async () => {
    const {file, governance, events} = await setup('{"rules": [{"tool": "echo"}]}');
    try {
      expect(governance.current.failure).toMatch(/at \/rules\/0: missing required property "decision"/);
      expect(events[0]).toMatchObject({type: 'POLICY_LOAD_FAILED', fields: {status: 'invalid', reload: false}});
      await replaceFile(file, ALLOW_ECHO);
      await governance.checkNow();
      expect(await decide(governance.current, 'echo')).toMatchObject({decision: 'allow'});
    } finally {
      await governance.close();
    }
  });

  it('an approval granted under the old policy version does not let a call through under the new one', async () => {
    const asking = (version: string): PolicyDocument => ({
      version,
      defaults: {mode: 'block'},
      approvals: {elicitation: false},
      rules: [{id: 'ask-sum', tool: 'get-sum', decision: 'step_up', reason: 'sums need approval'}],
    });
    const {file, home, governance} = await setup(asking('v1'));
    try {
      const call = toolCall('get-sum', {a: 1, b: 2});
      const first = governance.current;
      const requested = await first.stepUp!.resolve(
        call,
        first.context,
        await first.enforcer.decide(call, first.context),
        noClient,
        signal,
      );
      const approvalId = requested.details?.['approvalId'] as string;
      expect(requested.decision).toBe('step_up');
      // thoth approve: the grant sealed in the profile's trail (where this session looks), then applied.
      await decideAndRecord(home, approvalId, 'approved', {by: 'ann'}, {env: {THOTH_HOME: home}});

      await replaceFile(file, asking('v2'));
      await governance.checkNow();
      const second = governance.current;
      const retried = await second.stepUp!.resolve(
        call,
        second.context,
        await second.enforcer.decide(call, second.context),
        noClient,
        signal,
      );
      expect(retried.decision).toBe('step_up');
      expect(retried.details?.['approvalId']).not.toBe(approvalId);
      // The grant itself is still there, bound to v1: the old generation would have used it.
      const underOld = await first.stepUp!.resolve(call, first.context, await first.enforcer.decide(call, first.context), noClient, signal);
      expect(underOld).toMatchObject({decision: 'allow', ruleId: `approval:${approvalId}`});
    } finally {
      await governance.close();
    }
  });

  it('mode and intent are settled again from the new policy, and flags still win', async () => {
    const withMode = (mode: 'observe' | 'block', extra: Partial<PolicyDocument> = {}): PolicyDocument => ({
      version: mode,
      intents: {arithmetic: {tools: ['get-sum']}},
      defaults: {mode, ...(mode === 'block' ? {intent: 'arithmetic'} : {})},
      ...extra,
    });
    const plain = await setup(withMode('observe'));
    try {
      expect(plain.context.mode).toBe('observe');
      await replaceFile(plain.file, withMode('block'));
      await plain.governance.checkNow();
      expect(plain.governance.current.context).toMatchObject({
        mode: 'block',
        intent: 'arithmetic',
        agentId: 'everything',
        sessionId: 'session-1',
      });
      // The first generation's context is left as it was decided.
      expect(plain.context.mode).toBe('observe');
      expect(plain.context.intent).toBeUndefined();
      expect(await decide(plain.governance.current, 'echo')).toMatchObject({decision: 'block', ruleId: 'intent:arithmetic'});
    } finally {
      await plain.governance.close();
    }

    const flagged = await setup(withMode('observe'), {mode: 'step_up', modeSource: 'flag', intent: 'arithmetic'});
    try {
      await replaceFile(flagged.file, withMode('block', {defaults: {mode: 'block'}}));
      await flagged.governance.checkNow();
      expect(flagged.governance.current.context).toMatchObject({mode: 'step_up', intent: 'arithmetic'});
      await replaceFile(flagged.file, withMode('block', {defaults: {mode: 'block', lock_mode: true}}));
      await flagged.governance.checkNow();
      expect(flagged.governance.current.context.mode).toBe('block');
      expect(flagged.events.at(-1)?.fields).toMatchObject({modeSource: 'policy-locked', intentSource: 'flag'});
    } finally {
      await flagged.governance.close();
    }
  });

  it("a reload keeps the session's escalations: a new policy is not a way to reset them", async () => {
    const progressive = (version: string): PolicyDocument => ({
      version,
      defaults: {mode: 'progressive', approved_scope: ['echo']},
      progressive: {learning_calls: 1000, step_ups_before_block: 1},
    });
    const {file, home, governance} = await setup(progressive('p1'));
    try {
      expect(await decide(governance.current, 'echo', {message: 'a'})).toMatchObject({decision: 'allow'});
      expect(await decide(governance.current, 'get-sum', {a: 1})).toMatchObject({decision: 'step_up', ruleId: 'progressive:out-of-scope'});
      await replaceFile(file, progressive('p2'));
      await governance.checkNow();
      expect(governance.current.policy?.label).toBe('p2');
      expect(await decide(governance.current, 'get-env')).toMatchObject({decision: 'block', ruleId: 'progressive:out-of-scope'});
      expect(await decide(governance.current, 'echo', {message: 'b'})).toMatchObject({decision: 'allow'});
    } finally {
      await governance.close();
    }
    // One baseline for the whole session: what both generations learned is saved.
    const saved = JSON.parse(await readFile(agentFile(join(home, 'baselines'), 'everything'), 'utf8')) as {calls: number; sessions: number};
    expect(saved).toMatchObject({calls: 2, sessions: 1});
  });

  it('an edit that changes only formatting or comments reloads nothing', async () => {
    const {file, governance, events, warnings, swaps} = await setup(ALLOW_ECHO);
    try {
      const first = governance.current;
      await writeFile(file, `// reviewed\n${JSON.stringify(ALLOW_ECHO)}\n`);
      expect(await governance.checkNow()).toBeDefined();
      expect(governance.current).toBe(first);
      expect(swaps).toEqual([]);
      expect(events.filter((event) => event.type.startsWith('POLICY_'))).toHaveLength(1);
      expect(warnings.at(-1)).toBe(`the policy source changed (${file} changed) but what it decides did not; nothing to reload`);
    } finally {
      await governance.close();
    }
  });

  it('a profile policy created while the built-in one is in use applies, a managed one installed later wins, and its removal gives way again', async () => {
    const {dir, home, governance} = await setup(undefined, {policyFile: undefined});
    const profileFile = join(home, 'policy.json');
    const managedFile = join(dir, 'root', 'etc', 'thoth', 'policy.json');
    try {
      expect(governance.current.policy?.source.kind).toBe('builtin');
      await replaceFile(profileFile, ALLOW_ECHO);
      await governance.checkNow();
      expect(governance.current.policy?.source).toEqual({kind: 'profile', path: profileFile});
      expect(await decide(governance.current, 'echo')).toMatchObject({decision: 'allow'});

      await mkdir(join(managedFile, '..'), {recursive: true});
      await replaceFile(managedFile, BLOCK_ECHO);
      await governance.checkNow();
      expect(governance.current.policy?.source).toEqual({kind: 'managed', path: managedFile});
      expect(await decide(governance.current, 'echo')).toMatchObject({decision: 'block', reason: 'echo is retired'});

      await rm(managedFile);
      await governance.checkNow();
      expect(governance.current.policy?.source.kind).toBe('managed'); // gone once: looked at again first
      await governance.checkNow();
      expect(governance.current.policy?.source).toEqual({kind: 'profile', path: profileFile});
    } finally {
      await governance.close();
    }
  });
});

describe('a policy an administrator installed', () => {
  it('governs even when the entry names another with --policy or THOTH_POLICY_FILE; the attempt is on stderr and in the trail', async () => {
    const dir = await tempDir();
    const managed = join(dir, 'root/etc/thoth/policy.json');
    await mkdir(join(dir, 'root/etc/thoth'), {recursive: true});
    await writeFile(managed, JSON.stringify(BLOCK_ECHO));
    const {governance, events, warnings} = await setup(ALLOW_ECHO, {
      managedRoot: join(dir, 'root'),
      policyFileOrigin: {source: 'flag', origin: '--policy'},
      env: {THOTH_HOME: join(dir, 'home'), THOTH_POLICY_FILE: join(dir, 'elsewhere.json')},
    });
    try {
      expect(governance.current.policy?.source).toEqual({kind: 'managed', path: managed});
      expect((await decide(governance.current, 'echo', {message: 'x'})).decision).toBe('block');
      const refused = events.filter((event) => event.type === 'SETTING_OVERRIDE_REFUSED').map((event) => event.fields);
      expect(refused).toEqual([
        {setting: 'THOTH_POLICY_FILE', attemptedSource: 'flag', attempted: '--policy', managedOrigin: managed},
        {setting: 'THOTH_POLICY_FILE', attemptedSource: 'env', attempted: 'THOTH_POLICY_FILE', managedOrigin: managed},
      ]);
      expect(warnings.join('\n')).toMatch(
        /--policy named a policy file, but the policy installed at .*policy\.json is managed and governs this session/,
      );
    } finally {
      await governance.close();
    }
  });
});
