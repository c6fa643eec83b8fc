import {existsSync} from 'node:fs';
import {readFile, writeFile} from 'node:fs/promises';
import {join} from 'node:path';

import {describe, expect, it} from 'vitest';

import type {AuditEvent} from '../../src/audit/events.js';
import {readEvents} from '../../src/audit/reader.js';
import type {ManagedPreferences} from '../../src/settings/managed.js';
import {createSession, instrument, sessionOf, ThothSession, ToolCallRefusedError, wrapToolFunc} from '../../src/sdk/index.js';
import {invalidAuditEvents} from '../helpers/audit-schemas.js';
import {tempDir} from '../helpers/tmp.js';
import {expectTrailVerifies, sdkEnv, toolCallEvents} from './helpers.js';

const POLICY = {
  version: 'sdk-functions-1',
  agents: {
    billing: {
      mode: 'block' as const,
      approved_scope: ['lookup_*', 'refund'],
      rules: [
        {
          id: 'big-refunds',
          tool: 'refund',
          args: {amount: {min: 100}},
          decision: 'step_up' as const,
          reason: 'refunds of 100 or more need approval',
        },
      ],
    },
  },
};

async function refusal(work: Promise<unknown>): Promise<ToolCallRefusedError> {
  try {
    const value = await work;
    throw new Error(`expected a refusal, got ${JSON.stringify(value)}`);
  } catch (error) {
    if (!(error instanceof ToolCallRefusedError)) throw error;
    return error;
  }
}

function quiet() {
  const warnings: string[] = [];
  return {warnings, onWarning: (message: string) => warnings.push(message)};
}

describe('instrument and wrapToolFunc', () => {
  it('return the same shape; each call is decided before it runs, recorded with its arguments and result, refusals throw ToolCallRefusedError', async () => {
    const home = await tempDir();
    const ran: string[] = [];
    const fns = {
      lookup_customer: async ({id}: {id: string}) => {
        ran.push(`lookup ${id}`);
        return {id, name: 'Ada'};
      },
      refund: async ({amount}: {amount: number}) => {
        ran.push(`refund ${amount}`);
        return `refunded ${amount}`;
      },
      delete_account: async ({id}: {id: string}) => {
        ran.push(`delete ${id}`);
        return 'deleted';
      },
      lookup_invoice: async ({id}: {id: string}) => {
        throw new Error(`invoice ${id} not found`);
      },
    };
    const tools = instrument(fns, {agentId: 'billing', policy: POLICY, env: sdkEnv(home), ...quiet()});
    expect(Object.keys(tools)).toEqual(Object.keys(fns));

    expect(await tools.lookup_customer({id: 'c1'})).toEqual({id: 'c1', name: 'Ada'});
    expect(await tools.refund({amount: 5})).toBe('refunded 5');
    const blocked = await refusal(tools.delete_account({id: 'c1'}));
    expect(blocked).toMatchObject({code: -32001, decision: 'block', tool: 'delete_account'});
    expect(blocked.data).toMatchObject({ruleId: 'mode:block', agentId: 'billing', mode: 'block'});
    const stepped = await refusal(tools.refund({amount: 500}));
    expect(stepped).toMatchObject({code: -32002, decision: 'step_up', approvalId: expect.stringMatching(/^[a-z0-9]+$/)});
    await expect(tools.lookup_invoice({id: 'i9'})).rejects.toThrow('invoice i9 not found');
    // A secret among the arguments is redacted in the trail, as thoth run redacts it.
    expect(await tools.lookup_customer({id: 'c2', password: 'hunter2'} as {id: string})).toEqual({id: 'c2', name: 'Ada'});
    expect(ran).toEqual(['lookup c1', 'refund 5', 'lookup c2']);

    const session = sessionOf(tools)!;
    expect(await session.ready()).toEqual({sessionId: session.sessionId, agentId: 'billing', mode: 'block'});
    await session.close();
    // After close, nothing runs unrecorded.
    expect((await refusal(tools.lookup_customer({id: 'c3'}))).data['ruleId']).toBe('session-closed');
    expect(ran).toHaveLength(3);

    const events = await expectTrailVerifies(home);
    expect(toolCallEvents(events)).toEqual([
      ['TOOL_CALL_PRE', 'lookup_customer', 'allow'],
      ['TOOL_CALL_POST', 'lookup_customer', 'allow'],
      ['TOOL_CALL_PRE', 'refund', 'allow'],
      ['TOOL_CALL_POST', 'refund', 'allow'],
      ['TOOL_CALL_PRE', 'delete_account', 'block'],
      ['TOOL_CALL_POST', 'delete_account', 'block'],
      ['TOOL_CALL_PRE', 'refund', 'step_up'],
      ['TOOL_CALL_POST', 'refund', 'step_up'],
      ['TOOL_CALL_PRE', 'lookup_invoice', 'allow'],
      ['TOOL_CALL_POST', 'lookup_invoice', 'allow'],
      ['TOOL_CALL_PRE', 'lookup_customer', 'allow'],
      ['TOOL_CALL_POST', 'lookup_customer', 'allow'],
    ]);
    const posts = events.filter((event) => event.type === 'TOOL_CALL_POST');
    expect(posts[0]).toMatchObject({
      sourceType: 'agent_tool_call',
      outcome: 'result',
      content: '{"id":"c1","name":"Ada"}',
      sessionToolCalls: ['lookup_customer'],
    });
    expect(posts[2]).toMatchObject({outcome: 'refused'});
    expect(posts[4]).toMatchObject({outcome: 'error', content: expect.stringContaining('invoice i9 not found')});
    const pres = events.filter((event) => event.type === 'TOOL_CALL_PRE');
    expect(pres[0]).toMatchObject({content: '{"id":"c1"}', sessionToolCalls: [], sessionToolCallCount: 0});
    // Forwarded before it: lookup_customer, refund, lookup_invoice (which threw); refusals are not counted.
    expect(pres[5]).toMatchObject({content: expect.stringContaining('[REDACTED'), redactions: 1, sessionToolCallCount: 3});
    expect(JSON.stringify(events)).not.toContain('hunter2');
  });

  it('refuse arguments a server could read differently (keys that fold together, nesting beyond 256) before any decision, and record it', async () => {
    const home = await tempDir();
    let ran = 0;
    const echo = wrapToolFunc('echo', async (args: Record<string, unknown>) => ++ran && args, {
      agentId: 'billing',
      env: sdkEnv(home),
      ...quiet(),
    });
    const ambiguous = await refusal(echo({path: '/tmp/ok', PATH: '/etc/shadow'}));
    expect(ambiguous).toMatchObject({code: -32600, data: {reason: 'ambiguous-keys'}});
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 300; i++) deep = {next: deep};
    expect((await refusal(echo(deep))).data['reason']).toBe('too-deep');
    expect(ran).toBe(0);
    await sessionOf(echo)!.close();
    const events = await expectTrailVerifies(home);
    expect(events.filter((event) => event.type === 'MESSAGE_REFUSED').map((event) => event['reason'])).toEqual([
      'ambiguous-keys',
      'too-deep',
    ]);
    expect(toolCallEvents(events)).toEqual([]);
  });

  it('approvedScope is the agent scope of the policy the program supplies (the built-in one without a policy object)', async () => {
    const home = await tempDir();
    const tools = instrument(
      {read_file: async (_args: {path?: string}) => 'text', delete_file: async (_args: {path?: string}) => 'gone'},
      {agentId: 'reader', approvedScope: ['read_*'], enforcement: 'block', env: sdkEnv(home), ...quiet()},
    );
    expect(await tools.read_file({})).toBe('text');
    expect((await refusal(tools.delete_file({}))).data['ruleId']).toBe('mode:block');
    // The built-in policy's credential-file rule still applies to in-scope calls.
    expect((await refusal(tools.read_file({path: '~/.ssh/id_rsa'}))).decision).toBe('step_up');
    await sessionOf(tools)!.close();
    const loaded = (await expectTrailVerifies(home)).find((event) => event.type === 'POLICY_LOADED');
    expect(loaded).toMatchObject({
      status: 'loaded',
      policyFile: '<sdk policy object>',
      modeSource: 'flag',
      policyVersion: expect.stringMatching(/^builtin-1\+sdk-scope@/),
    });
  });

  it("sessionIntent: the intent's tools are the only ones the session may call, whatever the scope says", async () => {
    const home = await tempDir();
    const tools = instrument(
      {lookup_customer: async (_args: object) => 'Ada', refund: async (_args: {amount: number}) => 'refunded'},
      {
        agentId: 'billing',
        sessionIntent: 'eligibility_check',
        policy: {...POLICY, intents: {eligibility_check: {description: 'read customers only', tools: ['lookup_*']}}},
        env: sdkEnv(home),
        ...quiet(),
      },
    );
    expect(await tools.lookup_customer({})).toBe('Ada');
    expect((await refusal(tools.refund({amount: 5}))).data).toMatchObject({decision: 'block', intent: 'eligibility_check'});
    await sessionOf(tools)!.close();
    const events = await expectTrailVerifies(home);
    expect(
      events.filter((event) => event.type === 'TOOL_CALL_PRE').map((event) => [event['toolName'], event['decision'], event['intent']]),
    ).toEqual([
      ['lookup_customer', 'allow', 'eligibility_check'],
      ['refund', 'block', 'eligibility_check'],
    ]);
  });

  it('options that cannot be used throw at once, naming the option, before any session starts', async () => {
    const home = await tempDir();
    const env = sdkEnv(home);
    expect(() => instrument({}, {enforcement: 'strict' as never, env})).toThrow(
      'option "enforcement" is "strict": use progressive, step_up, block or observe',
    );
    expect(() => instrument({}, {approvedScope: ['a'], policy: '/etc/policy.json', env})).toThrow(
      /option "approvedScope" cannot be combined with a policy file/,
    );
    expect(() => instrument({}, {agentId: 'x', approvedScope: ['a'], policy: {agents: {x: {approved_scope: ['b']}}}, env})).toThrow(
      /differs from agents\.x\.approved_scope/,
    );
    expect(() => instrument({}, {agentId: '', env})).toThrow(/option "agentId"/);
    expect(() => instrument({tool: 'not a function'} as never, {env})).toThrow('the tool "tool" is not a function');
    expect(() => wrapToolFunc('tool', 'not a function' as never, {env})).toThrow('the tool "tool" is not a function');
    // Nothing was started: no profile, no trail.
    expect(existsSync(join(home, 'audit'))).toBe(false);
  });

  it('an invalid policy object fails closed: every call is refused, the reason on the operator channel', async () => {
    const home = await tempDir();
    const {warnings, onWarning} = quiet();
    let ran = false;
    const tool = wrapToolFunc('anything', async () => (ran = true), {
      policy: {agents: {a: {mode: 'lenient' as never}}},
      env: sdkEnv(home),
      onWarning,
    });
    const refused = await refusal(tool({}));
    expect(refused.data['ruleId']).toBe('policy:invalid');
    expect(ran).toBe(false);
    expect(warnings.join('\n')).toMatch(/policy <sdk policy object>:\d+:\d+ at \/agents\/a\/mode/);
    await sessionOf(tool)!.close();
    expect((await expectTrailVerifies(home)).map((event) => event.type)).toContain('POLICY_LOAD_FAILED');
  });

  it('an approvals.json edited to "approved" by the agent is no grant: the call stays stepped up, and the trail says so', async () => {
    const home = await tempDir();
    const session = createSession({agentId: 'billing', policy: POLICY, env: sdkEnv(home), ...quiet()});
    const refund = session.wrapToolFunc('refund', async ({amount}: {amount: number}) => `refunded ${amount}`);
    const first = await refusal(refund({amount: 500}));
    const file = join(home, 'approvals.json');
    const parsed = JSON.parse(await readFile(file, 'utf8')) as {approvals: Array<Record<string, unknown>>};
    for (const record of parsed.approvals)
      if (record['id'] === first.approvalId)
        Object.assign(record, {status: 'approved', decidedBy: 'security-team', decidedAt: new Date().toISOString()});
    await writeFile(file, JSON.stringify(parsed));
    expect((await refusal(refund({amount: 500}))).decision).toBe('step_up');
    await session.close();
    const events = await expectTrailVerifies(home);
    expect(events.filter((event) => event.type === 'APPROVAL_UNVERIFIED')).toEqual([
      expect.objectContaining({approvalId: first.approvalId, claimedBy: 'security-team'}),
    ]);
    expect(events.filter((event) => event.type === 'APPROVAL_USED')).toEqual([]);
  });
});

describe('settings resolve as for thoth run: the SDK options are flags, and managed preferences win where they win over flags', () => {
  function managed(entries: Record<string, unknown>): () => Promise<ManagedPreferences> {
    return async () => ({
      entries: new Map(
        Object.entries(entries).map(([key, value]) => [key, {value, origin: '/Library/Managed Preferences/io.thoth.agent.plist'}]),
      ),
      problems: [],
    });
  }

  it('a managed policy file and audit directory beat the policy object and auditDir options; each refused option is in the trail', async () => {
    const home = await tempDir();
    const managedPolicy = join(home, 'managed-policy.json');
    await writeFile(managedPolicy, JSON.stringify({version: 'strict', agents: {billing: {mode: 'block'}}}));
    const managedTrail = join(home, 'managed-audit');
    const hiddenTrail = join(home, 'hidden-trail');
    const {warnings, onWarning} = quiet();
    let ran = false;
    // Managed preferences are read by the platform's reader (macOS, Windows); here one is injected.
    const session = new ThothSession(
      {
        agentId: 'billing',
        policy: {version: 'allow-all', agents: {billing: {mode: 'observe'}}},
        auditDir: hiddenTrail,
        env: sdkEnv(join(home, '.thoth')),
        onWarning,
      },
      {
        settingsIo: {
          platform: 'linux',
          home,
          cwd: home,
          readManagedPreferences: managed({THOTH_POLICY_FILE: managedPolicy, THOTH_AUDIT_DIR: managedTrail}),
        },
      },
    );
    const tool = session.wrapToolFunc('refund', async () => (ran = true));
    expect((await refusal(tool({}))).data).toMatchObject({decision: 'block', mode: 'block'});
    expect(ran).toBe(false);
    await session.close();

    expect(existsSync(hiddenTrail)).toBe(false);
    expect(warnings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^auditDir option \(SDK\) is ignored: managed preferences set THOTH_AUDIT_DIR/),
        expect.stringMatching(/^policy option \(SDK\) is ignored: managed preferences set THOTH_POLICY_FILE/),
      ]),
    );
    const events: AuditEvent[] = (await readEvents(managedTrail)).map((stored) => stored.event);
    expect(await invalidAuditEvents(managedTrail)).toEqual([]);
    expect(
      events
        .filter((event) => event.type === 'SETTING_OVERRIDE_REFUSED')
        .map((event) => [event['setting'], event['attempted']])
        .sort(),
    ).toEqual([
      ['THOTH_AUDIT_DIR', 'auditDir option (SDK)'],
      ['THOTH_POLICY_FILE', 'policy option (SDK)'],
    ]);
    expect(events.find((event) => event.type === 'POLICY_LOADED')).toMatchObject({source: 'managed', policyFile: managedPolicy});
  });
});
