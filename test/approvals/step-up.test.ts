import {readFile, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {ApprovalStepUp, approveCommandFor, supportsFormElicitation, type ApprovalSettings} from '../../src/approvals/step-up.js';
import {decideAndRecord} from '../../src/approvals/decide.js';
import {decideApproval, listApprovals, readApprovals, approvalsFile} from '../../src/approvals/store.js';
import type {Decision, DecisionContext, ToolCall} from '../../src/core/decision.js';
import type {ClientChannel} from '../../src/governance/types.js';
import type {JsonObject} from '../../src/core/json-rpc.js';
import {stringifyJson} from '../../src/core/json-rpc.js';
import type {AuditEvent} from '../../src/audit/events.js';
import {canonicalJson, sha256Hex} from '../../src/core/canonical-json.js';
import {invalidEvents, recordedEvent} from '../helpers/audit-schemas.js';
import {tempDir} from '../helpers/tmp.js';

const settings: ApprovalSettings = {policyVersion: 'v1@sha256:aa', ttlMs: 600_000, elicitation: true, elicitationTimeoutMs: 5000};
const context: DecisionContext = {
  agentId: 'fs',
  sessionId: 'session-1',
  mode: 'step_up',
  sessionToolCalls: [],
  session: {client: {name: 'test-client'}},
};
const call: ToolCall = {
  name: 'write_file',
  arguments: {path: '/w/a', content: 'x'},
  argumentsJson: stringifyJson({path: '/w/a', content: 'x'}),
};
const stepUp: Decision = {decision: 'step_up', ruleId: 'rule:writes', reason: 'writes need approval', trace: ['rule:writes matches']};
/** What approval events name `argumentsSha256`: bare hex, as the event schemas (and the control plane) have it. */
const argumentsSha256 = sha256Hex(canonicalJson(call.arguments));

/** A client channel that records requests and answers them as a client would. */
function channel(capabilities: Record<string, unknown> | undefined, answer: (method: string, params: JsonObject) => Promise<unknown>) {
  const requests: Array<{method: string; params: JsonObject; timeoutMs: number}> = [];
  const client: ClientChannel = {
    capabilities,
    request: (method, params, options) => {
      requests.push({method, params, timeoutMs: options.timeoutMs});
      return answer(method, params);
    },
  };
  return {client, requests};
}

function handler(home: string, extra: Partial<ConstructorParameters<typeof ApprovalStepUp>[0]> = {}) {
  const events: Array<{type: string; fields: Record<string, unknown>}> = [];
  /** The same events as the audit trail would have them. */
  const recorded: AuditEvent[] = [];
  const approved: string[] = [];
  const stepUpHandler = new ApprovalStepUp({
    home,
    settings,
    trail: trailOf(home),
    event: (type, eventContext, fields) => {
      events.push({type, fields});
      recorded.push(recordedEvent(type, eventContext, fields));
    },
    onApproved: (approvedCall) => approved.push(approvedCall.name),
    ...extra,
  });
  return {stepUpHandler, events, recorded, approved};
}

const signal = new AbortController().signal;

/** The profile's default audit trail: where `thoth approve` (decideAndRecord) records grants, and where the session looks. */
function trailOf(home: string) {
  return {auditDir: join(home, 'audit'), keyFile: join(home, 'audit_hmac_key.json')};
}

/** `thoth approve`: the grant sealed in the trail, then applied. */
async function approve(home: string, id: string, by = 'ann') {
  return decideAndRecord(home, id, 'approved', {by}, {env: {THOTH_HOME: home}});
}

describe('step-up without elicitation: approval id and thoth approve', () => {
  it('refuses with an approval id (the command goes to stderr only), then lets the approved identical retry through once', async () => {
    const home = await tempDir();
    const warnings: string[] = [];
    const {stepUpHandler, events, recorded, approved} = handler(home, {warn: (message) => warnings.push(message)});
    const {client, requests} = channel({}, async () => ({}));
    // `elicitation` not declared: the client is never asked.
    const {client: noElicitation} = channel({sampling: {}}, async () => ({}));

    const first = await stepUpHandler.resolve(call, context, stepUp, noElicitation, signal);
    expect(first.decision).toBe('step_up');
    const approvalId = first.details?.['approvalId'] as string;
    expect(first.details).toMatchObject({
      approvalId: expect.stringMatching(/^[0-9a-z]{10}$/),
      expiresAt: expect.any(String),
      approvalChannel: 'local',
    });
    expect(first.details).not.toHaveProperty('approveCommand');
    expect(warnings).toEqual([expect.stringContaining(`run in your own terminal: thoth approve ${approvalId} --thoth-home ${home}`)]);
    // stderr may go to a log file: the arguments are not in it.
    expect(warnings[0]).not.toContain('/w/a');
    expect(events).toEqual([
      {
        type: 'APPROVAL_REQUESTED',
        fields: expect.objectContaining({
          approvalId,
          toolName: 'write_file',
          argumentsSha256,
          policyVersion: 'v1@sha256:aa',
          ruleId: 'rule:writes',
        }),
      },
    ]);
    expect((await listApprovals(home))[0]).toMatchObject({
      id: approvalId,
      agentId: 'fs',
      tool: 'write_file',
      argumentsPreview: '{"path":"/w/a","content":"x"}',
      intent: null,
    });

    await approve(home, approvalId);
    const retry = await stepUpHandler.resolve(call, context, stepUp, client, signal);
    expect(retry).toMatchObject({decision: 'allow', ruleId: `approval:${approvalId}`, details: {approvalId, stepUpRuleId: 'rule:writes'}});
    expect(retry.reason).toMatch(/^approved by ann at .*used now\): writes need approval$/);
    expect(approved).toEqual(['write_file']);
    expect(requests).toEqual([]);

    const again = await stepUpHandler.resolve(call, context, stepUp, noElicitation, signal);
    expect(again.decision).toBe('step_up');
    expect(again.details?.['approvalId']).not.toBe(approvalId);

    expect(events.map((event) => event.type)).toEqual(['APPROVAL_REQUESTED', 'APPROVAL_USED', 'APPROVAL_REQUESTED']);
    expect(events[1]!.fields).toEqual({
      approvalId,
      toolName: 'write_file',
      argumentsSha256,
      policyVersion: 'v1@sha256:aa',
      ruleId: 'rule:writes',
      approvedBy: 'ann',
      approvedAt: expect.any(String),
    });
    expect(await invalidEvents(recorded)).toEqual([]);
  });

  it('a denied call is blocked on retry, with who denied it and why', async () => {
    const home = await tempDir();
    const {stepUpHandler} = handler(home);
    const {client} = channel(undefined, async () => ({}));
    const first = await stepUpHandler.resolve(call, context, stepUp, client, signal);
    await decideApproval(home, first.details?.['approvalId'] as string, 'denied', {by: 'sec', note: 'no writes today'});
    const retry = await stepUpHandler.resolve(call, context, stepUp, client, signal);
    expect(retry).toMatchObject({decision: 'block', ruleId: `approval:${first.details?.['approvalId'] as string}`});
    expect(retry.reason).toContain('denied by sec');
    expect(retry.reason).toContain('"no writes today"');
  });

  it('a call without arguments is bound as {} (what the server receives, and what the remote enforcer hashes)', async () => {
    const home = await tempDir();
    const {stepUpHandler, events} = handler(home);
    const {client} = channel(undefined, async () => ({}));
    const bare: ToolCall = {name: 'list_allowed', arguments: undefined, argumentsJson: ''};
    const first = await stepUpHandler.resolve(bare, context, stepUp, client, signal);
    expect(events[0]!.fields).toMatchObject({argumentsSha256: sha256Hex(canonicalJson({}))});
    await approve(home, first.details?.['approvalId'] as string);
    const explicitEmpty: ToolCall = {name: 'list_allowed', arguments: {}, argumentsJson: '{}'};
    expect((await stepUpHandler.resolve(explicitEmpty, context, stepUp, client, signal)).decision).toBe('allow');
  });

  it('names the default profile without --thoth-home', () => {
    expect(approveCommandFor('abc', '/home/ann/.thoth', '/home/ann/.thoth')).toBe('thoth approve abc');
    expect(approveCommandFor('abc', '/srv/my thoth', '/home/ann/.thoth')).toBe("thoth approve abc --thoth-home '/srv/my thoth'");
  });
});

/** approvals.json edited as a file tool would. */
async function editRecord(home: string, id: string, change: Record<string, unknown>): Promise<void> {
  const parsed = JSON.parse(await readFile(approvalsFile(home), 'utf8')) as {approvals: Array<Record<string, unknown>>};
  for (const record of parsed.approvals) if (record['id'] === id) Object.assign(record, change);
  await writeFile(approvalsFile(home), JSON.stringify(parsed));
}

describe("a grant counts only with its sealed APPROVAL_GRANTED (approvals.json is anyone's to edit)", () => {
  async function requested(home: string, extra: Partial<ConstructorParameters<typeof ApprovalStepUp>[0]> = {}) {
    const warnings: string[] = [];
    const made = handler(home, {warn: (message) => warnings.push(message), ...extra});
    const {client} = channel(undefined, async () => ({}));
    const first = await made.stepUpHandler.resolve(call, context, stepUp, client, signal);
    return {...made, warnings, client, approvalId: first.details?.['approvalId'] as string};
  }

  it('a grant written straight into approvals.json is ignored, warned about and recorded as APPROVAL_UNVERIFIED', async () => {
    const home = await tempDir();
    const {stepUpHandler, events, recorded, warnings, client, approvalId} = await requested(home);
    await decideApproval(home, approvalId, 'approved', {by: 'security-team'});
    const retry = await stepUpHandler.resolve(call, context, stepUp, client, signal);
    expect(retry.decision).toBe('step_up');
    expect(retry.details?.['approvalId']).not.toBe(approvalId);
    expect(events.map((event) => event.type)).toEqual(['APPROVAL_REQUESTED', 'APPROVAL_UNVERIFIED', 'APPROVAL_REQUESTED']);
    expect(events[1]!.fields).toMatchObject({
      approvalId,
      toolName: 'write_file',
      argumentsSha256,
      claimedBy: 'security-team',
      why: expect.stringContaining('no APPROVAL_GRANTED record'),
    });
    expect(warnings.some((warning) => warning.includes(`approval ${approvalId}`) && warning.includes('is ignored'))).toBe(true);
    expect(await invalidEvents(recorded)).toEqual([]);
    // Left as it is: not used, so not counted as a use.
    expect((await readApprovals(home)).approvals.find((record) => record.id === approvalId)?.status).toBe('approved');
  });

  it('APPROVAL_USED names the approver the sealed record names, not the one approvals.json claims', async () => {
    const home = await tempDir();
    const {stepUpHandler, events, client, approvalId} = await requested(home);
    const granted = await approve(home, approvalId, 'ann');
    await editRecord(home, approvalId, {decidedBy: 'the-ciso', decidedAt: '2020-01-01T00:00:00.000Z'});
    expect((await stepUpHandler.resolve(call, context, stepUp, client, signal)).decision).toBe('allow');
    expect(events.find((event) => event.type === 'APPROVAL_USED')?.fields).toMatchObject({
      approvedBy: 'ann',
      approvedAt: expect.not.stringMatching(/^2020/),
    });
    expect(granted.audit).not.toBeNull();
  });

  it('a used grant edited back to "approved" is not used again by the session', async () => {
    const home = await tempDir();
    const {stepUpHandler, events, client, approvalId} = await requested(home);
    await approve(home, approvalId);
    expect((await stepUpHandler.resolve(call, context, stepUp, client, signal)).decision).toBe('allow');
    await editRecord(home, approvalId, {status: 'approved'});
    expect((await stepUpHandler.resolve(call, context, stepUp, client, signal)).decision).toBe('step_up');
    expect(events.filter((event) => event.type === 'APPROVAL_UNVERIFIED')).toEqual([
      {type: 'APPROVAL_UNVERIFIED', fields: expect.objectContaining({why: expect.stringContaining('already used')})},
    ]);
  });

  it('a grant whose sealed record was edited, whose sealed expiry passed, or that is checked with another key is ignored', async () => {
    const home = await tempDir();
    const {stepUpHandler, events, client, approvalId} = await requested(home);
    const granted = await approve(home, approvalId);
    const chainFile = join(home, 'audit', granted.audit!.file);
    const original = await readFile(chainFile, 'utf8');

    // The grant's own record, edited (say, its expiry pushed back): its MAC no longer matches.
    await writeFile(chainFile, original.replace(/"expiresAt":"[^"]+"/, '"expiresAt":"2999-01-01T00:00:00.000Z"'));
    expect((await stepUpHandler.resolve(call, context, stepUp, client, signal)).decision).toBe('step_up');
    expect(events.at(-2)).toMatchObject({type: 'APPROVAL_UNVERIFIED', fields: {why: expect.stringContaining('HMAC does not match')}});
    await writeFile(chainFile, original);

    // The sealed expiry counts, whatever approvals.json says.
    const later = new Date(Date.parse(granted.expiresAt) + 1000);
    await editRecord(home, approvalId, {expiresAt: new Date(later.getTime() + 600_000).toISOString()});
    const {stepUpHandler: afterExpiry, events: expiryEvents} = handler(home, {now: () => later});
    expect((await afterExpiry.resolve(call, context, stepUp, client, signal)).decision).toBe('step_up');
    expect(expiryEvents[0]).toMatchObject({type: 'APPROVAL_UNVERIFIED', fields: {why: expect.stringContaining('expired')}});

    // Checked with another key (a trail the session does not own): nothing can be proven.
    const {stepUpHandler: otherKey, events: otherKeyEvents} = handler(home, {
      trail: {...trailOf(home), keyFile: join(home, 'missing-key.json')},
    });
    expect((await otherKey.resolve(call, context, stepUp, client, signal)).decision).toBe('step_up');
    expect(otherKeyEvents[0]).toMatchObject({type: 'APPROVAL_UNVERIFIED', fields: {why: expect.stringContaining('does not exist')}});

    // The untouched grant still works.
    expect((await stepUpHandler.resolve(call, context, stepUp, client, signal)).decision).toBe('allow');
  });
});

describe('step-up with elicitation', () => {
  it.each([
    [{}, true],
    [{form: {}}, true],
    [{url: {}}, false],
    [{form: {}, url: {}}, true],
    [undefined, false],
    [true, false],
  ])('capability elicitation=%j supports the form prompt: %s', (elicitation, supported) => {
    expect(supportsFormElicitation(elicitation === undefined ? {} : {elicitation})).toBe(supported);
  });

  it('asks the user, within the configured timeout, and forwards only on an explicit accept', async () => {
    const home = await tempDir();
    const {stepUpHandler, events, recorded, approved} = handler(home);
    const {client, requests} = channel({elicitation: {}}, async () => ({action: 'accept', content: {approve: true}}));
    const result = await stepUpHandler.resolve(call, context, stepUp, client, signal);
    expect(result).toMatchObject({decision: 'allow', ruleId: 'approval:elicitation', details: {approvedVia: 'elicitation'}});
    expect(result.reason).toBe('approved by the user in test-client: writes need approval');
    expect(requests).toHaveLength(1);
    expect(requests[0]!.method).toBe('elicitation/create');
    expect(requests[0]!.timeoutMs).toBe(5000);
    expect(requests[0]!.params['message']).toContain('"fs" wants to run the tool "write_file" with {"path":"/w/a","content":"x"}');
    // The prompt is for the person: it names the id the request would get, and the command.
    expect(requests[0]!.params['message']).toMatch(/waits as approval ([0-9a-z]{10}): thoth approve \1 --thoth-home /);
    expect(requests[0]!.params['requestedSchema']).toMatchObject({type: 'object', properties: {approve: {type: 'boolean'}}});
    // No approval record, so no approvalId: the schema asks for one only when the grant did not come by elicitation.
    expect(events).toEqual([
      {
        type: 'APPROVAL_GRANTED',
        fields: {via: 'elicitation', toolName: 'write_file', argumentsSha256, policyVersion: 'v1@sha256:aa', ruleId: 'rule:writes'},
      },
    ]);
    expect(await invalidEvents(recorded)).toEqual([]);
    expect(approved).toEqual(['write_file']);
    expect(await listApprovals(home, {all: true})).toEqual([]);
  });

  it.each([
    ['decline', {action: 'decline'}, 'block', 'approval:declined'],
    ['accept with approve=false', {action: 'accept', content: {approve: false}}, 'block', 'approval:declined'],
  ] as const)('%s blocks the call', async (_name, answer, decision, ruleId) => {
    const home = await tempDir();
    const {stepUpHandler, events, recorded} = handler(home);
    const {client} = channel({elicitation: {}}, async () => answer);
    expect(await stepUpHandler.resolve(call, context, stepUp, client, signal)).toMatchObject({decision, ruleId});
    expect(events).toEqual([
      {
        type: 'APPROVAL_DENIED',
        fields: {via: 'elicitation', toolName: 'write_file', argumentsSha256, policyVersion: 'v1@sha256:aa', ruleId: 'rule:writes'},
      },
    ]);
    expect(await invalidEvents(recorded)).toEqual([]);
  });

  it.each([
    ['dismissed', async () => ({action: 'cancel'})],
    ['not answered in time', async () => Promise.reject(new Error('the client did not answer elicitation/create within 5000 ms'))],
    ['answered nonsense', async () => ({action: 'maybe'})],
  ])('a prompt that is %s falls back to an approval id', async (_name, answer) => {
    const home = await tempDir();
    const warnings: string[] = [];
    const {stepUpHandler} = handler(home, {warn: (message) => warnings.push(message)});
    const {client, requests} = channel({elicitation: {}}, answer);
    const result = await stepUpHandler.resolve(call, context, stepUp, client, signal);
    expect(result.decision).toBe('step_up');
    expect(result.details).not.toHaveProperty('approveCommand');
    // The request waits under the id the prompt named.
    expect(String(requests[0]!.params['message'])).toContain(`waits as approval ${result.details?.['approvalId'] as string}:`);
    expect(result.reason).toMatch(/^writes need approval \(the prompt in the client was /);
  });

  it('a call cancelled while the user is asked leaves no pending approval behind', async () => {
    const home = await tempDir();
    const {stepUpHandler} = handler(home);
    const controller = new AbortController();
    const {client} = channel({elicitation: {}}, async () => {
      controller.abort(new Error('cancelled by the client'));
      throw new Error('aborted');
    });
    expect((await stepUpHandler.resolve(call, context, stepUp, client, controller.signal)).decision).toBe('step_up');
    expect(await listApprovals(home, {all: true})).toEqual([]);
  });

  it('policy can turn the prompt off', async () => {
    const home = await tempDir();
    const {stepUpHandler} = handler(home, {settings: {...settings, elicitation: false}});
    const {client, requests} = channel({elicitation: {}}, async () => ({action: 'accept'}));
    expect((await stepUpHandler.resolve(call, context, stepUp, client, signal)).decision).toBe('step_up');
    expect(requests).toEqual([]);
  });
});
