import {mkdtemp, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import type {BenchContext, BenchSection} from './main.js';
import {connectMinimal, type Connect, type EchoClient, type Variant} from './lib/echo-clients.js';
import {freshMemoryCost} from './lib/memory-touch.js';
import {BYTE_PIPE, EVERYTHING, PARSE_FLOOR, viaThoth} from './lib/servers.js';
import {fixed, median, percentile, since} from './lib/stats.js';

export type {Variant} from './lib/echo-clients.js';

/**
 * The proxy's cost against a direct connection to server-everything, measured in one process,
 * interleaved round by round so that machine noise hits both sides alike. Every timed call is a
 * checked echo (bench/lib/echo-clients.ts): a refused or wrong answer fails the bench.
 */

/** One list per round: ratios are taken round by round, against the baseline's same round. */
export interface ProxyMeasurements {
  coldStartMs: number[][];
  /** The first calls of each session (the warm-up calls, timed): what a short session sees. */
  firstCallsMs: number[][];
  latencyMs: number[][];
  throughputPerSecond: number[];
  roundTrip1MbMs: number[][];
  roundTrip10MbMs: number[][];
  /** VmHWM after the small messages, and at the end (after the 1 MB and 10 MB round trips). */
  peakRssSmallBytes: number[];
  peakRssLargeBytes: number[];
  /** CPU µs per call of the spawned process (thoth itself when proxied). */
  cpuPerCallSequential: number[];
  cpuPerCallConcurrent: number[];
}

const emptyMeasurements = (): ProxyMeasurements => ({
  coldStartMs: [],
  firstCallsMs: [],
  latencyMs: [],
  throughputPerSecond: [],
  roundTrip1MbMs: [],
  roundTrip10MbMs: [],
  peakRssSmallBytes: [],
  peakRssLargeBytes: [],
  cpuPerCallSequential: [],
  cpuPerCallConcurrent: [],
});

// Decimal megabytes: the SDK's stdio transport refuses messages over 10 MiB (STDIO_DEFAULT_MAX_BUFFER_SIZE).
export const TEN_MB_BYTES = 10_000_000;
const ONE_MB = 'a'.repeat(1_000_000);
const TEN_MB = 'b'.repeat(TEN_MB_BYTES);

/** Calls made at the start of each session before the timed phases; their latency is reported too. */
const FIRST_CALLS = 50;

export interface WorkloadSizes {
  sequential: number;
  throughputCalls: number;
  big: number;
}

async function coldStart(variant: Variant, connect: Connect): Promise<number> {
  const started = performance.now();
  const client = await connect(variant);
  const elapsed = since(started);
  await client.close();
  return elapsed;
}

async function workload(client: EchoClient, into: ProxyMeasurements, sizes: WorkloadSizes): Promise<void> {
  const firstCalls: number[] = [];
  for (let i = 0; i < FIRST_CALLS; i++) {
    const started = performance.now();
    await client.echo(`warm ${i}`);
    firstCalls.push(since(started));
  }
  into.firstCallsMs.push(firstCalls);

  const latencies: number[] = [];
  let cpuBefore = client.cpuMicros();
  for (let i = 0; i < sizes.sequential; i++) {
    const started = performance.now();
    await client.echo(`call ${i}`);
    latencies.push(since(started));
  }
  let cpuAfter = client.cpuMicros();
  into.latencyMs.push(latencies);
  if (cpuBefore !== undefined && cpuAfter !== undefined) into.cpuPerCallSequential.push((cpuAfter - cpuBefore) / sizes.sequential);

  const inFlight = 64;
  let issued = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (issued < sizes.throughputCalls) {
      issued++;
      await client.echo(`t${issued}`);
    }
  };
  cpuBefore = client.cpuMicros();
  await Promise.all(Array.from({length: inFlight}, worker));
  into.throughputPerSecond.push(sizes.throughputCalls / (since(started) / 1000));
  cpuAfter = client.cpuMicros();
  if (cpuBefore !== undefined && cpuAfter !== undefined) into.cpuPerCallConcurrent.push((cpuAfter - cpuBefore) / sizes.throughputCalls);

  const small = client.peakRss();
  if (small !== undefined) into.peakRssSmallBytes.push(small);

  const oneMb: number[] = [];
  const tenMb: number[] = [];
  for (let i = 0; i < sizes.big; i++) {
    let t = performance.now();
    await client.echo(ONE_MB);
    oneMb.push(since(t));
    t = performance.now();
    await client.echo(TEN_MB);
    tenMb.push(since(t));
  }
  into.roundTrip1MbMs.push(oneMb);
  into.roundTrip10MbMs.push(tenMb);
  const large = client.peakRss();
  if (large !== undefined) into.peakRssLargeBytes.push(large);
}

export function defaultSizes(context: BenchContext): {rounds: number; sizes: WorkloadSizes} {
  return context.quick
    ? {rounds: 2, sizes: {sequential: 100, throughputCalls: 500, big: 1}}
    : {rounds: Number(process.env['BENCH_ROUNDS'] ?? 5), sizes: {sequential: 1000, throughputCalls: 4000, big: 3}};
}

/** Runs interleaved rounds over every variant (the first is the baseline); fails on the first failed call. */
export async function measureVariants(
  variants: Variant[],
  context: BenchContext,
  connect: Connect = connectMinimal,
): Promise<Map<string, ProxyMeasurements>> {
  const results = new Map(variants.map((v) => [v.name, emptyMeasurements()]));
  const {rounds, sizes} = defaultSizes(context);
  for (let round = 0; round < rounds; round++) {
    // Alternate the order each round so neither side always runs on a warmer machine.
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    const colds = new Map(variants.map((v) => [v.name, [] as number[]]));
    for (let i = 0; i < 2; i++) for (const variant of order) colds.get(variant.name)!.push(await coldStart(variant, connect));
    for (const variant of order) results.get(variant.name)!.coldStartMs.push(colds.get(variant.name)!);
    for (const variant of order) {
      const client = await connect(variant);
      try {
        await workload(client, results.get(variant.name)!, sizes);
      } catch (error) {
        throw new Error(`${variant.name}: ${error instanceof Error ? error.message : String(error)}`, {cause: error});
      } finally {
        await client.close();
      }
    }
  }
  return results;
}

export interface Summary {
  coldStartMedianMs: number;
  firstCallsP50Ms: number;
  p50Ms: number;
  p99Ms: number;
  throughput: number;
  roundTrip1MbMs: number;
  roundTrip10MbMs: number;
  peakRssMiB: number;
  peakRssLargeMiB: number;
  cpuPerCallSequentialMicros: number;
  cpuPerCallConcurrentMicros: number;
}

export function summarise(m: ProxyMeasurements): Summary {
  const all = (rounds: number[][]): number[] => rounds.flat();
  return {
    coldStartMedianMs: median(all(m.coldStartMs)),
    firstCallsP50Ms: percentile(all(m.firstCallsMs), 50),
    p50Ms: percentile(all(m.latencyMs), 50),
    p99Ms: percentile(all(m.latencyMs), 99),
    throughput: median(m.throughputPerSecond),
    roundTrip1MbMs: median(all(m.roundTrip1MbMs)),
    roundTrip10MbMs: median(all(m.roundTrip10MbMs)),
    peakRssMiB: Math.max(...m.peakRssSmallBytes) / 2 ** 20,
    peakRssLargeMiB: Math.max(...m.peakRssLargeBytes) / 2 ** 20,
    cpuPerCallSequentialMicros: median(m.cpuPerCallSequential),
    cpuPerCallConcurrentMicros: median(m.cpuPerCallConcurrent),
  };
}

/** Per-round values of one measure: a round's own statistic of its samples. */
type PerRound = (m: ProxyMeasurements) => number[];
const perRound = {
  coldStart: (m: ProxyMeasurements) => m.coldStartMs.map(median),
  firstCalls: (m: ProxyMeasurements) => m.firstCallsMs.map((r) => percentile(r, 50)),
  p50: (m: ProxyMeasurements) => m.latencyMs.map((r) => percentile(r, 50)),
  p99: (m: ProxyMeasurements) => m.latencyMs.map((r) => percentile(r, 99)),
  throughput: (m: ProxyMeasurements) => m.throughputPerSecond,
  oneMb: (m: ProxyMeasurements) => m.roundTrip1MbMs.map(median),
  tenMb: (m: ProxyMeasurements) => m.roundTrip10MbMs.map(median),
} satisfies Record<string, PerRound>;

/** The median over rounds of `combine(variant's round, baseline's same round)`, and the spread. */
function roundRatios(
  baseline: ProxyMeasurements,
  variant: ProxyMeasurements,
  of: PerRound,
  combine: (v: number, b: number) => number,
): {median: number; min: number; max: number} {
  const b = of(baseline);
  const ratios = of(variant).map((v, i) => combine(v, b[i]!));
  return {median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios)};
}

const spread = (r: {min: number; max: number}, digits = 2, unit = '×'): string => `${fixed(r.min, digits)}–${fixed(r.max, digits)}${unit}`;

/**
 * One table: each variant's numbers and its ratios to the baseline, with the targets.
 * A ratio is taken round by round (each against the baseline's same round); the table gives the
 * median over rounds and, in brackets, the lowest and highest round.
 */
export function comparisonRows(
  results: Map<string, ProxyMeasurements>,
  baselineName: string,
  names: readonly string[],
): Array<Record<string, string | number>> {
  const base = results.get(baselineName)!;
  const baseline = summarise(base);
  const rows: Array<Record<string, string | number>> = [];
  const row = (metric: string, target: string, baseText: string, cell: (m: ProxyMeasurements, s: Summary) => [string, boolean]): void => {
    const entry: Record<string, string | number> = {metric, target, [baselineName]: baseText};
    for (const name of names) {
      const m = results.get(name)!;
      const [text, ok] = cell(m, summarise(m));
      entry[name] = `${text}${ok ? '' : ' ✗'}`;
    }
    rows.push(entry);
  };
  const slower = (v: number, b: number): number => v / b;
  const faster = (v: number, b: number): number => b / v;
  const added = (v: number, b: number): number => v - b;

  row('cold start to initialize reply (median ms, added)', '≤ +180 ms', fixed(baseline.coldStartMedianMs, 0), (m, s) => {
    const r = roundRatios(base, m, perRound.coldStart, added);
    return [`${fixed(s.coldStartMedianMs, 0)} (+${fixed(r.median, 0)}; ${spread(r, 0, ' ms')})`, r.median <= 180];
  });
  row(`first ${FIRST_CALLS} calls of a session, one at a time: p50 (ms, ratio)`, 'report', fixed(baseline.firstCallsP50Ms, 3), (m, s) => {
    const r = roundRatios(base, m, perRound.firstCalls, slower);
    return [`${fixed(s.firstCallsP50Ms, 3)} (${fixed(r.median)}×; ${spread(r)})`, true];
  });
  row('sequential tools/call p50 (ms, ratio)', '≤ 1.5×', fixed(baseline.p50Ms, 3), (m, s) => {
    const r = roundRatios(base, m, perRound.p50, slower);
    return [`${fixed(s.p50Ms, 3)} (${fixed(r.median)}×; ${spread(r)})`, r.median <= 1.5];
  });
  row('sequential tools/call p99 (ms, ratio)', 'report', fixed(baseline.p99Ms, 3), (m, s) => {
    const r = roundRatios(base, m, perRound.p99, slower);
    return [`${fixed(s.p99Ms, 3)} (${fixed(r.median)}×)`, true];
  });
  row('throughput, 64 in flight (calls/s, ratio)', '≥ 0.9×', fixed(baseline.throughput, 0), (m, s) => {
    const r = roundRatios(base, m, perRound.throughput, slower);
    return [`${fixed(s.throughput, 0)} (${fixed(r.median)}×; ${spread(r)})`, r.median >= 0.9];
  });
  row('1 MB round trip (median ms, speed ratio)', '≥ 0.9×', fixed(baseline.roundTrip1MbMs, 1), (m, s) => {
    const r = roundRatios(base, m, perRound.oneMb, faster);
    return [`${fixed(s.roundTrip1MbMs, 1)} (${fixed(r.median)}×; ${spread(r)})`, r.median >= 0.9];
  });
  row('10 MB round trip (median ms, speed ratio)', '≥ 0.9×', fixed(baseline.roundTrip10MbMs, 1), (m, s) => {
    const r = roundRatios(base, m, perRound.tenMb, faster);
    return [`${fixed(s.roundTrip10MbMs, 1)} (${fixed(r.median)}×; ${spread(r)})`, r.median >= 0.9];
  });
  row("peak RSS, small messages (MiB; the proxy's own process)", '≤ 60 MiB', `${fixed(baseline.peakRssMiB, 1)} (server)`, (_m, s) => [
    fixed(s.peakRssMiB, 1),
    s.peakRssMiB <= 60,
  ]);
  const largeTarget = 60 + (3 * TEN_MB_BYTES) / 2 ** 20;
  row(
    "peak RSS with 10 MB messages (MiB; the proxy's own process)",
    `≤ ${fixed(largeTarget, 1)} MiB (60 + 3 × 10 MB)`,
    `${fixed(baseline.peakRssLargeMiB, 1)} (server)`,
    (_m, s) => [fixed(s.peakRssLargeMiB, 1), s.peakRssLargeMiB <= largeTarget],
  );
  row(
    'CPU per call of the spawned process (µs: sequential / 64 in flight)',
    '64 in flight ≤ 25 µs',
    `${fixed(baseline.cpuPerCallSequentialMicros, 0)} / ${fixed(baseline.cpuPerCallConcurrentMicros, 0)} (server)`,
    (_m, s) => [
      `${fixed(s.cpuPerCallSequentialMicros, 0)} / ${fixed(s.cpuPerCallConcurrentMicros, 0)}`,
      s.cpuPerCallConcurrentMicros <= 25,
    ],
  );
  return rows;
}

/**
 * The sides every proxy comparison measures: direct (the baseline) first. BENCH_THOTH_BEFORE may
 * name another checkout's bin/run.js (built): it is measured as "thoth before" in the same run,
 * which is how bench/README.md compares a change with what it replaces.
 */
export function proxyVariants(env: NodeJS.ProcessEnv): Variant[] {
  const variants: Variant[] = [
    {name: 'direct', command: EVERYTHING, env},
    {name: 'byte pipe', command: [process.execPath, BYTE_PIPE, ...EVERYTHING], env},
    {name: 'parse floor', command: [process.execPath, PARSE_FLOOR, ...EVERYTHING], env},
  ];
  const before = process.env['BENCH_THOTH_BEFORE'];
  if (before) variants.push({name: 'thoth before', command: viaThoth(EVERYTHING, ['--agent-id', 'bench'], before), env});
  if (process.env['BENCH_AUDIT_OFF'] === '1')
    variants.push({name: 'thoth (audit off)', command: viaThoth(EVERYTHING, ['--agent-id', 'bench']), env: {...env, THOTH_AUDIT: 'off'}});
  variants.push({name: 'thoth', command: viaThoth(EVERYTHING, ['--agent-id', 'bench']), env});
  return variants;
}

/** The proxy comparison with `connect`'s client: one table. */
export async function proxyComparison(context: BenchContext, connect: Connect, title: string, client: string): Promise<BenchSection> {
  const home = await mkdtemp(join(tmpdir(), 'thoth-bench-'));
  const env = {...process.env, THOTH_HOME: home, THOTH_REQUIRE_NON_ROOT: 'false'};
  try {
    const variants = proxyVariants(env);
    const memoryBefore = freshMemoryCost();
    const results = await measureVariants(variants, context, connect);
    const memoryAfter = freshMemoryCost();
    const {rounds, sizes} = defaultSizes(context);
    return {
      title,
      rows: comparisonRows(
        results,
        'direct',
        variants.slice(1).map((v) => v.name),
      ),
      notes: [
        `${rounds} interleaved rounds with ${client}; per round and side: 2 cold starts, ${FIRST_CALLS} first calls (timed apart), then ${sizes.sequential} sequential echo calls, ${sizes.throughputCalls} with 64 in flight, ${sizes.big} × (1 MB + 10 MB) echo round trips. Every call is checked (a JSON-RPC error or an echo that differs from what was sent fails the bench).`,
        'Ratios are taken round by round against direct in the same round: the median over rounds, then the lowest–highest round. ✗ marks a missed target.',
        '"byte pipe" is a Node process that only pipes bytes (bench/lib/byte-pipe.mjs): the floor for any stdio proxy on this machine today.',
        '"parse floor" (bench/lib/parse-floor.mjs) holds, decodes and parses each client line before forwarding its bytes, and pipes the server back untouched: the floor for any proxy that decides on arguments, which must see a whole argument first.',
        `Writing 10 MiB into memory the process has not touched yet cost ${memoryBefore.freshMs.toFixed(1)} ms before the rounds and ${memoryAfter.freshMs.toFixed(1)} ms after (the same bytes into memory already touched: ${memoryBefore.warmMs.toFixed(1)} / ${memoryAfter.warmMs.toFixed(1)} ms). Every fresh copy of a large message pays the first; see bench/README.md.`,
        '"thoth" is what a fresh install runs: the built-in policy in progressive mode, symbolic links of path arguments followed, the audit trail on.',
        'RSS is the VmHWM of the process the client spawned: server-everything for direct, the proxy itself (not its child) otherwise.',
      ],
    };
  } finally {
    await rm(home, {recursive: true, force: true});
  }
}

export default function proxyBench(context: BenchContext): Promise<BenchSection> {
  return proxyComparison(
    context,
    connectMinimal,
    'thoth run vs direct, minimal JSON-RPC client (server-everything, same run, interleaved)',
    'the minimal client (bench/lib/rpc-client.ts)',
  );
}
