/**
 * The audit trail's append rate: events appended per second by one process, with durability as
 * designed (line handed to the OS before the call goes on, fdatasync batched in a 20 ms window),
 * and with fsync "always". For comparison, the design not taken: one shared file with an
 * inter-process lock per append. What the trail costs a call through `thoth run` is in
 * audit-overhead.bench.ts.
 */
import {randomBytes} from 'node:crypto';
import {mkdir, mkdtemp, open, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {keyIdOf, type AuditKey} from '../src/audit/key.js';
import {genesisHash, sealLine} from '../src/audit/record.js';
import type {AuditSettings} from '../src/audit/settings.js';
import {AUDIT_DEFAULTS} from '../src/settings/audit-defaults.js';
import {FileAuditSink} from '../src/audit/sink.js';
import type {DecisionContext} from '../src/core/decision.js';
import {withFileLock} from '../src/util/file-lock.js';
import type {BenchContext, BenchSection} from './main.js';

const decision = {decision: 'allow' as const, reason: 'in the approved scope', ruleId: 'scope:files'};

function settingsFor(dir: string, overrides: Partial<AuditSettings> = {}): AuditSettings {
  return {dir, keyFile: join(dir, '..', 'key.json'), ...AUDIT_DEFAULTS, enabled: true, ...overrides};
}

function context(): DecisionContext {
  return {agentId: 'bench', sessionId: randomBytes(8).toString('hex'), mode: 'block', sessionToolCalls: ['read_file', 'list_directory']};
}

async function appendRate(
  dir: string,
  key: AuditKey,
  events: number,
  mode: 'awaited' | 'pipelined',
  overrides: Partial<AuditSettings> = {},
): Promise<number> {
  const ctx = context();
  const sink = new FileAuditSink({settings: settingsFor(dir, overrides), context: ctx, key});
  await sink.flush();
  const args = {path: '/srv/data/report-2026.csv', encoding: 'utf8'};
  const call = {name: 'read_file', arguments: args, argumentsJson: JSON.stringify(args)};
  const started = performance.now();
  if (mode === 'awaited') {
    for (let i = 0; i < events; i++) await sink.toolCallPre({call, context: ctx, decision, requestId: String(i)});
  } else {
    for (let i = 0; i < events; i++) sink.event('APPROVAL_REQUESTED', ctx, {approvalId: String(i), toolName: 'read_file'});
    await sink.flush();
  }
  const seconds = (performance.now() - started) / 1000;
  await sink.close();
  return events / seconds;
}

/** The alternative: every append takes an O_EXCL lock file, reads the shared tail, appends, releases. */
async function lockedSharedFileRate(dir: string, key: AuditKey, events: number): Promise<number> {
  const path = join(dir, 'shared.jsonl');
  let prev = genesisHash('shared');
  const started = performance.now();
  for (let i = 0; i < events; i++) {
    await withFileLock(join(dir, 'shared.lock'), async () => {
      const handle = await open(path, 'a+');
      try {
        const {size} = await handle.stat();
        if (size > 0) {
          const tail = Buffer.alloc(Math.min(size, 4096));
          await handle.read(tail, 0, tail.length, size - tail.length);
        }
        const line = sealLine(key, 'shared', i, prev, 'event', `{"eventId":"${i}","type":"X","timestamp":"t"}`);
        prev = line.hash;
        await handle.write(`${line.text}\n`);
      } finally {
        await handle.close();
      }
    });
  }
  return events / ((performance.now() - started) / 1000);
}

export default async function bench(ctx: BenchContext): Promise<BenchSection> {
  const root = await mkdtemp(join(tmpdir(), 'thoth-audit-bench-'));
  const key: AuditKey = (() => {
    const secret = randomBytes(32);
    return {keyId: keyIdOf(secret), secret, path: '(bench)'};
  })();
  const rows: BenchSection['rows'] = [];
  try {
    const n = ctx.quick ? 2000 : 20_000;
    const fresh = async (): Promise<string> => {
      const dir = join(root, randomBytes(4).toString('hex'));
      await mkdir(dir, {recursive: true});
      return dir;
    };
    const awaited = await appendRate(await fresh(), key, n, 'awaited');
    const pipelined = await appendRate(await fresh(), key, n, 'pipelined');
    const always = await appendRate(await fresh(), key, ctx.quick ? 200 : 2000, 'awaited', {fsync: 'always'});
    const locked = await lockedSharedFileRate(await fresh(), key, ctx.quick ? 500 : 3000);
    rows.push({
      measure: 'TOOL_CALL_PRE appended, each awaited (batched fsync, 20 ms)',
      value: `${Math.round(awaited)} events/s`,
      target: '≥ 20000',
    });
    rows.push({
      measure: 'events appended back to back (group commit, batched fsync)',
      value: `${Math.round(pipelined)} events/s`,
      target: '',
    });
    rows.push({measure: 'TOOL_CALL_PRE appended, each awaited, fsync always', value: `${Math.round(always)} events/s`, target: ''});
    rows.push({measure: 'rejected design: shared file, lock file per append', value: `${Math.round(locked)} events/s`, target: ''});
  } finally {
    await rm(root, {recursive: true, force: true});
  }
  return {
    title: 'Audit trail: append rate',
    rows,
    notes: [
      'Appends: one chain per thoth run session, one write(2) per batch of queued records, fdatasync within 20 ms (THOTH_AUDIT_FSYNC=always: before the call goes on).',
    ],
  };
}
