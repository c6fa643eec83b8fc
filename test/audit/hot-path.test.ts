import {createHmac, randomBytes} from 'node:crypto';
import {readFile} from 'node:fs/promises';
import {join} from 'node:path';

import fc from 'fast-check';
import {describe, expect, it} from 'vitest';

import {buildContentSync, buildValueContent, type ContentFields} from '../../src/audit/content.js';
import {EventIdGenerator, UUID_V7, uuidV7Time} from '../../src/audit/event-id.js';
import {EventEncoder, postCallEvent, preCallEvent, serialiseEvent, type EncodedEvent} from '../../src/audit/events.js';
import {keyIdOf, type AuditKey} from '../../src/audit/key.js';
import {readEvents} from '../../src/audit/reader.js';
import {RecordSealer, checkLine, genesisHash, sealLine} from '../../src/audit/record.js';
import {applyTokenRules, redactText} from '../../src/audit/redact.js';
import {FileAuditSink} from '../../src/audit/sink.js';
import {verifyAuditDir} from '../../src/audit/verify.js';
import type {Decision, DecisionContext} from '../../src/core/decision.js';
import type {CallOutcome, PostCallRecord, PreCallRecord} from '../../src/governance/types.js';
import {LargeNumber} from '../../src/core/json-rpc.js';
import {REPO_ROOT} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';
import {ALLOW, segmentNames, testContext, testKey, testSettings, toolCall} from './helpers.js';

/**
 * The audit trail's hot path writes records without building event objects (EventEncoder) and
 * seals them straight into the write buffer (RecordSealer). These tests hold both to the
 * straightforward definitions they replace, byte for byte, and check the durability rules the
 * writer keeps while it coalesces writes.
 */

const text = (encoded: EncodedEvent): string => (typeof encoded === 'string' ? encoded : encoded.join(''));

const words = [
  'read',
  'file',
  'token',
  'secret',
  'passwd',
  'auth',
  'key',
  'sk-',
  'AKIA',
  'eyJ',
  'Bearer ',
  '://',
  'é',
  '→',
  '"',
  '\\',
  '\n',
  ' ',
  '0',
];
const phrase = fc
  .array(fc.oneof(fc.constantFrom(...words), fc.string({maxLength: 6}), fc.fullUnicodeString({maxLength: 3})), {maxLength: 8})
  .map((parts) => parts.join(''));

const decisionArb: fc.Arbitrary<Decision> = fc.record(
  {
    decision: fc.constantFrom('allow', 'block', 'step_up') as fc.Arbitrary<Decision['decision']>,
    reason: phrase,
    ruleId: fc.constantFrom('scope:files', 'mode:block', 'progressive:learning', 'rule:x'),
    observed: fc.constantFrom('allow', 'block', 'step_up') as fc.Arbitrary<Decision['decision']>,
    trace: fc.array(phrase, {maxLength: 4}),
    details: fc.oneof(
      fc.record({approvalId: fc.string(), approveCommand: phrase}),
      fc.constant({big: new LargeNumber('123456789012345678901234567890'), password: 'hunter2'}),
    ),
  },
  {requiredKeys: ['decision', 'reason', 'ruleId']},
);

const contextArb: fc.Arbitrary<DecisionContext> = fc
  .record(
    {
      agentId: fc.string({minLength: 1, maxLength: 8}),
      sessionId: fc.string({minLength: 1, maxLength: 8}),
      mode: fc.constantFrom('progressive', 'step_up', 'block', 'observe') as fc.Arbitrary<DecisionContext['mode']>,
      intent: phrase,
      tenantId: fc.string({maxLength: 5}),
      userId: fc.string({maxLength: 5}),
      endpointId: fc.string({maxLength: 5}),
      sessionToolCalls: fc.array(fc.constantFrom('read_file', 'echo', 'write_file', 'é"x'), {maxLength: 40}),
      client: fc.record(
        {name: fc.string({maxLength: 5}), version: fc.string({maxLength: 3}), protocolVersion: fc.constant('2025-06-18')},
        {requiredKeys: []},
      ),
    },
    {requiredKeys: ['agentId', 'sessionId', 'mode', 'sessionToolCalls']},
  )
  .map((context) => context as DecisionContext);

const argumentsArb = fc.dictionary(
  fc.constantFrom('path', 'message', 'password', 'api_key', 'query', 'n'),
  fc.oneof(phrase, fc.integer()),
  {maxKeys: 4},
);

const outcomeArb: fc.Arbitrary<CallOutcome> = fc.oneof(
  fc.record({
    kind: fc.constant('result' as const),
    resultJson: phrase.map((t) => Buffer.from(JSON.stringify({content: [{type: 'text', text: t}]}))),
  }),
  fc.record({
    kind: fc.constant('result' as const),
    resultJson: phrase.map((t) => Buffer.from(JSON.stringify({content: t}))),
    isError: fc.boolean(),
  }),
  fc.record({
    kind: fc.constantFrom('error' as const, 'refused' as const),
    error: fc.record({code: fc.integer({min: -32768, max: -32000}), message: phrase}),
  }),
  fc.constantFrom({kind: 'cancelled' as const}, {kind: 'upstream-exited' as const}),
);

function contentOf(outcome: CallOutcome, maxBytes: number): ContentFields | undefined {
  if (outcome.kind === 'result') return buildContentSync(outcome.resultJson, {maxBytes});
  if (outcome.kind === 'error' || outcome.kind === 'refused') return buildValueContent(outcome.error, {maxBytes});
  return undefined;
}

describe('EventEncoder writes exactly what serialiseEvent(preCallEvent/postCallEvent) writes', () => {
  it('for any decision, context, arguments, outcome and content cap, with one encoder reused (cached members)', () => {
    const encoder = new EventEncoder();
    const ids = new EventIdGenerator();
    fc.assert(
      fc.property(
        decisionArb,
        contextArb,
        argumentsArb,
        outcomeArb,
        fc.integer({min: 256, max: 2048}),
        fc.integer({min: 0, max: 2 ** 44}),
        (decision, context, args, outcome, maxBytes, time) => {
          const call = toolCall('tool', args);
          const pre: PreCallRecord = {call, context, decision, requestId: '"r-1"'};
          const content = buildContentSync(call.argumentsJson, {maxBytes}, {value: call.arguments})!;
          const eventId = ids.next();
          expect(text(encoder.pre(pre, content, eventId, time))).toBe(serialiseEvent(preCallEvent(pre, content, eventId, time)));

          const post: PostCallRecord = {...pre, preEventId: eventId, outcome, durationMs: time % 5000};
          const at = encoder.snapshot(context, ids.next(), time + 1);
          const postContent = contentOf(outcome, maxBytes);
          expect(text(encoder.post(post, postContent, at))).toBe(serialiseEvent(postCallEvent(post, postContent, at.eventId, time + 1)));
        },
      ),
      {numRuns: 400},
    );
  });

  it('notices every change to what it keeps: the context, the tool list, the client, a decision reused with new members', () => {
    const encoder = new EventEncoder();
    const calls: string[] = [];
    const context: DecisionContext = {agentId: 'a', sessionId: 's', mode: 'block', sessionToolCalls: calls};
    const content = buildContentSync('{}', {maxBytes: 1024})!;
    const check = (decision: Decision): void => {
      const record: PreCallRecord = {call: toolCall('t', {}), context, decision, requestId: '1'};
      expect(text(encoder.pre(record, content, 'id', 1_700_000_000_000))).toBe(
        serialiseEvent(preCallEvent(record, content, 'id', 1_700_000_000_000)),
      );
    };
    const decision: Decision = {decision: 'allow', reason: 'same reason', ruleId: 'r1', trace: ['a', 'b']};
    check(decision);
    for (let i = 0; i < 40; i++) {
      calls.push(i % 3 === 0 ? 'read' : 'write');
      check(decision);
    }
    calls[calls.length - 1] = 'replaced in place';
    check(decision);
    context.mode = 'observe';
    context.intent = 'billing';
    check(decision);
    const client: {name: string; version?: string} = {name: 'claude'};
    context.session = {client};
    check(decision);
    client.version = '1.2';
    check(decision);
    // Same reason, other members: a new fragment, not the cached one.
    check({...decision, ruleId: 'r2'});
    check({...decision, observed: 'block'});
    check({...decision, trace: ['a', 'c']});
    check({decision: decision.decision, reason: decision.reason, ruleId: decision.ruleId});
    check({...decision, decision: 'block'});
    // The same object changed in place.
    (decision.trace as string[]).push('d');
    check(decision);
    // Many distinct reasons (a counter, as progressive mode writes), then the first again.
    for (let i = 0; i < 300; i++) check({...decision, reason: `learning (${i}/50 calls) token=abc${i}`});
    check(decision);
    // A POST takes its PRE's decision members, unless the decision changed in between.
    const changing: Decision = {decision: 'allow', reason: 'before', ruleId: 'r', trace: ['x']};
    const record: PreCallRecord = {call: toolCall('t', {}), context, decision: changing, requestId: '1'};
    encoder.pre(record, content, 'id', 0);
    changing.reason = 'after: password=hunter2';
    const post: PostCallRecord = {...record, preEventId: 'id', outcome: {kind: 'cancelled'}, durationMs: 1};
    const at = encoder.snapshot(context, 'id2', 0);
    expect(text(encoder.post(post, undefined, at))).toBe(serialiseEvent(postCallEvent(post, undefined, 'id2', 0)));
    expect(text(encoder.post(post, undefined, at))).not.toContain('hunter2');
  });

  it('writes TOOL_CALL_PRE/POST as parts (the kept members on their own) that join to the exact text', () => {
    const encoder = new EventEncoder();
    const context = testContext({sessionToolCalls: ['read_file']});
    const content = buildContentSync('{"a":1}', {maxBytes: 1024})!;
    const decision: Decision = {decision: 'allow', reason: 'learning', ruleId: 'progressive:learning', trace: ['no novelty → allow']};
    const record: PreCallRecord = {call: toolCall('t', {a: 1}), context, decision, requestId: '1'};
    const encoded = encoder.pre(record, content, 'id', 0);
    expect(Array.isArray(encoded)).toBe(true);
    expect(encoded).toContain(',"sessionToolCalls":["read_file"]');
    expect(text(encoded)).toBe(serialiseEvent(preCallEvent(record, content, 'id', 0)));
  });
});

describe('RecordSealer seals exactly as sealLine does', () => {
  const keyOf = (secret: Buffer): AuditKey => ({keyId: keyIdOf(secret), secret, path: '(memory)'});

  it('for any payload, in one piece or in parts, with keys shorter and longer than a SHA-256 block', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(16, 32, 64, 65, 100),
        fc.array(fc.fullUnicodeString({maxLength: 60}), {minLength: 1, maxLength: 3}),
        fc.integer({min: 0, max: Number.MAX_SAFE_INTEGER}),
        fc.string({minLength: 1, maxLength: 40}),
        (keyBytes, parts, seq, chain) => {
          const key = keyOf(randomBytes(keyBytes));
          const payload = JSON.stringify({parts});
          const prev = genesisHash(chain);
          const expected = sealLine(key, chain, seq, prev, 'event', payload);
          const sealer = new RecordSealer(key, chain);
          const out = Buffer.alloc(sealer.maxBytes(Buffer.byteLength(payload)) + 10);
          // Parts end on whole characters (the encoder splits between JSON members).
          let cut = Math.floor(payload.length / 2);
          if (/[\ud800-\udbff]/.test(payload.charAt(cut - 1))) cut--;
          for (const form of [payload, [payload.slice(0, cut), payload.slice(cut)]]) {
            const range = sealer.seal(out, 3, seq, prev, form);
            expect(out.subarray(3, range.end).toString('utf8')).toBe(`${expected.text}\n`);
            expect(range.hash).toBe(expected.hash);
          }
          expect(checkLine(key, expected.text).ok).toBe(true);
        },
      ),
      {numRuns: 300},
    );
  });

  it('computes the RFC 2104 HMAC that node:crypto computes, record after record (the buffers it reuses are not stale)', () => {
    const key = keyOf(randomBytes(32));
    const sealer = new RecordSealer(key, 'c');
    const out = Buffer.alloc(1 << 20);
    let offset = 0;
    let prev = genesisHash('c');
    for (const size of [10, 5000, 3, 300_000, 20]) {
      const payload = JSON.stringify({x: 'y'.repeat(size)});
      const range = sealer.seal(out, offset, 7, prev, payload);
      const line = out.subarray(offset, range.end - 1).toString('utf8');
      const body = line.slice(0, line.lastIndexOf(',"mac":"'));
      expect(line.endsWith(`,"mac":"${createHmac('sha256', key.secret).update(body).digest('hex')}"}`)).toBe(true);
      offset = range.end;
      prev = range.hash;
      if (offset > out.length - 400_000) offset = 0;
    }
  });
});

async function corpusWords(): Promise<string[]> {
  const text = await readFile(join(REPO_ROOT, 'fixtures', 'redaction', 'positive.jsonl'), 'utf8');
  const words = new Set<string>();
  for (const line of text.split('\n').filter(Boolean)) {
    const sample = JSON.parse(line) as {text?: string; value?: unknown};
    for (const word of (sample.text ?? JSON.stringify(sample.value)).split(/(?<=\s)/)) words.add(word);
  }
  return [...words];
}

describe('redaction pre-filter', () => {
  it("redactText agrees with the token rules run without it and without their hints, on text built from the rules' own fragments", async () => {
    const fragments = [
      '-----BEGIN RSA PRIVATE KEY-----',
      '-----END RSA PRIVATE KEY-----',
      'eyJhbGciOiJIUzI1NiJ9',
      '.eyJzdWIiOiJib2IifQ',
      '.c2ln',
      'Bearer ',
      'bearer ',
      'AKIAIOSFODNN7EXAMPLE',
      'ASIA',
      'aws_secret_access_key',
      ' = ',
      '"',
      ':',
      'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      'sk-ant-',
      'sk-',
      'sk_live_',
      'rk_test_',
      'ghp_',
      'github_pat_',
      'glpat-',
      'xoxb-',
      'AIza',
      'npm_',
      'SG.',
      'hf_',
      'postgres://u:',
      '@host',
      'api_key=',
      'TOKEN: ',
      'Password=',
      'client-secret:',
      'x-api-key',
      'Authorization',
      'abcdefghijklmnopqrstuvwxyz0123456789ABCD',
      '1234567890',
      '_-',
      '/+=',
      ' ',
      '\n',
      'é',
      '→',
      // The rules added for issue 8: keys, flags, curl users, short flags, Basic, more token formats, JWT forms, JSON escapes.
      'Basic ',
      'dXNlcjpwYXNz',
      'Proxy-Authorization: ',
      'ewogICJhbGciOiAiSFMyNTYiCn0',
      'eyAiYWxnIjogIlJTMjU2In0',
      '.',
      '..',
      'aws_secret_access_key\t',
      '--password ',
      '--token=',
      '-p',
      '-u ',
      '--user ',
      'alice:',
      'mysql ',
      'sshpass ',
      'docker login ',
      'redis-cli ',
      'ldapsearch ',
      '-a ',
      '-w ',
      '-passin pass:',
      'PGPASSWORD=',
      'MYSQL_PWD=',
      'DB_PASS=',
      'PWD=/home',
      'xoxe.xoxp-1-',
      'xapp-1-',
      'pypi-',
      'AGE-SECRET-KEY-1',
      'whsec_',
      'dop_v1_',
      '\\n',
      '\\t',
      '", "',
      "'",
      // And every word of the redaction corpus (fixtures/redaction/positive.jsonl).
      ...(await corpusWords()),
    ];
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constantFrom(...fragments), fc.string({maxLength: 4})), {maxLength: 12}), (parts) => {
        const input = parts.join('');
        expect(redactText(input)).toEqual(applyTokenRules(input, {hints: false}));
      }),
      // THOTH_FUZZ_RUNS=1000000 for a longer search (three such runs found nothing after the -u fix).
      {numRuns: Number(process.env['THOTH_FUZZ_RUNS'] ?? 3000)},
    );
  });
});

describe('EventIdGenerator', () => {
  it('writes the time of the id and a valid UUIDv7 for edge times, and stays strictly increasing past the pool refill', () => {
    for (const ms of [0, 1, 0xffffff, 0x1000000, 0xffffffff, 0x100000000, 1_763_780_000_123, 2 ** 48 - 1]) {
      const id = new EventIdGenerator(() => ms).next();
      expect(id).toMatch(UUID_V7);
      expect(uuidV7Time(id)).toBe(ms);
    }
    const generator = new EventIdGenerator(() => 1_700_000_000_000);
    const ids = Array.from({length: 3000}, () => generator.next());
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    for (const id of ids) expect(id).toMatch(UUID_V7);
  });
});

describe('writes coalesced by the chain writer', () => {
  async function sinkIn(overrides = {}) {
    const dir = join(await tempDir(), 'audit');
    const key = testKey();
    const context = testContext();
    const sink = new FileAuditSink({settings: testSettings(dir, overrides), context, key});
    return {dir, key, context, sink};
  }

  const post = (context: DecisionContext, requestId: string, preEventId: string, resultJson: Buffer): PostCallRecord => ({
    call: toolCall('read_file', {}),
    context,
    decision: ALLOW,
    requestId,
    preEventId,
    outcome: {kind: 'result', resultJson},
    durationMs: 1,
  });

  async function fileText(dir: string): Promise<string> {
    const [name] = await segmentNames(dir);
    return readFile(join(dir, name!), 'utf8');
  }

  it('writes a TOOL_CALL_POST with the next TOOL_CALL_PRE, before it in the file', async () => {
    const {dir, key, context, sink} = await sinkIn({fsyncWindowMs: 60_000});
    const first = await sink.toolCallPre({call: toolCall('read_file', {}), context, decision: ALLOW, requestId: '1'});
    sink.toolCallPost(post(context, '1', first, Buffer.from('{"content":[]}')));
    const second = await sink.toolCallPre({call: toolCall('read_file', {}), context, decision: ALLOW, requestId: '2'});
    // Both handed to the OS by the time the second PRE resolved: another reader sees them now.
    const lines = (await fileText(dir)).split('\n');
    const postLine = lines.findIndex((line) => line.includes('"type":"TOOL_CALL_POST"'));
    const secondPre = lines.findIndex((line) => line.includes(second));
    expect(postLine).toBeGreaterThan(0);
    expect(postLine).toBeLessThan(secondPre);
    await sink.close();
    expect((await verifyAuditDir(dir, key)).status).toBe('intact');
  });

  it('writes a TOOL_CALL_POST within the fsync window when no other record follows', async () => {
    const {dir, context, sink} = await sinkIn({fsyncWindowMs: 30});
    const pre = await sink.toolCallPre({call: toolCall('read_file', {}), context, decision: ALLOW, requestId: '1'});
    sink.toolCallPost(post(context, '1', pre, Buffer.from('{"content":[]}')));
    const deadline = Date.now() + 5000;
    while (!(await fileText(dir)).includes('"type":"TOOL_CALL_POST"') && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await fileText(dir)).toContain('"type":"TOOL_CALL_POST"');
    await sink.close();
  });

  it('with fsync "always", writes a TOOL_CALL_POST at once', async () => {
    const {dir, context, sink} = await sinkIn({fsync: 'always'});
    const pre = await sink.toolCallPre({call: toolCall('read_file', {}), context, decision: ALLOW, requestId: '1'});
    sink.toolCallPost(post(context, '1', pre, Buffer.from('{"content":[]}')));
    await new Promise((resolve) => setImmediate(resolve));
    expect(await fileText(dir)).toContain('"type":"TOOL_CALL_POST"');
    await sink.close();
  });

  it('grows the write buffer in the middle of a batch without losing what is already in it', async () => {
    const {dir, key, context, sink} = await sinkIn();
    // Twelve records of 20-25 KB (one of multi-byte text) in one turn: far more than the buffer's first 64 KiB.
    const calls = Array.from({length: 12}, (_, i) =>
      toolCall('write_file', {path: `/f/${i}`, text: i === 5 ? 'é→'.repeat(5000) : 'x'.repeat(20_000)}),
    );
    const ids = await Promise.all(calls.map((call, i) => sink.toolCallPre({call, context, decision: ALLOW, requestId: String(i)})));
    await sink.close();
    expect((await verifyAuditDir(dir, key)).status).toBe('intact');
    const pres = (await readEvents(dir, {type: 'TOOL_CALL_PRE'})).map((stored) => stored.event);
    expect(pres.map((event) => event.eventId)).toEqual(ids);
    pres.forEach((event, i) => expect(event['content']).toBe(calls[i]!.argumentsJson));
  });

  it('keeps TOOL_CALL_POSTs in the order the calls ended when a large result is still being hashed', async () => {
    const {dir, key, context, sink} = await sinkIn();
    const large = Buffer.alloc(3 * 1024 * 1024, 0x61);
    large.write('{"content":"', 0);
    large.write('"}', large.length - 2);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push(await sink.toolCallPre({call: toolCall('read_file', {}), context, decision: ALLOW, requestId: String(i)}));
    sink.toolCallPost(post(context, '0', ids[0]!, Buffer.from('{"content":"small first"}')));
    sink.toolCallPost(post(context, '1', ids[1]!, large));
    sink.toolCallPost(post(context, '2', ids[2]!, Buffer.from('{"content":"small after the large one"}')));
    await sink.close();
    const posts = (await readEvents(dir, {type: 'TOOL_CALL_POST'})).map((stored) => stored.event['preEventId']);
    expect(posts).toEqual(ids);
    expect((await verifyAuditDir(dir, key)).status).toBe('intact');
  });
});
