/**
 * What the audit trail costs a governed call, measured so that a busy machine does not decide
 * the answer:
 *
 * 1. thoth's own CPU time per tools/call (utime + stime of the `thoth run` process, all its
 *    threads, from /proc), audit on (the default) vs THOTH_AUDIT=off, with 64 calls in flight and
 *    sequentially. Each run first warms up (so JIT compilation is not counted) and the variants
 *    are interleaved round by round; the table gives the median and the lowest round (noise on a
 *    shared machine only ever adds CPU time).
 * 2. The sink alone, in this process: PRE + POST for 64 calls per event-loop turn, as the relay
 *    hands them over, CPU per call (no pipes, no other process: the least noisy number).
 * 3. Wall clock, same run, interleaved: p50 latency and throughput of audit on and off against
 *    server-everything directly (the proxy bench's measureVariants and comparisonRows).
 */
import {randomBytes} from 'node:crypto';
import {mkdtemp, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {keyIdOf, type AuditKey} from '../src/audit/key.js';
import {AUDIT_DEFAULTS} from '../src/settings/audit-defaults.js';
import type {Decision, DecisionContext} from '../src/core/decision.js';
import type {BenchContext, BenchSection} from './main.js';
import {comparisonRows, measureVariants, type Variant} from './proxy.bench.js';
import {RpcClient} from './lib/rpc-client.js';
import {EVERYTHING, viaThoth} from './lib/servers.js';
import {fixed, median} from './lib/stats.js';

/** The budget for the trail at 64 calls in flight (thoth CPU per call, on minus off). */
const TARGET_ADDED_MICROS = 15;

interface CpuSizes {
  warmup: number;
  concurrent: number;
  sequential: number;
  rounds: number;
}

/** thoth's CPU µs per call over `calls` echo calls with `inFlight` outstanding, after a warm-up. */
async function cpuPerCall(env: NodeJS.ProcessEnv, inFlight: number, calls: number, warmup: number): Promise<number> {
  const command = viaThoth(EVERYTHING, ['--agent-id', 'bench']);
  const client = new RpcClient(command[0]!, command.slice(1), env);
  try {
    await client.initialize();
    for (let i = 0; i < warmup; i++) await client.echo(`warm ${i}`);
    const before = client.cpuMicros();
    let issued = 0;
    const worker = async (): Promise<void> => {
      while (issued < calls) {
        issued++;
        await client.echo(`call ${issued}`);
      }
    };
    await Promise.all(Array.from({length: inFlight}, worker));
    const after = client.cpuMicros();
    return before === undefined || after === undefined ? Number.NaN : (after - before) / calls;
  } finally {
    await client.close();
  }
}

async function processCpu(
  env: NodeJS.ProcessEnv,
  sizes: CpuSizes,
): Promise<Record<'on' | 'off', {concurrent: number[]; sequential: number[]}>> {
  const results = {
    on: {concurrent: [] as number[], sequential: [] as number[]},
    off: {concurrent: [] as number[], sequential: [] as number[]},
  };
  const variants = {on: env, off: {...env, THOTH_AUDIT: 'off'}};
  for (let round = 0; round < sizes.rounds; round++) {
    const order: Array<'on' | 'off'> = round % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
    for (const name of order) {
      results[name].concurrent.push(await cpuPerCall(variants[name], 64, sizes.concurrent, sizes.warmup));
      results[name].sequential.push(await cpuPerCall(variants[name], 1, sizes.sequential, sizes.warmup));
    }
  }
  return results;
}

/**
 * The sink alone: `calls` PRE/POST pairs, 64 per turn of the event loop, CPU µs per pair. It runs
 * the built code (dist/, what `thoth run` runs), not the sources as tsx transpiles them.
 */
async function sinkCpu(root: string, calls: number): Promise<number> {
  const {FileAuditSink} = (await import(new URL('../dist/audit/sink.js', import.meta.url).href)) as typeof import('../src/audit/sink.js');
  const secret = randomBytes(32);
  const key: AuditKey = {keyId: keyIdOf(secret), secret, path: '(bench)'};
  const sessionToolCalls: string[] = [];
  const context: DecisionContext = {
    agentId: 'bench',
    sessionId: randomBytes(8).toString('hex'),
    mode: 'progressive',
    sessionToolCalls,
    session: {client: {name: 'bench', version: '1', protocolVersion: '2025-06-18'}},
  };
  const dir = join(root, `sink-${randomBytes(4).toString('hex')}`);
  const sink = new FileAuditSink({settings: {dir, keyFile: join(root, 'key.json'), ...AUDIT_DEFAULTS, enabled: true}, context, key});
  // What the built-in policy decides in progressive mode while it learns: a new reason every call.
  const decision = (i: number): Decision => ({
    decision: 'allow',
    reason: `progressive mode is learning the baseline of agent "bench" ((${i}/50 calls, 1/3 sessions)): the call is allowed and learned`,
    ruleId: 'progressive:learning',
    trace: [
      'policy builtin <built-in> (version builtin-1)',
      'scope: agent "bench" has no approved scope',
      `progressive: learning (${i}/50 calls, 1/3 sessions); no novelty → allow`,
      '→ allow (progressive:learning)',
    ],
  });
  const turn = async (first: number, size: number): Promise<void> => {
    const calls = Array.from({length: size}, (_, k) => {
      const args = {message: `call ${first + k}`};
      return {
        requestId: String(first + k),
        call: {name: 'echo', arguments: args, argumentsJson: JSON.stringify(args)},
        decision: decision(first + k),
      };
    });
    const ids = await Promise.all(
      calls.map((c) => sink.toolCallPre({call: c.call, context, decision: c.decision, requestId: c.requestId})),
    );
    for (const c of calls) sessionToolCalls.push(c.call.name);
    await new Promise((resolve) => setImmediate(resolve));
    calls.forEach((c, k) =>
      sink.toolCallPost({
        ...c,
        context,
        preEventId: ids[k]!,
        outcome: {kind: 'result', resultJson: Buffer.from(`{"content":[{"type":"text","text":"Echo: call ${c.requestId}"}]}`)},
        durationMs: 1,
      }),
    );
    await new Promise((resolve) => setImmediate(resolve));
  };
  const run = async (from: number, count: number): Promise<void> => {
    for (let done = 0; done < count; done += 64) await turn(from + done, Math.min(64, count - done));
    await sink.flush();
  };
  try {
    await run(0, Math.min(5000, calls));
    const before = process.cpuUsage();
    await run(calls, calls);
    const used = process.cpuUsage(before);
    return (used.user + used.system) / calls;
  } finally {
    await sink.close();
  }
}

const describeRounds = (values: number[]): string => `${fixed(median(values), 0)} (lowest ${fixed(Math.min(...values), 0)})`;

export default async function auditOverheadBench(context: BenchContext): Promise<BenchSection> {
  const root = await mkdtemp(join(tmpdir(), 'thoth-audit-overhead-'));
  const env = {...process.env, THOTH_HOME: root, THOTH_REQUIRE_NON_ROOT: 'false'};
  const sizes: CpuSizes = context.quick
    ? {warmup: 300, concurrent: 1000, sequential: 300, rounds: 1}
    : {warmup: 3000, concurrent: 10_000, sequential: 3000, rounds: 4};
  try {
    const cpu = await processCpu(env, sizes);
    const sinkRounds: number[] = [];
    for (let i = 0; i < (context.quick ? 1 : 3); i++) sinkRounds.push(await sinkCpu(root, context.quick ? 2000 : 20_000));

    const variants: Variant[] = [
      {name: 'direct', command: EVERYTHING, env},
      {name: 'audit off', command: viaThoth(EVERYTHING, ['--agent-id', 'bench']), env: {...env, THOTH_AUDIT: 'off'}},
      {name: 'audit on', command: viaThoth(EVERYTHING, ['--agent-id', 'bench']), env},
    ];
    const wall = await measureVariants(variants, context);
    const wallRows = comparisonRows(
      wall,
      'direct',
      variants.slice(1).map((v) => v.name),
    );

    const added = (workload: 'concurrent' | 'sequential'): {median: number; lowest: number} => ({
      median: median(cpu.on[workload]) - median(cpu.off[workload]),
      lowest: Math.min(...cpu.on[workload]) - Math.min(...cpu.off[workload]),
    });
    const concurrent = added('concurrent');
    const sequential = added('sequential');
    const cpuRows: Array<Record<string, string | number>> = [
      {
        metric: 'thoth CPU per call, 64 in flight (µs, median of rounds)',
        target: `on − off ≤ ${TARGET_ADDED_MICROS} µs`,
        direct: '',
        'audit off': describeRounds(cpu.off.concurrent),
        'audit on': describeRounds(cpu.on.concurrent),
        added: `${fixed(concurrent.median, 1)} (lowest rounds: ${fixed(concurrent.lowest, 1)})${concurrent.median <= TARGET_ADDED_MICROS ? '' : ' ✗'}`,
      },
      {
        metric: 'thoth CPU per call, sequential (µs, median of rounds)',
        target: 'report',
        direct: '',
        'audit off': describeRounds(cpu.off.sequential),
        'audit on': describeRounds(cpu.on.sequential),
        added: `${fixed(sequential.median, 1)} (lowest rounds: ${fixed(sequential.lowest, 1)})`,
      },
      {
        metric: 'the sink alone, in process: PRE + POST, 64 calls per turn (µs CPU per call)',
        target: 'report',
        direct: '',
        'audit off': '',
        'audit on': describeRounds(sinkRounds),
        added: fixed(median(sinkRounds), 1),
      },
    ];
    return {
      title: 'Audit trail: cost per governed call (audit on vs THOTH_AUDIT=off, same run)',
      rows: [...cpuRows, ...wallRows],
      notes: [
        `CPU rows: ${sizes.rounds} interleaved rounds of ${sizes.concurrent} calls (64 in flight) and ${sizes.sequential} sequential calls after ${sizes.warmup} warm-up calls, thoth's own utime+stime from /proc (all threads); thoth in its defaults (built-in policy, progressive mode).`,
        'The trail on: TOOL_CALL_PRE handed to the OS (write(2)) before the call is forwarded; POSTs go out with the next write or before the 20 ms fdatasync; every record HMAC-sealed and hash-chained.',
        "Wall-clock rows: the proxy bench's interleaved workload against server-everything directly; ✗ marks a missed target.",
      ],
    };
  } finally {
    await rm(root, {recursive: true, force: true});
  }
}
