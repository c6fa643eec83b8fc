import {readFile, writeFile} from 'node:fs/promises';
import {join} from 'node:path';

import {describe, expect, it} from 'vitest';

import {UUID_V7} from '../../src/audit/event-id.js';
import {readEvents} from '../../src/audit/reader.js';
import {FileAuditSink} from '../../src/audit/sink.js';
import {verifyAuditDir} from '../../src/audit/verify.js';
import type {Decision, Enforcer} from '../../src/core/decision.js';
import {Governor} from '../../src/governance/governor.js';
import type {ClientChannel} from '../../src/governance/types.js';
import {loadValidator} from '../../src/util/validators.js';
import {tempDir} from '../helpers/tmp.js';
import {ALLOW, BLOCK, segmentNames, testContext, testKey, testSettings, toolCall} from './helpers.js';

const client: ClientChannel = {capabilities: undefined, request: async () => ({})};
const fixed = (decision: Decision): Enforcer => ({decide: async () => decision});

async function setup(overrides = {}) {
  const dir = join(await tempDir(), 'audit');
  const key = testKey();
  const context = testContext();
  const warnings: string[] = [];
  const sink = new FileAuditSink({settings: testSettings(dir, overrides), context, key, warn: (m) => warnings.push(m)});
  return {dir, key, context, sink, warnings};
}

describe('FileAuditSink behind the Governor', () => {
  it('writes TOOL_CALL_PRE before the call is forwarded, then TOOL_CALL_POST, and the chain verifies', async () => {
    const {dir, key, context, sink} = await setup();
    const governor = new Governor({enforcer: fixed(ALLOW), audit: sink});
    const call = toolCall('read_file', {path: '/srv/report.txt'});
    const outcome = await governor.govern(call, context, '7', client, new AbortController().signal);
    expect(outcome.action).toBe('forward');
    // Handed to the OS already: another reader sees the line now.
    const [name] = await segmentNames(dir);
    const text = await readFile(join(dir, name!), 'utf8');
    expect(text).toContain('"type":"TOOL_CALL_PRE"');
    expect(text).toContain(outcome.ticket.preEventId);
    governor.complete(outcome.ticket, context, {kind: 'result', resultJson: Buffer.from('{"content":[{"type":"text","text":"42"}]}')});
    await sink.close();
    const events = (await readEvents(dir)).map((e) => e.event);
    expect(events.map((e) => e.type)).toEqual(['SESSION_START', 'TOOL_CALL_PRE', 'TOOL_CALL_POST', 'SESSION_END']);
    expect(events[2]).toMatchObject({
      preEventId: outcome.ticket.preEventId,
      outcome: 'result',
      toolName: 'read_file',
      requestId: '7',
      decision: 'allow',
    });
    expect(events[3]).toMatchObject({toolCalls: {total: 1, allowed: 1, blocked: 0, stepUp: 0}});
    expect((await verifyAuditDir(dir, key)).status).toBe('intact');
  });

  it('records a refused call with the error the client got', async () => {
    const {dir, context, sink} = await setup();
    const governor = new Governor({enforcer: fixed(BLOCK), audit: sink});
    const outcome = await governor.govern(toolCall('delete_file', {path: '/'}), context, '"a"', client, new AbortController().signal);
    expect(outcome.action).toBe('refuse');
    await sink.close();
    const post = (await readEvents(dir, {type: 'TOOL_CALL_POST'}))[0]!.event;
    expect(post).toMatchObject({outcome: 'refused', decision: 'block', error: {code: -32001}});
    expect(JSON.parse(post['content'] as string)).toMatchObject({code: -32001, data: {auditId: outcome.ticket.preEventId}});
  });

  it('fails closed: when the audit log cannot be written the call is refused with -32001', async () => {
    const root = await tempDir();
    const blocker = join(root, 'not-a-directory');
    await writeFile(blocker, 'x');
    const warnings: string[] = [];
    const context = testContext();
    const sink = new FileAuditSink({
      settings: testSettings(join(blocker, 'audit')),
      context,
      key: testKey(),
      warn: (m) => warnings.push(m),
    });
    const governor = new Governor({enforcer: fixed(ALLOW), audit: sink, warn: (m) => warnings.push(m)});
    const outcome = await governor.govern(toolCall('read_file', {}), context, '1', client, new AbortController().signal);
    expect(outcome.action).toBe('refuse');
    if (outcome.action !== 'refuse') return;
    expect(outcome.error.code).toBe(-32001);
    expect(outcome.error.data).toMatchObject({ruleId: 'audit-unavailable'});
    expect(warnings.join('\n')).toMatch(/ENOTDIR|EEXIST|not a directory/);
    await sink.close();
  });

  it('keeps every secret format out of the log, in arguments and in results', async () => {
    const {dir, context, sink} = await setup();
    const secrets = [
      'AKIAIOSFODNN7EXAMPLE',
      'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2lnbmF0dXJlLWhlcmU',
      'ya29.a0AfH6SMBx3kL9q-T2vZ8yQpR4sWmN7oJ',
      'sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789',
      'ghp_1234567890abcdefghijklmnopqrstuvwxyzAB',
      'MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn',
      'hunter2-correct-horse',
    ];
    const args = {
      query: `use key ${secrets[0]} and aws_secret_access_key=${secrets[1]}`,
      headers: {authorization: `Bearer ${secrets[3]}`},
      jwt: secrets[2],
      password: secrets[7],
    };
    const call = toolCall('http_request', args);
    const preEventId = await sink.toolCallPre({call, context, decision: ALLOW, requestId: '1'});
    const result = {
      content: [
        {
          type: 'text',
          text: `found ${secrets[4]} and ${secrets[5]}\n-----BEGIN PRIVATE KEY-----\n${secrets[6]}\n-----END PRIVATE KEY-----`,
        },
      ],
    };
    sink.toolCallPost({
      call,
      context,
      decision: ALLOW,
      requestId: '1',
      preEventId,
      outcome: {kind: 'result', resultJson: Buffer.from(JSON.stringify(result))},
      durationMs: 1,
    });
    // A large result takes the text path: still redacted.
    const large = {content: [{type: 'text', text: `${secrets[5]} ${'z'.repeat(600 * 1024)}`}]};
    sink.toolCallPost({
      call,
      context,
      decision: ALLOW,
      requestId: '2',
      preEventId,
      outcome: {kind: 'result', resultJson: Buffer.from(JSON.stringify(large))},
      durationMs: 1,
    });
    await sink.close();
    const [name] = await segmentNames(dir);
    const raw = await readFile(join(dir, name!), 'utf8');
    for (const secret of secrets) expect(raw).not.toContain(secret);
    expect(raw).toContain('[REDACTED:aws-access-key]');
    expect(raw).toContain('[REDACTED:private-key]');
  });

  it('prepares TOOL_CALL_POST off the relay path: returns at once and yields while hashing a large result', async () => {
    const {dir, context, sink} = await setup();
    const call = toolCall('read_file', {});
    const preEventId = await sink.toolCallPre({call, context, decision: ALLOW, requestId: '1'});
    const resultJson = Buffer.alloc(24 * 1024 * 1024, 0x61);
    resultJson.write('{"content":"', 0);
    resultJson.write('"}', resultJson.length - 2);
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 0);
    const started = performance.now();
    sink.toolCallPost({call, context, decision: ALLOW, requestId: '1', preEventId, outcome: {kind: 'result', resultJson}, durationMs: 5});
    const returnedAfter = performance.now() - started;
    await sink.flush();
    clearInterval(ticker);
    expect(returnedAfter).toBeLessThan(20);
    expect(ticks).toBeGreaterThan(5);
    await sink.close();
    const post = (await readEvents(dir, {type: 'TOOL_CALL_POST'}))[0]!.event;
    expect(post).toMatchObject({contentBytes: resultJson.length, contentTruncated: true, contentHashOf: 'original'});
    const {createHash} = await import('node:crypto');
    expect(post['contentSha256']).toBe(createHash('sha256').update(resultJson).digest('hex'));
  });

  it('with fsync "always" the records are durable before append resolves, and the trail verifies', async () => {
    const {dir, key, context, sink} = await setup({fsync: 'always'});
    for (let i = 0; i < 20; i++) await sink.toolCallPre({call: toolCall('t', {i}), context, decision: ALLOW, requestId: String(i)});
    await sink.close();
    expect((await verifyAuditDir(dir, key)).events).toBe(22);
  });

  it('gives every event a unique, time-ordered UUIDv7 and ignores events with invalid names', async () => {
    const {dir, context, sink, warnings} = await setup();
    const ids: string[] = [];
    for (let i = 0; i < 50; i++)
      ids.push(await sink.toolCallPre({call: toolCall('t', {}), context, decision: ALLOW, requestId: String(i)}));
    sink.event('not valid', context, {});
    await sink.close();
    expect(new Set(ids).size).toBe(50);
    for (const id of ids) expect(id).toMatch(UUID_V7);
    expect([...ids].sort()).toEqual(ids);
    expect(warnings.join('\n')).toMatch(/invalid type/);
    expect((await readEvents(dir)).length).toBe(52);
  });
});

describe('event schemas', () => {
  it('every event type thoth writes validates against its JSON Schema', async () => {
    const {dir, context, sink} = await setup();
    const full = {
      ...context,
      intent: 'phi_eligibility_check',
      tenantId: 'acme',
      userId: 'ada@example.com',
      endpointId: 'ep-1',
      session: {client: {name: 'Claude', version: '1.0', protocolVersion: '2025-06-18'}},
    };
    const call = toolCall('read_file', {path: '/x'});
    const pre = await sink.toolCallPre({
      call,
      context: full,
      decision: {...BLOCK, observed: 'block', trace: ['intent', 'scope'], details: {approvalId: 'a1'}},
      requestId: '1',
    });
    const outcomes = [
      {kind: 'result', resultJson: Buffer.from('{"content":[]}'), isError: false},
      {kind: 'error', error: {code: -32602, message: 'bad params'}},
      {kind: 'refused', error: {code: -32001, message: 'blocked'}},
      {kind: 'cancelled'},
      {kind: 'upstream-exited'},
    ] as const;
    for (const outcome of outcomes)
      sink.toolCallPost({call, context: full, decision: ALLOW, requestId: '1', preEventId: pre, outcome, durationMs: 3});
    sink.toolCallPost({call, context: full, decision: ALLOW, requestId: '1', preEventId: '', outcome: {kind: 'cancelled'}, durationMs: 3});
    sink.event('POLICY_LOADED', full, {status: 'loaded', policyFile: '/etc/thoth/policy.json', source: 'managed'});
    sink.event('POLICY_LOADED', full, {
      status: 'loaded',
      policyFile: '/etc/thoth/policy.json',
      source: 'managed',
      policyVersion: 'v2@sha256:0123456789abcdef',
      policySha256: 'c'.repeat(64),
      rules: 3,
      modeSource: 'policy',
      intentSource: 'none',
      reload: true,
      change: '/etc/thoth/policy.json was replaced',
      previousVersion: 'v1@sha256:fedcba9876543210',
    });
    sink.event('POLICY_LOAD_FAILED', full, {
      status: 'invalid',
      source: 'managed',
      policyFile: '/etc/thoth/policy.json',
      message: 'policy /etc/thoth/policy.json:1:1 at /: invalid JSON',
      reload: true,
      change: '/etc/thoth/policy.json changed',
      previousVersion: null,
    });
    sink.event('APPROVAL_REQUESTED', full, {approvalId: 'ap-1', toolName: 'write_file', via: 'cli'});
    sink.event('APPROVAL_GRANTED', full, {approvalId: 'ap-1', toolName: 'write_file', approvedBy: 'ada'});
    sink.event('APPROVAL_DENIED', full, {approvalId: 'ap-2', toolName: 'write_file'});
    sink.event('APPROVAL_GRANTED', full, {
      via: 'elicitation',
      toolName: 'write_file',
      argumentsSha256: 'd'.repeat(64),
      policyVersion: 'v1@sha256:0123456789abcdef',
      ruleId: 'rule:writes',
    });
    sink.event('APPROVAL_DENIED', full, {
      via: 'elicitation',
      toolName: 'write_file',
      argumentsSha256: 'd'.repeat(64),
      ruleId: 'rule:writes',
    });
    sink.event('APPROVAL_USED', full, {
      approvalId: 'ap-1',
      toolName: 'write_file',
      argumentsSha256: 'd'.repeat(64),
      approvedBy: 'ada',
      approvedAt: '2026-11-22T10:00:00.000Z',
      ruleId: 'rule:writes',
    });
    sink.event('APPROVAL_EXPIRED', full, {approvalId: 'ap-3', toolName: 'write_file', expiresAt: '2026-11-22T10:00:00.000Z'});
    sink.event('APPROVAL_UNVERIFIED', full, {
      approvalId: 'ap-4',
      toolName: 'write_file',
      argumentsSha256: 'd'.repeat(64),
      why: 'no APPROVAL_GRANTED record',
      claimedBy: 'admin',
    });
    sink.event('PIN_ACCEPTED', full, {
      via: 'cli',
      toolName: 'read_file',
      pinSha256: 'b'.repeat(64),
      previousSha256: 'a'.repeat(64),
      acceptedBy: 'ada',
    });
    sink.event('PIN_RECORDED', full, {toolName: 'read_file', pinSha256: 'a'.repeat(64)});
    sink.event('PIN_CHANGED', full, {toolName: 'read_file', pinSha256: 'b'.repeat(64), previousSha256: 'a'.repeat(64)});
    sink.event('PIN_ACCEPTED', full, {toolName: 'read_file', pinSha256: 'b'.repeat(64)});
    sink.event('TOOLS_HIDDEN', full, {tools: ['get-env']});
    sink.event('HEARTBEAT_SENT', full, {ok: true});
    await sink.close();
    const validators: Record<string, string> = {
      TOOL_CALL_PRE: 'tool-call-pre',
      TOOL_CALL_POST: 'tool-call-post',
      SESSION_START: 'session-start',
      SESSION_END: 'session-end',
      POLICY_LOADED: 'policy-loaded',
      POLICY_LOAD_FAILED: 'policy-load-failed',
      APPROVAL_REQUESTED: 'approval-requested',
      APPROVAL_GRANTED: 'approval-granted',
      APPROVAL_DENIED: 'approval-denied',
      APPROVAL_EXPIRED: 'approval-expired',
      APPROVAL_USED: 'approval-used',
      APPROVAL_UNVERIFIED: 'approval-unverified',
      PIN_RECORDED: 'pin-recorded',
      PIN_CHANGED: 'pin-changed',
      PIN_ACCEPTED: 'pin-accepted',
      TOOLS_HIDDEN: 'tools-hidden',
    };
    const seen = new Set<string>();
    const record = await loadValidator('audit/record');
    const [name] = await segmentNames(dir);
    for (const line of (await readFile(join(dir, name!), 'utf8')).trim().split('\n')) {
      const parsed = JSON.parse(line) as {event?: {type: string}};
      expect(record(parsed), JSON.stringify(record.errors)).toBe(true);
      if (!parsed.event) continue;
      seen.add(parsed.event.type);
      const validate = await loadValidator(`audit/events/${validators[parsed.event.type] ?? 'generic'}`);
      expect(validate(parsed.event), `${parsed.event.type}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
    expect([...seen].sort()).toEqual([...Object.keys(validators), 'HEARTBEAT_SENT'].sort());
    // And the schemas do reject what they should.
    const preSchema = await loadValidator('audit/events/tool-call-pre');
    expect(preSchema({eventId: 'x', type: 'TOOL_CALL_PRE'})).toBe(false);
    // A reload names what changed and what was in force before.
    const loaded = await loadValidator('audit/events/policy-loaded');
    const base = {
      eventId: '01a2010c-cf3c-74b2-ba5c-ca59daf3172a',
      type: 'POLICY_LOADED',
      timestamp: '2026-11-22T02:19:06.428Z',
      sourceType: 'thoth_proxy',
      agentId: 'a',
      sessionId: 's',
      mode: 'block',
      status: 'loaded',
    };
    expect(loaded({...base, reload: false})).toBe(true);
    expect(loaded({...base, reload: true})).toBe(false);
    expect(loaded({...base, reload: true, change: 'x changed', previousVersion: null})).toBe(true);
    const failed = await loadValidator('audit/events/policy-load-failed');
    expect(failed({...base, type: 'POLICY_LOAD_FAILED', status: 'invalid'})).toBe(false);
    // Only a decision made in the client's prompt has no approval record to name.
    const common = {
      eventId: base.eventId,
      timestamp: base.timestamp,
      sourceType: 'thoth_proxy',
      agentId: 'a',
      sessionId: 's',
      mode: 'block',
      toolName: 'write_file',
    };
    const granted = await loadValidator('audit/events/approval-granted');
    expect(granted({...common, type: 'APPROVAL_GRANTED', via: 'elicitation'})).toBe(true);
    expect(granted({...common, type: 'APPROVAL_GRANTED', via: 'cli'})).toBe(false);
    expect(granted({...common, type: 'APPROVAL_GRANTED'})).toBe(false);
    expect(granted({...common, type: 'APPROVAL_GRANTED', via: 'cli', approvalId: 'ap-1'})).toBe(true);
    const denied = await loadValidator('audit/events/approval-denied');
    expect(denied({...common, type: 'APPROVAL_DENIED', via: 'elicitation'})).toBe(true);
    expect(denied({...common, type: 'APPROVAL_DENIED', via: 'control-plane'})).toBe(false);
    const requested = await loadValidator('audit/events/approval-requested');
    expect(requested({...common, type: 'APPROVAL_REQUESTED', via: 'elicitation'})).toBe(false);
    // An ignored grant names the approval and why; a PIN_ACCEPTED says whether it is the decision or a session noticing it.
    const unverified = await loadValidator('audit/events/approval-unverified');
    expect(unverified({...common, type: 'APPROVAL_UNVERIFIED', approvalId: 'ap-4', why: 'no record'})).toBe(true);
    expect(unverified({...common, type: 'APPROVAL_UNVERIFIED', approvalId: 'ap-4'})).toBe(false);
    const pinAccepted = await loadValidator('audit/events/pin-accepted');
    expect(pinAccepted({...common, type: 'PIN_ACCEPTED', via: 'cli', acceptedBy: 'ada'})).toBe(true);
    expect(pinAccepted({...common, type: 'PIN_ACCEPTED', via: 'elicitation'})).toBe(false);
    const used = await loadValidator('audit/events/approval-used');
    expect(used({...common, type: 'APPROVAL_USED'})).toBe(false);
    expect(used({...common, type: 'APPROVAL_USED', approvalId: 'ap-1', argumentsSha256: `sha256:${'d'.repeat(64)}`})).toBe(false);
    expect(used({...common, type: 'APPROVAL_USED', approvalId: 'ap-1', argumentsSha256: 'd'.repeat(64)})).toBe(true);
    // Hashes are bare hex: the field name already says sha256.
    const recorded = await loadValidator('audit/events/pin-recorded');
    expect(recorded({...common, type: 'PIN_RECORDED', pinSha256: `sha256:${'a'.repeat(64)}`})).toBe(false);
    expect(recorded({...common, type: 'PIN_RECORDED', pinSha256: 'a'.repeat(64)})).toBe(true);
    const hidden = await loadValidator('audit/events/tools-hidden');
    expect(hidden({...common, type: 'TOOLS_HIDDEN'})).toBe(false);
    expect(hidden({...common, type: 'TOOLS_HIDDEN', tools: []})).toBe(false);
  });
});
