/**
 * The cost of the audit trail.
 *
 * 1. Events appended per second by one process, with durability as designed (line handed to the
 *    OS before the call goes on, fdatasync batched in a 20 ms window), and with fsync "always".
 *    For comparison, the design not taken: one shared file with an inter-process lock per append.
 * 2. The proxy end to end through `thoth run` with the trail on vs THOTH_AUDIT=off, same run,
 *    interleaved: sequential tools/call latency and throughput with 64 calls in flight.
 */
import {randomBytes} from 'node:crypto';
import {mkdir, mkdtemp, open, readFile, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {keyIdOf, type AuditKey} from '../src/audit/key.js';
import {genesisHash, sealLine} from '../src/audit/record.js';
import {AUDIT_DEFAULTS, type AuditSettings} from '../src/audit/settings.js';
import {FileAuditSink} from '../src/audit/sink.js';
import type {DecisionContext} from '../src/enforcer/types.js';
import {withFileLock} from '../src/util/file-lock.js';
import {SERVER_EVERYTHING, connect, throughThoth} from '../test/helpers/mcp.js';
import type {BenchContext, BenchSection} from './main.js';

const decision = {decision: 'allow' as const, reason: 'in the approved scope', ruleId: 'scope:files'};

function settingsFor(dir: string, overrides: Partial<AuditSettings> = {}): AuditSettings {
  return {dir, keyFile: join(dir, '..', 'key.json'), ...AUDIT_DEFAULTS, enabled: true, ...overrides};
}

function context(): DecisionContext {
  return {agentId: 'bench', sessionId: randomBytes(8).toString('hex'), mode: 'block', sessionToolCalls: ['read_file', 'list_directory']};
}

async function appendRate(dir: string, key: AuditKey, events: number, mode: 'awaited' | 'pipelined', overrides: Partial<AuditSettings> = {}): Promise<number> {
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

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** CPU seconds (user + system) used so far by a process (Linux /proc): robust to a noisy machine. */
async function cpuSeconds(pid: number | null): Promise<number> {
  if (pid === null) return Number.NaN;
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface ProxyResult {
  p50: number;
  p99: number;
  throughput: number;
  /** thoth's own CPU time per governed call, in microseconds. */
  cpuPerCall: number;
}

async function proxyRun(env: Record<string, string>, sequential: number, inFlight: number): Promise<ProxyResult> {
  const connection = await connect(throughThoth(SERVER_EVERYTHING, ['--agent-id', 'bench']), {env});
  try {
    const cpuBefore = await cpuSeconds(connection.transport.pid);
    for (let i = 0; i < 20; i++) await connection.client.callTool({name: 'echo', arguments: {message: 'warm'}});
    const latencies: number[] = [];
    for (let i = 0; i < sequential; i++) {
      const t = performance.now();
      await connection.client.callTool({name: 'echo', arguments: {message: `call ${i}`}});
      latencies.push(performance.now() - t);
    }
    latencies.sort((a, b) => a - b);
    const total = inFlight * 10;
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({length: inFlight}, async () => {
        while (next < total) {
          next++;
          await connection.client.callTool({name: 'echo', arguments: {message: 'parallel'}});
        }
      }),
    );
    const throughput = total / ((performance.now() - started) / 1000);
    const cpuPerCall = ((await cpuSeconds(connection.transport.pid)) - cpuBefore) / (sequential + total) * 1e6;
    return {p50: percentile(latencies, 50), p99: percentile(latencies, 99), throughput, cpuPerCall};
  } finally {
    await connection.close();
  }
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
    rows.push({measure: 'TOOL_CALL_PRE appended, each awaited (batched fsync, 20 ms)', value: `${Math.round(awaited)} events/s`, target: '≥ 20000'});
    rows.push({measure: 'events appended back to back (group commit, batched fsync)', value: `${Math.round(pipelined)} events/s`, target: ''});
    rows.push({measure: 'TOOL_CALL_PRE appended, each awaited, fsync always', value: `${Math.round(always)} events/s`, target: ''});
    rows.push({measure: 'rejected design: shared file, lock file per append', value: `${Math.round(locked)} events/s`, target: ''});

    const home = await fresh();
    const on = {THOTH_HOME: home};
    const off = {THOTH_HOME: home, THOTH_AUDIT: 'off'};
    const sequential = ctx.quick ? 50 : 300;
    const inFlight = 64;
    const results = {on: [] as ProxyResult[], off: [] as ProxyResult[]};
    for (let round = 0; round < (ctx.quick ? 1 : 3); round++) {
      results.off.push(await proxyRun(off, sequential, inFlight));
      results.on.push(await proxyRun(on, sequential, inFlight));
    }
    const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const summary = (key: keyof ProxyResult) => ({on: median(results.on.map((r) => r[key])), off: median(results.off.map((r) => r[key]))});
    const p50 = summary('p50');
    const p99 = summary('p99');
    const throughput = summary('throughput');
    rows.push({measure: 'thoth run tools/call p50, audit on / off', value: `${p50.on.toFixed(2)} / ${p50.off.toFixed(2)} ms (×${(p50.on / p50.off).toFixed(2)})`, target: ''});
    rows.push({measure: 'thoth run tools/call p99, audit on / off', value: `${p99.on.toFixed(2)} / ${p99.off.toFixed(2)} ms (×${(p99.on / p99.off).toFixed(2)})`, target: ''});
    const cpu = summary('cpuPerCall');
    rows.push({measure: 'thoth run CPU per governed call, audit on / off', value: `${Math.round(cpu.on)} / ${Math.round(cpu.off)} µs (+${Math.round(cpu.on - cpu.off)} µs)`, target: ''});
    rows.push({
      measure: 'thoth run throughput, 64 in flight, audit on / off',
      value: `${Math.round(throughput.on)} / ${Math.round(throughput.off)} calls/s (×${(throughput.on / throughput.off).toFixed(2)})`,
      target: '',
    });
  } finally {
    await rm(root, {recursive: true, force: true});
  }
  return {
    title: 'Audit trail',
    rows,
    notes: [
      'Appends: one chain per thoth run session, one write(2) per batch of queued records, fdatasync within 20 ms (THOTH_AUDIT_FSYNC=always: before the call goes on).',
      'Proxy rows: medians of interleaved rounds through the real thoth run with server-everything; the proxy targets (p50 ≤ 1.5×, throughput ≥ 0.9× direct) are the proxy bench\'s.',
    ],
  };
}
