import {readFile, readdir, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {readEvents} from '../../src/audit/reader.js';
import type {AuditEvent} from '../../src/audit/events.js';
import {invalidAuditEvents} from '../helpers/audit-schemas.js';
import {parseEnvelope, runThoth} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';
import {callText, E2E_POLICY, refusedCall, RUG_PULL_SERVER, startSession} from './session.js';

const BLOCK_FLAGS = ['--agent-id', 'everything', '--policy', E2E_POLICY];

async function toolNames(session: Awaited<ReturnType<typeof startSession>>): Promise<string[]> {
  return (await session.client.listTools()).tools.map((tool) => tool.name).sort();
}

/** The events of the session's trail (the default audit directory of the profile). */
async function auditEvents(home: string): Promise<AuditEvent[]> {
  return (await readEvents(join(home, 'audit'))).map((stored) => stored.event);
}

const HEX64 = /^[0-9a-f]{64}$/;

async function thoth(home: string, args: string[]) {
  const result = await runThoth([...args, '--json'], {env: {THOTH_HOME: home}});
  return {...result, envelope: parseEnvelope<Record<string, unknown>>(result.stdout)};
}

describe('thoth run with the embedded enforcer (SDK client → thoth run → server-everything)', () => {
  it('allows, blocks and steps up calls, and the session stays usable after each', async () => {
    const home = await tempDir();
    const session = await startSession({home, flags: BLOCK_FLAGS});
    let approvalId = '';
    try {
      // Block mode: what the policy can never allow is not even listed.
      expect(await toolNames(session)).toEqual(['echo', 'get-sum', 'get-tiny-image']);
      expect(await callText(session.client, 'echo', {message: 'hello'})).toBe('Echo: hello');

      const blocked = await refusedCall(session.client, 'get-env');
      expect(blocked.code).toBe(-32001);
      expect(blocked.data).toEqual({
        decision: 'block',
        reason: 'the environment may hold secrets',
        ruleId: 'rule:never-env',
        agentId: 'everything',
        tool: 'get-env',
        intent: null,
        mode: 'block',
        auditId: expect.any(String),
        rule: 'rules[0]',
      });
      expect(await callText(session.client, 'echo', {message: 'still here'})).toBe('Echo: still here');

      const secret = await refusedCall(session.client, 'echo', {message: 'my PASSWORD is hunter2'});
      expect(secret.data).toMatchObject({decision: 'block', ruleId: 'rule:no-secret-echo'});
      const outOfScope = await refusedCall(session.client, 'get-annotated-message', {messageType: 'success'});
      expect(outOfScope.data).toMatchObject({decision: 'block', ruleId: 'mode:block'});

      const stepped = await refusedCall(session.client, 'get-sum', {a: 5000, b: 1});
      expect(stepped.code).toBe(-32002);
      expect(stepped.data).toMatchObject({
        decision: 'step_up',
        ruleId: 'rule:big-sums',
        reason: 'sums over 1000 need approval',
        mode: 'block',
      });
      approvalId = stepped.data['approvalId'] as string;
      expect(stepped.data).toMatchObject({approvalId: expect.any(String), expiresAt: expect.any(String), approvalChannel: 'local'});
      expect(stepped.message).toContain(`review approval ${approvalId} (\`thoth approvals list\`)`);
      expect(await callText(session.client, 'get-sum', {a: 1, b: 2})).toBe('The sum of 1 and 2 is 3.');

      const listed = await thoth(home, ['approvals', 'list']);
      expect(listed.envelope.result?.['approvals']).toEqual([
        expect.objectContaining({id: approvalId, tool: 'get-sum', state: 'pending', argumentsPreview: '{"a":5000,"b":1}'}),
      ]);
      const approved = await thoth(home, ['approve', approvalId]);
      expect(approved.code).toBe(0);

      // A different call is not covered by the grant; the identical retry passes, once.
      expect((await refusedCall(session.client, 'get-sum', {a: 5000, b: 2})).code).toBe(-32002);
      expect(await callText(session.client, 'get-sum', {b: 1, a: 5000})).toBe('The sum of 5000 and 1 is 5001.');
      const again = await refusedCall(session.client, 'get-sum', {a: 5000, b: 1});
      expect(again.code).toBe(-32002);
      expect(again.data['approvalId']).not.toBe(approvalId);
      expect(session.stderr()).not.toMatch(/error/i);
    } finally {
      await session.close();
    }

    // The approval's life is on record under the schemas' names, and `audit show --tool` finds it.
    expect(await invalidAuditEvents(join(home, 'audit'))).toEqual([]);
    const approvals = (await auditEvents(home)).filter((event) => event.type.startsWith('APPROVAL_'));
    expect(approvals.map((event) => event.type)).toEqual([
      'APPROVAL_REQUESTED',
      'APPROVAL_GRANTED',
      'APPROVAL_REQUESTED',
      'APPROVAL_USED',
      'APPROVAL_REQUESTED',
    ]);
    const [requested, granted, , used] = approvals;
    // thoth approve's own chain names the session that asked.
    expect(granted).toMatchObject({
      via: 'cli',
      approvalId,
      sessionId: requested!['sessionId'],
      mode: 'block',
      argumentsSha256: requested!['argumentsSha256'],
    });
    expect(requested).toMatchObject({
      approvalId,
      toolName: 'get-sum',
      argumentsSha256: expect.stringMatching(HEX64),
      ruleId: 'rule:big-sums',
      policyVersion: expect.any(String),
    });
    expect(used).toMatchObject({
      approvalId,
      toolName: 'get-sum',
      argumentsSha256: requested!['argumentsSha256'],
      approvedBy: expect.any(String),
      approvedAt: expect.any(String),
      ruleId: 'rule:big-sums',
    });
    const shown = await thoth(home, ['audit', 'show', '--tool', 'get-sum']);
    expect((shown.envelope.result?.['events'] as AuditEvent[]).map((event) => event.type)).toEqual(
      expect.arrayContaining(['APPROVAL_REQUESTED', 'APPROVAL_USED', 'TOOL_CALL_PRE']),
    );
  });

  it('thoth deny blocks the retry; an expired grant does not let it through', async () => {
    const home = await tempDir();
    const session = await startSession({home, flags: BLOCK_FLAGS});
    let grantId = '';
    try {
      const first = await refusedCall(session.client, 'get-sum', {a: 2000, b: 0});
      const denied = await thoth(home, ['deny', first.data['approvalId'] as string, '--note', 'not today']);
      expect(denied.code).toBe(0);
      const retry = await refusedCall(session.client, 'get-sum', {a: 2000, b: 0});
      expect(retry.code).toBe(-32001);
      expect(retry.data['reason']).toContain('("not today")');

      const second = await refusedCall(session.client, 'get-sum', {a: 3000, b: 0});
      grantId = second.data['approvalId'] as string;
      expect((await thoth(home, ['approve', second.data['approvalId'] as string])).code).toBe(0);
      // Ten minutes pass: move the grant's expiry into the past, as the clock would.
      const file = join(home, 'approvals.json');
      const approvals = JSON.parse(await readFile(file, 'utf8')) as {approvals: Array<{id: string; expiresAt: string}>};
      for (const record of approvals.approvals)
        if (record.id === second.data['approvalId']) record.expiresAt = new Date(Date.now() - 1000).toISOString();
      await writeFile(file, JSON.stringify(approvals));
      const expired = await refusedCall(session.client, 'get-sum', {a: 3000, b: 0});
      expect(expired.code).toBe(-32002);
      expect(expired.data['approvalId']).not.toBe(second.data['approvalId']);
      // Another retry finds the same pending request: the lapse is not reported twice.
      expect((await refusedCall(session.client, 'get-sum', {a: 3000, b: 0})).data['approvalId']).toBe(expired.data['approvalId']);
      // And approving an expired request is refused with a clear error.
      const current = JSON.parse(await readFile(file, 'utf8')) as typeof approvals;
      const pending = current.approvals.find((record) => record.id === expired.data['approvalId'])!;
      current.approvals.push({...pending, id: 'expiredreq', expiresAt: new Date(Date.now() - 1).toISOString()});
      await writeFile(file, JSON.stringify(current));
      const late = await thoth(home, ['approve', 'expiredreq']);
      expect(late.code).toBe(4);
      expect(late.envelope.error?.code).toBe('APPROVAL_EXPIRED');
    } finally {
      await session.close();
    }
    expect(await invalidAuditEvents(join(home, 'audit'))).toEqual([]);
    const events = await auditEvents(home);
    // The unused grant's lapse is on record once, in the session that retried; the decisions via cli too.
    expect(events.filter((event) => event.type === 'APPROVAL_EXPIRED')).toEqual([
      expect.objectContaining({
        approvalId: grantId,
        status: 'approved',
        toolName: 'get-sum',
        ruleId: 'rule:big-sums',
        approvedBy: expect.any(String),
        mode: 'block',
      }),
    ]);
    expect(events.filter((event) => event.via === 'cli').map((event) => event.type)).toEqual(['APPROVAL_DENIED', 'APPROVAL_GRANTED']);
  });

  it('asks the user through elicitation when the client supports it, and forwards only on accept', async () => {
    const home = await tempDir();
    const prompts: string[] = [];
    let answer: 'accept' | 'decline' = 'accept';
    const session = await startSession({
      home,
      flags: BLOCK_FLAGS,
      elicit: async (request) => {
        prompts.push(String(request.params.message));
        return answer === 'accept' ? {action: 'accept', content: {approve: true}} : {action: 'decline'};
      },
    });
    try {
      expect(await callText(session.client, 'get-sum', {a: 4000, b: 4})).toBe('The sum of 4000 and 4 is 4004.');
      expect(prompts[0]).toContain('"everything" wants to run the tool "get-sum" with {"a":4000,"b":4}');
      expect(prompts[0]).toContain('sums over 1000 need approval');
      answer = 'decline';
      const declined = await refusedCall(session.client, 'get-sum', {a: 4000, b: 5});
      expect(declined.code).toBe(-32001);
      expect(declined.data).toMatchObject({decision: 'block', ruleId: 'approval:declined'});
      expect(prompts).toHaveLength(2);
      // Nothing was left pending: the answers came from the user in the client.
      expect((await thoth(home, ['approvals', 'list'])).envelope.result?.['approvals']).toEqual([]);
    } finally {
      await session.close();
    }

    // No approval record, so no approvalId: the schemas require one only for the other ways of deciding.
    expect(await invalidAuditEvents(join(home, 'audit'))).toEqual([]);
    const decisions = (await auditEvents(home)).filter((event) => event.type.startsWith('APPROVAL_'));
    expect(decisions).toEqual([
      expect.objectContaining({
        type: 'APPROVAL_GRANTED',
        via: 'elicitation',
        toolName: 'get-sum',
        argumentsSha256: expect.stringMatching(HEX64),
        ruleId: 'rule:big-sums',
      }),
      expect.objectContaining({
        type: 'APPROVAL_DENIED',
        via: 'elicitation',
        toolName: 'get-sum',
        argumentsSha256: expect.stringMatching(HEX64),
        ruleId: 'rule:big-sums',
      }),
    ]);
    expect(decisions.map((event) => event['approvalId'])).toEqual([undefined, undefined]);
  });

  it('session intent from intent_map.json hides and refuses tools outside it; --session-intent overrides', async () => {
    const home = await tempDir();
    await writeFile(join(home, 'intent_map.json'), JSON.stringify({everything: 'arithmetic'}));
    const session = await startSession({home, flags: [...BLOCK_FLAGS, '--enforcement-mode', 'step_up']});
    try {
      expect(await toolNames(session)).toEqual(['echo', 'get-sum']);
      const outside = await refusedCall(session.client, 'get-tiny-image');
      expect(outside.code).toBe(-32001);
      expect(outside.data).toMatchObject({ruleId: 'intent:arithmetic', intent: 'arithmetic', mode: 'step_up'});
      expect(outside.data['reason']).toContain('outside session intent "arithmetic"');
      expect(await callText(session.client, 'get-sum', {a: 1, b: 1})).toBe('The sum of 1 and 1 is 2.');
    } finally {
      await session.close();
    }

    await writeFile(join(home, 'intent_map.json'), JSON.stringify({everything: 'no-such-intent'}));
    const overridden = await startSession({
      home,
      flags: [...BLOCK_FLAGS, '--enforcement-mode', 'step_up', '--session-intent', 'arithmetic'],
    });
    try {
      expect(await callText(overridden.client, 'echo', {message: 'ok'})).toBe('Echo: ok');
      expect((await refusedCall(overridden.client, 'get-env')).data['intent']).toBe('arithmetic');
    } finally {
      await overridden.close();
    }
  });

  it('--no-filter-tools keeps every tool listed, and a tool that would be hidden is still refused', async () => {
    const home = await tempDir();
    const session = await startSession({home, flags: [...BLOCK_FLAGS, '--no-filter-tools']});
    try {
      const names = await toolNames(session);
      expect(names).toEqual(expect.arrayContaining(['echo', 'get-env', 'get-sum', 'get-annotated-message', 'toggle-simulated-logging']));
      expect((await refusedCall(session.client, 'get-env')).data['ruleId']).toBe('rule:never-env');
    } finally {
      await session.close();
    }
  });

  it('an invalid policy fails closed: the session relays, every call is refused naming the file, the field and the fix', async () => {
    const home = await tempDir();
    const policy = join(home, 'broken-policy.json');
    await writeFile(policy, '{\n  "agents": {\n    "everything": {"mode": "blok"}\n  }\n}\n');
    const session = await startSession({home, flags: ['--agent-id', 'everything', '--policy', policy]});
    try {
      expect((await toolNames(session)).length).toBeGreaterThan(5);
      await session.client.ping();
      const refused = await refusedCall(session.client, 'echo', {message: 'hi'});
      expect(refused.code).toBe(-32001);
      expect(refused.data['ruleId']).toBe('policy:invalid');
      const reason = refused.data['reason'] as string;
      expect(reason).toContain(`${policy}:3:20 at /agents/everything/mode: must be one of "progressive", "step_up", "block", "observe"`);
      expect(reason).toContain(`thoth policy validate ${policy}`);
      expect(reason).toContain('every tool call is refused');
      expect(session.stderr()).toContain(`${policy}:3:20 at /agents/everything/mode`);
      expect((await refusedCall(session.client, 'get-sum', {a: 1, b: 1})).code).toBe(-32001);
    } finally {
      await session.close();
    }
    expect(await invalidAuditEvents(join(home, 'audit'))).toEqual([]);
    expect((await auditEvents(home)).map((event) => event.type)).toContain('POLICY_LOAD_FAILED');
  });

  it('progressive mode learns a baseline, steps up a novel tool, and an approved tool joins the baseline', async () => {
    const home = await tempDir();
    const policy = join(home, 'progressive.json');
    await writeFile(
      policy,
      JSON.stringify({version: 'p1', defaults: {mode: 'progressive'}, progressive: {learning_calls: 2, learning_sessions: 1}}),
    );
    const flags = ['--agent-id', 'everything', '--policy', policy];
    const first = await startSession({home, flags});
    let approvalId: string;
    try {
      expect(await callText(first.client, 'echo', {message: 'a'})).toBe('Echo: a');
      expect(await callText(first.client, 'echo', {message: 'b'})).toBe('Echo: b');
      const novel = await refusedCall(first.client, 'get-sum', {a: 1, b: 2});
      expect(novel.code).toBe(-32002);
      expect(novel.data).toMatchObject({
        ruleId: 'progressive:novel-tool',
        mode: 'progressive',
        progressive: {trigger: 'novel-tool', phase: 'established'},
      });
      expect(novel.data['reason']).toContain('"get-sum" has never been allowed for agent "everything" (known tools: echo)');
      approvalId = novel.data['approvalId'] as string;
      expect((await thoth(home, ['approve', approvalId])).code).toBe(0);
      expect(await callText(first.client, 'get-sum', {a: 1, b: 2})).toBe('The sum of 1 and 2 is 3.');
    } finally {
      await first.close();
    }
    const [file] = await readdir(join(home, 'baselines'));
    const baseline = JSON.parse(await readFile(join(home, 'baselines', file!), 'utf8')) as {
      calls: number;
      sessions: number;
      tools: Record<string, unknown>;
    };
    expect(baseline).toMatchObject({calls: 3, sessions: 1});
    expect(Object.keys(baseline.tools).sort()).toEqual(['echo', 'get-sum']);

    const second = await startSession({home, flags});
    try {
      expect(await callText(second.client, 'get-sum', {a: 2, b: 2})).toBe('The sum of 2 and 2 is 4.');
      const explained = await thoth(home, [
        'policy',
        'explain',
        '--agent-id',
        'everything',
        '--tool',
        'get-tiny-image',
        '--policy',
        policy,
      ]);
      expect(explained.envelope.result).toMatchObject({decision: 'step_up', ruleId: 'progressive:novel-tool', mode: 'progressive'});
    } finally {
      await second.close();
    }
    expect(await invalidAuditEvents(join(home, 'audit'))).toEqual([]);
  });
});

describe('tool pinning through thoth run (rug-pull fixture server)', () => {
  const pinPolicy = async (home: string) => {
    const path = join(home, 'pins-policy.json');
    await writeFile(path, JSON.stringify({agents: {rug: {mode: 'block', approved_scope: ['lookup', 'rug-pull']}}}));
    return ['--agent-id', 'rug', '--policy', path];
  };

  it('a definition swapped mid-session is refused (the model keeps seeing the approved one) until thoth pins accept', async () => {
    const home = await tempDir();
    const session = await startSession({home, flags: await pinPolicy(home), server: [process.execPath, RUG_PULL_SERVER]});
    try {
      const before = await session.client.listTools();
      expect(before.tools.find((tool) => tool.name === 'lookup')?.description).toBe('Looks a word up in the dictionary.');
      expect(await callText(session.client, 'lookup', {query: 'owl'})).toBe('definition of owl');
      expect(await callText(session.client, 'rug-pull')).toBe('lookup changed');

      const after = await session.client.listTools();
      expect(after.tools.find((tool) => tool.name === 'lookup')?.description).toBe('Looks a word up in the dictionary.');
      const refused = await refusedCall(session.client, 'lookup', {query: 'owl'});
      expect(refused.code).toBe(-32001);
      expect(refused.data['ruleId']).toBe('pin:changed');
      expect(refused.data['reason']).toContain('thoth pins accept --agent-id rug --tool lookup');
      expect(session.stderr()).toContain('the definition of tool "lookup" changed since it was pinned');

      const listed = await thoth(home, ['pins', 'list', '--agent-id', 'rug']);
      expect(listed.envelope.result?.['agents']).toEqual([
        expect.objectContaining({
          agentId: 'rug',
          tools: expect.arrayContaining([expect.objectContaining({name: 'lookup', status: 'changed'})]),
        }),
      ]);
      const accepted = await thoth(home, ['pins', 'accept', '--agent-id', 'rug', '--tool', 'lookup']);
      expect(accepted.code).toBe(0);
      expect(await callText(session.client, 'lookup', {query: 'owl'})).toBe('definition of owl');
      expect((await session.client.listTools()).tools.find((tool) => tool.name === 'lookup')?.description).toContain('<IMPORTANT>');
    } finally {
      await session.close();
    }

    expect(await invalidAuditEvents(join(home, 'audit'))).toEqual([]);
    const pins = (await auditEvents(home)).filter((event) => event.type.startsWith('PIN_'));
    // One PIN_RECORDED per tool; the change names the pinned hash it departs from, the acceptance the one it pins.
    const recorded = pins.filter((event) => event.type === 'PIN_RECORDED');
    expect(recorded.map((event) => event['toolName']).sort()).toEqual(['lookup', 'rug-pull']);
    for (const event of recorded) expect(event['pinSha256']).toMatch(HEX64);
    const lookupPin = recorded.find((event) => event['toolName'] === 'lookup')!['pinSha256'];
    const changed = pins.filter((event) => event.type === 'PIN_CHANGED');
    expect(changed).toEqual([
      expect.objectContaining({toolName: 'lookup', previousSha256: lookupPin, pinSha256: expect.stringMatching(HEX64)}),
    ]);
    expect(changed[0]!['pinSha256']).not.toBe(lookupPin);
    // The decision (thoth pins accept, its own chain), then the session noticing it: told apart by `via`.
    const acceptances = pins.filter((event) => event.type === 'PIN_ACCEPTED');
    expect(acceptances).toEqual([
      expect.objectContaining({
        via: 'cli',
        toolName: 'lookup',
        pinSha256: changed[0]!['pinSha256'],
        previousSha256: lookupPin,
        acceptedAt: expect.any(String),
        acceptedBy: expect.any(String),
      }),
      expect.objectContaining({
        via: 'session',
        toolName: 'lookup',
        pinSha256: changed[0]!['pinSha256'],
        previousSha256: lookupPin,
        acceptedAt: acceptances[0]!['acceptedAt'],
      }),
    ]);
    // The SIEM export names the tool whose definition changed (OCSF reads toolName and the *Sha256 fields).
    const exported = await runThoth(['audit', 'export', '--format', 'ocsf', '--type', 'PIN_CHANGED'], {env: {THOTH_HOME: home}});
    expect(exported.code).toBe(0);
    const finding = JSON.parse(exported.stdout.trim()) as Record<string, unknown>;
    expect(finding).toMatchObject({
      class_uid: 2004,
      finding_info: {title: 'MCP tool definition changed: lookup'},
      resources: [{name: 'lookup', data: {pinSha256: changed[0]!['pinSha256'], previousSha256: lookupPin}}],
    });
  });

  it('a definition that changed between sessions is refused from the first call', async () => {
    const home = await tempDir();
    const flags = await pinPolicy(home);
    const first = await startSession({home, flags, server: [process.execPath, RUG_PULL_SERVER]});
    await first.client.listTools();
    await first.close();
    const second = await startSession({home, flags, server: [process.execPath, RUG_PULL_SERVER, '--poisoned']});
    try {
      const tools = await second.client.listTools();
      expect(tools.tools.find((tool) => tool.name === 'lookup')?.description).toBe('Looks a word up in the dictionary.');
      expect((await refusedCall(second.client, 'lookup', {query: 'x'})).data['ruleId']).toBe('pin:changed');
      expect(await callText(second.client, 'rug-pull')).toBe('lookup changed');
    } finally {
      await second.close();
    }
    expect(await invalidAuditEvents(join(home, 'audit'))).toEqual([]);
    const types = (await auditEvents(home)).map((event) => event.type);
    expect(types.filter((type) => type.startsWith('PIN_'))).toEqual(['PIN_RECORDED', 'PIN_RECORDED', 'PIN_CHANGED']);
  });
});
