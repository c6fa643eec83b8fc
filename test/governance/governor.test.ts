import {describe, expect, it} from 'vitest';

import {ErrorCode} from '../../src/core/json-rpc.js';
import type {Decision, DecisionContext, Enforcer, ToolCall} from '../../src/core/decision.js';
import {LazyCancellation} from '../../src/governance/cancellation.js';
import {Governor} from '../../src/governance/governor.js';
import {SwitchableGovernance} from '../../src/governance/switchable.js';
import type {AuditSink, ClientChannel, PostCallRecord, PreCallRecord, StepUpHandler} from '../../src/governance/types.js';

const context: DecisionContext = {agentId: 'fs', sessionId: 's-1', mode: 'block', sessionToolCalls: []};
const call: ToolCall = {name: 'read_file', arguments: {path: '/x'}, argumentsJson: '{"path":"/x"}'};
const client: ClientChannel = {capabilities: {}, request: async () => ({})};

function enforcer(decide: () => Promise<Decision> | Decision): Enforcer {
  return {decide: async () => decide()};
}

function recordingAudit(options: {failPre?: boolean} = {}) {
  const pre: PreCallRecord[] = [];
  const post: PostCallRecord[] = [];
  const sink: AuditSink = {
    toolCallPre: async (record) => {
      if (options.failPre) throw new Error('disk full');
      pre.push(record);
      return `event-${pre.length}`;
    },
    toolCallPost: (record) => post.push(record),
    event: () => undefined,
    close: async () => undefined,
  };
  return {sink, pre, post};
}

describe('Governor: one decision per tools/call, recorded before the server sees it', () => {
  it('forwards an allowed call with its ticket; TOOL_CALL_PRE is written first and POST refers to it', async () => {
    const audit = recordingAudit();
    const governor = new Governor({enforcer: enforcer(() => ({decision: 'allow', reason: 'fine', ruleId: 'r'})), audit: audit.sink});
    const outcome = await governor.govern(call, context, '7', client, new LazyCancellation());
    expect(outcome.action).toBe('forward');
    expect(audit.pre).toHaveLength(1);
    governor.complete(outcome.ticket, context, {kind: 'result', resultJson: Buffer.from('{}')});
    expect(audit.post[0]).toMatchObject({preEventId: 'event-1', requestId: '7', outcome: {kind: 'result'}});
  });

  it('refuses a block with -32001 and a step-up with -32002, naming the rule; the refusal is recorded as the outcome', async () => {
    for (const [kind, code] of [
      ['block', ErrorCode.BLOCKED],
      ['step_up', ErrorCode.STEP_UP],
    ] as const) {
      const audit = recordingAudit();
      const governor = new Governor({enforcer: enforcer(() => ({decision: kind, reason: 'no', ruleId: 'rule:x'})), audit: audit.sink});
      const outcome = await governor.govern(call, context, '1', client, new LazyCancellation());
      expect(outcome.action).toBe('refuse');
      if (outcome.action !== 'refuse') return;
      expect(outcome.error).toMatchObject({
        code,
        data: {decision: kind, ruleId: 'rule:x', tool: 'read_file', agentId: 'fs', auditId: 'event-1'},
      });
      expect(audit.post[0]!.outcome).toMatchObject({kind: 'refused'});
    }
  });

  it('fails closed: an enforcer that throws blocks, and so does an unwritable trail', async () => {
    const warnings: string[] = [];
    const throwing = new Governor({
      enforcer: enforcer(() => {
        throw new Error('boom');
      }),
      warn: (message) => warnings.push(message),
    });
    const thrown = await throwing.govern(call, context, '1', client, new LazyCancellation());
    expect(thrown.action === 'refuse' && thrown.error.data).toMatchObject({ruleId: 'enforcer-error'});

    const unwritable = new Governor({
      enforcer: enforcer(() => ({decision: 'allow', reason: 'fine', ruleId: 'r'})),
      audit: recordingAudit({failPre: true}).sink,
      warn: (m) => warnings.push(m),
    });
    const refused = await unwritable.govern(call, context, '2', client, new LazyCancellation());
    expect(refused.action === 'refuse' && refused.error.data).toMatchObject({ruleId: 'audit-unavailable'});
    expect(warnings.join('\n')).toMatch(/enforcer failed on tool "read_file": boom[\s\S]*audit log could not be written: disk full/);
  });

  it('lets the step-up handler settle a step_up, and keeps it a step_up (with the reason) when the handler fails', async () => {
    const approving: StepUpHandler = {resolve: async (_c, _x, decision) => ({...decision, decision: 'allow', ruleId: 'approval:1'})};
    const approved = await new Governor({
      enforcer: enforcer(() => ({decision: 'step_up', reason: 'ask', ruleId: 'r'})),
      stepUp: approving,
    }).govern(call, context, '1', client, new LazyCancellation());
    expect(approved.action).toBe('forward');
    const failing: StepUpHandler = {
      resolve: async () => {
        throw new Error('approvals.json locked');
      },
    };
    const stillAsking = await new Governor({
      enforcer: enforcer(() => ({decision: 'step_up', reason: 'ask', ruleId: 'r'})),
      stepUp: failing,
    }).govern(call, context, '1', client, new LazyCancellation());
    expect(stillAsking.action === 'refuse' && stillAsking.error).toMatchObject({
      code: ErrorCode.STEP_UP,
      message: expect.stringContaining('approval could not be requested: approvals.json locked'),
    });
  });
});

describe('Governor.governThen: no promise when nothing needs one', () => {
  const allow: Decision = {decision: 'allow', reason: 'fine', ruleId: 'r'};

  /** A sink that takes PRE with a callback and calls it when told (as the chain writer does at the end of a turn). */
  function callbackAudit() {
    const waiting: Array<() => void> = [];
    const sink: AuditSink = {
      toolCallPre: async () => {
        throw new Error('the promise form must not be used');
      },
      toolCallPreThen: (_record, done) => waiting.push(() => done(`event-${waiting.length}`)),
      toolCallPost: () => undefined,
      event: () => undefined,
      close: async () => undefined,
    };
    return {sink, waiting};
  }

  it('decides with decideNow and forwards only once the PRE record is written', () => {
    const audit = callbackAudit();
    let asyncDecisions = 0;
    const governor = new Governor({
      enforcer: {decide: async () => (asyncDecisions++, allow), decideNow: () => allow},
      audit: audit.sink,
    });
    const outcomes: string[] = [];
    governor.governThen(call, context, '1', client, new LazyCancellation(), (outcome) => outcomes.push(outcome.action));
    // Decided at once, without decide(); held until the record is with the OS.
    expect(asyncDecisions).toBe(0);
    expect(audit.waiting).toHaveLength(1);
    expect(outcomes).toEqual([]);
    audit.waiting[0]!();
    expect(outcomes).toEqual(['forward']);
  });

  it('with the audit trail off and a synchronous enforcer, settles before returning', () => {
    const governor = new Governor({enforcer: {decide: async () => allow, decideNow: () => ({...allow, decision: 'block'})}});
    let outcome: string | undefined;
    governor.governThen(call, context, '1', client, new LazyCancellation(), (result) => (outcome = result.action));
    expect(outcome).toBe('refuse');
  });

  it('falls back to decide() when decideNow has no answer, deciding once; a step_up still goes to the handler', async () => {
    const decisions: string[] = [];
    const governor = new Governor({
      enforcer: {
        decide: async () => (decisions.push('decide'), {decision: 'step_up', reason: 'ask', ruleId: 'r'}),
        decideNow: () => (decisions.push('decideNow'), undefined),
      },
      stepUp: {resolve: async (_c, _x, decision) => ({...decision, decision: 'allow', ruleId: 'approval:1'})},
    });
    const outcome = await governor.govern(call, context, '1', client, new LazyCancellation());
    expect(decisions).toEqual(['decideNow', 'decide']);
    expect(outcome.action === 'forward' && outcome.ticket.decision.ruleId).toBe('approval:1');
  });

  it('fails closed when decideNow throws or the callback reports a write failure', () => {
    const failing: AuditSink = {...callbackAudit().sink, toolCallPreThen: (_record, done) => done('', new Error('disk full'))};
    const results: unknown[] = [];
    new Governor({
      enforcer: {
        decide: async () => allow,
        decideNow: () => {
          throw new Error('boom');
        },
      },
    }).governThen(call, context, '1', client, new LazyCancellation(), (outcome) =>
      results.push(outcome.action === 'refuse' && outcome.error.data),
    );
    new Governor({enforcer: {decide: async () => allow, decideNow: () => allow}, audit: failing}).governThen(
      call,
      context,
      '2',
      client,
      new LazyCancellation(),
      (outcome) => results.push(outcome.action === 'refuse' && outcome.error.data),
    );
    expect(results).toEqual([expect.objectContaining({ruleId: 'enforcer-error'}), expect.objectContaining({ruleId: 'audit-unavailable'})]);
  });
});

describe('SwitchableGovernance', () => {
  it('swaps governor and context together, and tells listeners only when hidden tools changed', () => {
    const first = new Governor({enforcer: enforcer(() => ({decision: 'allow', reason: '', ruleId: 'a'}))});
    const second = new Governor({enforcer: enforcer(() => ({decision: 'block', reason: '', ruleId: 'b'}))});
    const handle = new SwitchableGovernance({governor: first, context});
    let notified = 0;
    handle.onToolsListChanged(() => notified++);
    const next = {...context, mode: 'step_up' as const};
    handle.swap({governor: second, context: next}, false);
    expect([handle.governor, handle.context]).toEqual([second, next]);
    expect(notified).toBe(0);
    handle.swap({governor: first, context}, true);
    expect(notified).toBe(1);
  });
});

describe('LazyCancellation', () => {
  it('creates no AbortSignal until one is asked for, and an abort before that still reaches it', () => {
    const cancellation = new LazyCancellation();
    expect(cancellation.aborted).toBe(false);
    cancellation.abort(new Error('cancelled by the client'));
    expect(cancellation.aborted).toBe(true);
    expect(cancellation.signal.aborted).toBe(true);
    expect((cancellation.signal.reason as Error).message).toBe('cancelled by the client');
  });
});
