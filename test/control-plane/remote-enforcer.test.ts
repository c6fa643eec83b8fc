import {randomUUID} from 'node:crypto';
import {createServer} from 'node:net';

import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest';

import type {ControlPlaneClient} from '../../src/control-plane/client.js';
import type {ControlPlaneEndpoint} from '../../src/control-plane/config.js';
import type {EnforceRequest} from '../../src/control-plane/contract.js';
import {LocalThenRemoteEnforcer, RemoteAwareStepUp} from '../../src/control-plane/local-then-remote.js';
import {RemoteEnforcer} from '../../src/control-plane/remote-enforcer.js';
import type {Decision, DecisionContext, DecisionKind, Enforcer, ToolCall} from '../../src/core/decision.js';
import type {ClientChannel, StepUpHandler} from '../../src/governance/types.js';
import {errorBody, type TestControlPlane} from '../helpers/control-plane-server.js';
import {API_KEY, clientFor, fleetEnv, makePki, planFrom, startPlane, type Pki} from './fixtures.js';

/** The embedded side, reduced to a fixed answer: these tests are about the remote side and the combination. */
class FixedEnforcer implements Enforcer {
  calls = 0;
  constructor(
    public answer: DecisionKind,
    public observed?: DecisionKind,
  ) {}
  async decide(): Promise<Decision> {
    this.calls++;
    const decision: Decision = {decision: this.answer, reason: `local ${this.answer}`, ruleId: `local-${this.answer}`, trace: ['local']};
    if (this.observed) decision.observed = this.observed;
    return decision;
  }
}

/** A fixed embedded answer that, like the embedded enforcer, learns the calls it allows unless told to defer. */
class LearningEnforcer extends FixedEnforcer {
  learned: string[] = [];
  private deferred = false;
  override async decide(call?: ToolCall): Promise<Decision> {
    const decision = await super.decide();
    if (!this.deferred && decision.decision === 'allow' && call) this.learned.push(call.name);
    return decision;
  }
  deferLearning(): (call: ToolCall) => void {
    this.deferred = true;
    return (call) => void this.learned.push(call.name);
  }
}

class RecordingStepUp implements StepUpHandler {
  calls = 0;
  async resolve(_call: ToolCall, _context: DecisionContext, decision: Decision): Promise<Decision> {
    this.calls++;
    return {...decision, reason: `${decision.reason} (asked locally)`};
  }
}

const NO_CLIENT: ClientChannel = {capabilities: undefined, request: async () => ({})};

function call(name: string, args: unknown): ToolCall {
  return {name, arguments: args, argumentsJson: JSON.stringify(args)};
}

function context(): DecisionContext {
  return {
    agentId: 'files',
    sessionId: randomUUID(),
    mode: 'progressive',
    tenantId: 'acme',
    endpointId: 'ep-test-1',
    userId: 'ada@acme.test',
    sessionToolCalls: ['list_directory'],
    intent: 'code_review',
  };
}

async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const {port} = server.address() as {port: number};
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `https://127.0.0.1:${port}`;
}

describe('the remote enforcer, against a real HTTPS control plane on 127.0.0.1', () => {
  let pki: Pki;
  let plane: TestControlPlane;
  const clients: ControlPlaneClient[] = [];

  beforeAll(async () => {
    pki = await makePki();
    plane = await startPlane(pki);
  });
  afterEach(async () => {
    plane.requests.length = 0;
    plane.decide = () => ({decision: 'allow', reason: 'allowed by the test control plane', ruleId: 'test-allow'});
    while (clients.length > 0) await clients.pop()!.close();
  });
  afterAll(async () => {
    // Every request thoth sent in this file followed its schema.
    expect(plane.everInvalid.map((r) => `${r.path}: ${r.problems.join('; ')}`)).toEqual([]);
    await plane.close();
    await pki.remove();
  });

  async function setup(env: Record<string, string> = {}, local = new FixedEnforcer('allow'), holdBudgetMs = 5000) {
    const {plan} = await planFrom(fleetEnv(plane, pki, env));
    const client = await clientFor(plan);
    clients.push(client);
    const warnings: string[] = [];
    const remote = new RemoteEnforcer({
      sender: client,
      endpoint: plan.enforcer as ControlPlaneEndpoint,
      timeoutMs: plan.enforcerTimeoutMs,
      failureDecision: plan.failureDecision,
      env: plan.env,
      holdBudgetMs,
      warn: (message) => warnings.push(message),
      holdRetryMs: 50,
    });
    const localStepUp = new RecordingStepUp();
    return {
      enforcer: new LocalThenRemoteEnforcer(local, remote),
      stepUp: new RemoteAwareStepUp(remote, localStepUp),
      local,
      localStepUp,
      warnings,
      plan,
    };
  }

  it('asks once per call: allow, block and step_up are the enforcer’s, over one kept-alive connection, each request valid by the schema', async () => {
    const {enforcer} = await setup();
    const answers: DecisionKind[] = ['allow', 'block', 'step_up', 'allow'];
    let index = 0;
    plane.decide = () => {
      const decision = answers[index++ % answers.length]!;
      return {decision, reason: `central ${decision}`, ruleId: `central-${decision}`};
    };
    const connectionsBefore = plane.connections;
    const decisions = [];
    for (let i = 0; i < answers.length; i++) decisions.push(await enforcer.decide(call('read_file', {path: `/tmp/${i}`}), context()));
    expect(decisions.map((d) => d.decision)).toEqual(['allow', 'block', 'step_up', 'allow']);
    expect(decisions.map((d) => d.ruleId)).toEqual([
      'remote:central-allow',
      'remote:central-block',
      'remote:central-step_up',
      'remote:central-allow',
    ]);
    expect(decisions[1]!.reason).toBe('central block');
    expect(plane.of('enforce')).toHaveLength(4);
    for (let i = 0; i < 8; i++) await enforcer.decide(call('read_file', {path: `/tmp/more-${i}`}), context());
    // Twelve calls, kept-alive connections: undici may open a second one while the first finishes its answer, no more.
    expect(plane.connections - connectionsBefore).toBeLessThanOrEqual(2);
    expect(plane.invalid()).toEqual([]);
  });

  it('sends the call as it will be forwarded, with the API key only in the authorization header', async () => {
    const {enforcer} = await setup();
    // 2^64 must reach the enforcer as written, not rounded by a second serialisation.
    const raw = '{"path":"/tmp/a","count":18446744073709551616}';
    await enforcer.decide({name: 'write_file', arguments: {path: '/tmp/a'}, argumentsJson: raw}, context());
    const [request] = plane.of('enforce');
    expect(request!.headers['authorization']).toBe(`Bearer ${API_KEY}`);
    expect(request!.headers['user-agent']).toMatch(/^thoth\//);
    const body = request!.body as EnforceRequest;
    expect(body).toMatchObject({
      tenantId: 'acme',
      endpointId: 'ep-test-1',
      agentId: 'files',
      tool: 'write_file',
      mode: 'progressive',
      intent: 'code_review',
      local: {decision: 'allow', ruleId: 'local-allow'},
      sessionToolCalls: ['list_directory'],
    });
    expect(body.argumentsSha256).toMatch(/^[0-9a-f]{64}$/);
    const text = JSON.stringify(body);
    expect(text).not.toContain(API_KEY);
    expect(request!.raw).toContain('"arguments":{"path":"/tmp/a","count":18446744073709551616}');
    expect(plane.requests.at(-1)!.problems).toEqual([]);
  });

  it('the embedded baseline learns only calls the combined decision allows', async () => {
    const local = new LearningEnforcer('allow');
    const {enforcer} = await setup({}, local);
    plane.decide = (request: EnforceRequest) => {
      const decision: DecisionKind = request.tool === 'delete_everything' ? 'block' : 'allow';
      return {decision, reason: `central ${decision}`, ruleId: `central-${decision}`};
    };
    expect((await enforcer.decide(call('read_file', {path: '/a'}), context())).decision).toBe('allow');
    expect((await enforcer.decide(call('delete_everything', {}), context())).decision).toBe('block');
    local.answer = 'step_up';
    expect((await enforcer.decide(call('write_file', {path: '/b'}), context())).decision).toBe('step_up');
    expect(local.learned).toEqual(['read_file']);
  });

  it('a local block is final: the call never leaves the machine', async () => {
    const local = new FixedEnforcer('block');
    const {enforcer} = await setup({}, local);
    const decision = await enforcer.decide(call('read_file', {path: '/etc/shadow'}), context());
    expect(decision).toMatchObject({decision: 'block', ruleId: 'local-block'});
    expect(plane.of('enforce')).toHaveLength(0);
  });

  it.each([
    ['allow', 'allow', 'allow', 'remote:central'],
    ['allow', 'step_up', 'step_up', 'remote:central'],
    ['allow', 'block', 'block', 'remote:central'],
    ['step_up', 'allow', 'step_up', 'local-step_up'],
    ['step_up', 'step_up', 'step_up', 'remote:central'],
    ['step_up', 'block', 'block', 'remote:central'],
  ] as const)(
    'local %s + remote %s → %s (the more restrictive; the remote one on a tie)',
    async (localKind, remoteKind, expected, ruleStart) => {
      const {enforcer} = await setup({}, new FixedEnforcer(localKind));
      plane.decide = () => ({decision: remoteKind, reason: 'central', ruleId: 'central'});
      const decision = await enforcer.decide(call('echo', {message: 'x'}), context());
      expect(decision.decision).toBe(expected);
      expect(decision.ruleId.startsWith(ruleStart)).toBe(true);
      expect((plane.of('enforce')[0]!.body as EnforceRequest).local.decision).toBe(localKind);
    },
  );

  it('observe mode locally does not switch off a central block (the enforcer is told the mode)', async () => {
    const {enforcer} = await setup({}, new FixedEnforcer('allow', 'block'));
    plane.decide = (request) => ({decision: 'block', reason: `central block in ${request.mode}`, ruleId: 'central'});
    const decision = await enforcer.decide(call('echo', {}), {...context(), mode: 'observe'});
    expect(decision.decision).toBe('block');
    expect(decision.reason).toBe('central block in observe');
  });

  describe('outage: THOTH_ENFORCER_FAILURE_DECISION in each environment', () => {
    const cases: Array<[string, string, string | undefined, DecisionKind]> = [
      ['dev', 'block', undefined, 'block'],
      ['dev', 'step_up', undefined, 'step_up'],
      ['dev', 'allow', undefined, 'allow'],
      ['staging', 'block', undefined, 'block'],
      ['staging', 'step_up', undefined, 'step_up'],
      ['staging', 'allow', undefined, 'block'],
      ['prod', 'block', undefined, 'block'],
      ['prod', 'step_up', undefined, 'step_up'],
      ['prod', 'allow', undefined, 'block'],
      ['prod', 'allow', 'true', 'allow'],
      ['staging', 'allow', 'true', 'allow'],
      ['prod', 'allow', 'false', 'block'],
    ];
    it.each(cases)('env %s, failure decision %s, override %s → %s', async (env, failure, override, expected) => {
      const extra: Record<string, string> = {THOTH_ENV: env, THOTH_ENFORCER_FAILURE_DECISION: failure, THOTH_ENFORCER_URL: await deadUrl()};
      if (override !== undefined) extra['THOTH_ENFORCER_ALLOW_FALLBACK_OVERRIDE'] = override;
      const {enforcer, stepUp, localStepUp, warnings} = await setup(extra);
      const started = Date.now();
      const decision = await enforcer.decide(call('echo', {message: 'x'}), context());
      expect(Date.now() - started).toBeLessThan(1500);
      expect(decision.decision).toBe(expected);
      if (expected !== 'allow') {
        expect(decision.ruleId).toBe('enforcer:unavailable');
        expect(decision.reason).toContain(`THOTH_ENFORCER_FAILURE_DECISION=${expected}`);
      }
      expect(warnings.join('\n')).toContain('could not decide');
      if (expected === 'step_up') {
        // The enforcer is down: a person on this machine decides (local approvals).
        await stepUp.resolve(call('echo', {}), context(), decision, NO_CLIENT, new AbortController().signal);
        expect(localStepUp.calls).toBe(1);
      }
    });
  });

  it('a slow enforcer: the failure decision after THOTH_ENFORCER_TIMEOUT_MS', async () => {
    const {enforcer} = await setup({THOTH_ENFORCER_TIMEOUT_MS: '300', THOTH_ENV: 'prod'});
    plane.handlers.enforce = () => ({delayMs: 2000, body: {decision: 'allow', reason: 'late', ruleId: 'late'}});
    try {
      const started = Date.now();
      const decision = await enforcer.decide(call('echo', {}), context());
      const elapsed = Date.now() - started;
      expect(decision).toMatchObject({decision: 'block', ruleId: 'enforcer:unavailable'});
      expect(decision.reason).toContain('no answer within 300 ms');
      expect(elapsed).toBeGreaterThanOrEqual(290);
      expect(elapsed).toBeLessThan(1500);
    } finally {
      delete plane.handlers.enforce;
    }
  });

  it('after three failures in a row the enforcer is left alone for a while: calls get the failure decision at once', async () => {
    const {enforcer} = await setup({THOTH_ENV: 'dev', THOTH_ENFORCER_FAILURE_DECISION: 'step_up'});
    plane.handlers.enforce = () => ({status: 503, body: errorBody('UNAVAILABLE', 'maintenance')});
    try {
      for (let i = 0; i < 5; i++) expect((await enforcer.decide(call('echo', {}), context())).decision).toBe('step_up');
      expect(plane.of('enforce')).toHaveLength(3);
      const paused = await enforcer.decide(call('echo', {}), context());
      expect(paused.reason).toContain('failed 3 times in a row');
    } finally {
      delete plane.handlers.enforce;
    }
  });

  it.each([
    [
      'an answer outside the contract',
      () => ({body: {decision: 'maybe', reason: 'x', ruleId: 'y'}}),
      'does not follow control-plane/enforce-response',
    ],
    ['a refused key (401)', () => ({status: 401, body: errorBody('UNAUTHENTICATED', 'unknown key')}), 'HTTP 401 UNAUTHENTICATED'],
  ])('%s is an enforcer that could not decide (failure decision)', async (_name, reply, message) => {
    const {enforcer} = await setup({THOTH_ENV: 'prod'});
    plane.handlers.enforce = reply as never;
    try {
      const decision = await enforcer.decide(call('echo', {}), context());
      expect(decision).toMatchObject({decision: 'block', ruleId: 'enforcer:unavailable'});
      expect(decision.reason).toContain(message);
    } finally {
      delete plane.handlers.enforce;
    }
  });

  describe('remote step-up', () => {
    it('with a hold token: thoth waits, and an approval in the control plane lets the call through', async () => {
      const {enforcer, stepUp, localStepUp} = await setup();
      const token = plane.createHold('apr-1');
      plane.decide = () => ({
        decision: 'step_up',
        reason: 'writes need a second pair of eyes',
        ruleId: 'central-writes',
        approval: {id: 'apr-1', url: 'https://acme.example/approvals/apr-1', holdToken: token},
      });
      const decision = await enforcer.decide(call('write_file', {path: '/tmp/x'}), context());
      expect(decision.decision).toBe('step_up');
      expect(JSON.stringify(decision)).not.toContain(token);
      setTimeout(() => plane.resolveHold(token, 'approved', 'grace@acme.test'), 300);
      const resolved = await stepUp.resolve(
        call('write_file', {path: '/tmp/x'}),
        context(),
        decision,
        NO_CLIENT,
        new AbortController().signal,
      );
      expect(resolved).toMatchObject({decision: 'allow', ruleId: 'remote-approval:apr-1'});
      expect(resolved.reason).toContain('approved by grace@acme.test');
      expect(localStepUp.calls).toBe(0);
      expect(plane.of('holdWait').length).toBeGreaterThanOrEqual(1);
      expect(plane.invalid()).toEqual([]);
    });

    it('a denial blocks the held call', async () => {
      const {enforcer, stepUp} = await setup();
      const token = plane.createHold('apr-2');
      plane.decide = () => ({decision: 'step_up', reason: 'needs approval', ruleId: 'central', approval: {id: 'apr-2', holdToken: token}});
      const decision = await enforcer.decide(call('write_file', {}), context());
      setTimeout(() => plane.resolveHold(token, 'denied'), 100);
      const resolved = await stepUp.resolve(call('write_file', {}), context(), decision, NO_CLIENT, new AbortController().signal);
      expect(resolved).toMatchObject({decision: 'block', ruleId: 'remote-approval:apr-2'});
    });

    it('waits no longer than the budget (counted from the call’s arrival), then stays step_up with the approval reference', async () => {
      const {enforcer, stepUp} = await setup({}, new FixedEnforcer('allow'), 800);
      const token = plane.createHold('apr-3');
      plane.decide = () => ({
        decision: 'step_up',
        reason: 'needs approval',
        ruleId: 'central',
        approval: {id: 'apr-3', url: 'https://acme.example/a/apr-3', holdToken: token},
      });
      const started = Date.now();
      const decision = await enforcer.decide(call('write_file', {}), context());
      const resolved = await stepUp.resolve(call('write_file', {}), context(), decision, NO_CLIENT, new AbortController().signal);
      const elapsed = Date.now() - started;
      expect(resolved.decision).toBe('step_up');
      expect(resolved.details).toMatchObject({approvalId: 'apr-3', approvalUrl: 'https://acme.example/a/apr-3'});
      expect(resolved.reason).toContain('approval apr-3 at https://acme.example/a/apr-3');
      expect(resolved.reason).toContain('retry the call once it is approved');
      expect(elapsed).toBeGreaterThanOrEqual(750);
      expect(elapsed).toBeLessThan(3000);
      expect((plane.of('holdWait')[0]!.body as {waitMs: number}).waitMs).toBeLessThanOrEqual(800);
    });

    it('a cancelled call stops waiting at once', async () => {
      const {enforcer, stepUp} = await setup();
      const token = plane.createHold('apr-4');
      plane.decide = () => ({decision: 'step_up', reason: 'needs approval', ruleId: 'central', approval: {id: 'apr-4', holdToken: token}});
      const decision = await enforcer.decide(call('write_file', {}), context());
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 200);
      const started = Date.now();
      const resolved = await stepUp.resolve(call('write_file', {}), context(), decision, NO_CLIENT, controller.signal);
      expect(Date.now() - started).toBeLessThan(1500);
      expect(resolved.decision).toBe('step_up');
      expect(resolved.reason).toContain('cancelled');
    });

    it('without a hold token: -32002 at once, never approved by the local prompt', async () => {
      const {enforcer, stepUp, localStepUp} = await setup();
      plane.decide = () => ({
        decision: 'step_up',
        reason: 'needs approval',
        ruleId: 'central',
        approval: {id: 'apr-5', url: 'https://acme.example/a/apr-5'},
      });
      const decision = await enforcer.decide(call('write_file', {}), context());
      const resolved = await stepUp.resolve(call('write_file', {}), context(), decision, NO_CLIENT, new AbortController().signal);
      expect(resolved).toBe(decision);
      expect(resolved.details).toMatchObject({approvalId: 'apr-5', approvalUrl: 'https://acme.example/a/apr-5'});
      expect(localStepUp.calls).toBe(0);
    });

    it('a local step-up (the enforcer allowed) goes to the local approvals', async () => {
      const {enforcer, stepUp, localStepUp} = await setup({}, new FixedEnforcer('step_up'));
      const decision = await enforcer.decide(call('write_file', {}), context());
      expect(decision.ruleId).toBe('local-step_up');
      await stepUp.resolve(call('write_file', {}), context(), decision, NO_CLIENT, new AbortController().signal);
      expect(localStepUp.calls).toBe(1);
    });
  });
});
