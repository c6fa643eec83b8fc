import {mkdtemp, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import type {BenchContext, BenchSection} from './main.js';
import {RpcClient} from './lib/rpc-client.js';
import {BYTE_PIPE, EVERYTHING, viaThoth} from './lib/servers.js';
import {fixed, median, percentile, since} from './lib/stats.js';

/**
 * The proxy's cost against a direct connection to server-everything, measured in one process,
 * interleaved round by round so that machine noise hits both sides alike.
 */

export interface Variant {
  name: string;
  command: string[];
  env?: NodeJS.ProcessEnv;
}

export interface ProxyMeasurements {
  coldStartMs: number[];
  latencyMs: number[];
  throughputPerSecond: number[];
  roundTrip1MbMs: number[];
  roundTrip10MbMs: number[];
  peakRssSmallBytes: number[];
  /** CPU µs per call of the spawned process (thoth itself when proxied): [sequential, 64 in flight]. */
  cpuPerCallSequential: number[];
  cpuPerCallConcurrent: number[];
}

const emptyMeasurements = (): ProxyMeasurements => ({
  coldStartMs: [],
  latencyMs: [],
  throughputPerSecond: [],
  roundTrip1MbMs: [],
  roundTrip10MbMs: [],
  peakRssSmallBytes: [],
  cpuPerCallSequential: [],
  cpuPerCallConcurrent: [],
});

// Decimal megabytes: the SDK's stdio transport refuses messages over 10 MiB (STDIO_DEFAULT_MAX_BUFFER_SIZE).
const ONE_MB = 'a'.repeat(1_000_000);
const TEN_MB = 'b'.repeat(10_000_000);

async function coldStart(variant: Variant): Promise<number> {
  const started = performance.now();
  const client = new RpcClient(variant.command[0]!, variant.command.slice(1), variant.env);
  await client.initialize();
  const elapsed = since(started);
  await client.close();
  return elapsed;
}

async function workload(
  variant: Variant,
  into: ProxyMeasurements,
  sizes: {sequential: number; throughputCalls: number; big: number},
): Promise<void> {
  const client = new RpcClient(variant.command[0]!, variant.command.slice(1), variant.env);
  await client.initialize();
  for (let i = 0; i < 50; i++) await client.callTool('echo', {message: `warm ${i}`});

  let cpuBefore = client.cpuMicros();
  for (let i = 0; i < sizes.sequential; i++) {
    const started = performance.now();
    await client.callTool('echo', {message: `call ${i}`});
    into.latencyMs.push(since(started));
  }
  let cpuAfter = client.cpuMicros();
  if (cpuBefore !== undefined && cpuAfter !== undefined) into.cpuPerCallSequential.push((cpuAfter - cpuBefore) / sizes.sequential);

  const inFlight = 64;
  let issued = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (issued < sizes.throughputCalls) {
      issued++;
      await client.callTool('echo', {message: `t${issued}`});
    }
  };
  cpuBefore = client.cpuMicros();
  await Promise.all(Array.from({length: inFlight}, worker));
  into.throughputPerSecond.push(sizes.throughputCalls / (since(started) / 1000));
  cpuAfter = client.cpuMicros();
  if (cpuBefore !== undefined && cpuAfter !== undefined) into.cpuPerCallConcurrent.push((cpuAfter - cpuBefore) / sizes.throughputCalls);

  const rss = client.peakRss();
  if (rss !== undefined) into.peakRssSmallBytes.push(rss);

  for (let i = 0; i < sizes.big; i++) {
    let t = performance.now();
    await client.callTool('echo', {message: ONE_MB});
    into.roundTrip1MbMs.push(since(t));
    t = performance.now();
    await client.callTool('echo', {message: TEN_MB});
    into.roundTrip10MbMs.push(since(t));
  }
  await client.close();
}

/** Runs `rounds` interleaved rounds over every variant; the first variant is the baseline. */
export async function measureVariants(variants: Variant[], context: BenchContext): Promise<Map<string, ProxyMeasurements>> {
  const results = new Map(variants.map((v) => [v.name, emptyMeasurements()]));
  const rounds = context.quick ? 2 : 5;
  const sizes = context.quick ? {sequential: 100, throughputCalls: 500, big: 1} : {sequential: 1000, throughputCalls: 4000, big: 3};
  for (let round = 0; round < rounds; round++) {
    // Alternate the order each round so neither side always runs on a warmer machine.
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (let i = 0; i < 2; i++) for (const variant of order) results.get(variant.name)!.coldStartMs.push(await coldStart(variant));
    for (const variant of order) await workload(variant, results.get(variant.name)!, sizes);
  }
  return results;
}

export interface Summary {
  coldStartMedianMs: number;
  p50Ms: number;
  p99Ms: number;
  throughput: number;
  roundTrip1MbMs: number;
  roundTrip10MbMs: number;
  peakRssMiB: number;
  cpuPerCallSequentialMicros: number;
  cpuPerCallConcurrentMicros: number;
}

export function summarise(m: ProxyMeasurements): Summary {
  return {
    coldStartMedianMs: median(m.coldStartMs),
    p50Ms: percentile(m.latencyMs, 50),
    p99Ms: percentile(m.latencyMs, 99),
    throughput: median(m.throughputPerSecond),
    roundTrip1MbMs: median(m.roundTrip1MbMs),
    roundTrip10MbMs: median(m.roundTrip10MbMs),
    peakRssMiB: Math.max(...m.peakRssSmallBytes) / (1024 * 1024),
    cpuPerCallSequentialMicros: median(m.cpuPerCallSequential),
    cpuPerCallConcurrentMicros: median(m.cpuPerCallConcurrent),
  };
}

/** One table: each variant's numbers and its ratios to the baseline, with the targets. */
export function comparisonRows(baseline: Summary, variants: Array<[string, Summary]>): Array<Record<string, string | number>> {
  const rows: Array<Record<string, string | number>> = [];
  const row = (metric: string, target: string, base: string, values: Array<[string, string, boolean]>): void => {
    const entry: Record<string, string | number> = {metric, target, direct: base};
    for (const [name, value, ok] of values) entry[name] = `${value}${ok ? '' : ' ✗'}`;
    rows.push(entry);
  };
  row(
    'cold start to initialize reply (median ms, added)',
    '≤ +180 ms',
    fixed(baseline.coldStartMedianMs, 0),
    variants.map(([n, s]) => [
      n,
      `${fixed(s.coldStartMedianMs, 0)} (+${fixed(s.coldStartMedianMs - baseline.coldStartMedianMs, 0)})`,
      s.coldStartMedianMs - baseline.coldStartMedianMs <= 180,
    ]),
  );
  row(
    'sequential tools/call p50 (ms, ratio)',
    '≤ 1.5×',
    fixed(baseline.p50Ms, 3),
    variants.map(([n, s]) => [n, `${fixed(s.p50Ms, 3)} (${fixed(s.p50Ms / baseline.p50Ms)}×)`, s.p50Ms / baseline.p50Ms <= 1.5]),
  );
  row(
    'sequential tools/call p99 (ms, ratio)',
    'report',
    fixed(baseline.p99Ms, 3),
    variants.map(([n, s]) => [n, `${fixed(s.p99Ms, 3)} (${fixed(s.p99Ms / baseline.p99Ms)}×)`, true]),
  );
  row(
    'throughput, 64 in flight (calls/s, ratio)',
    '≥ 0.9×',
    fixed(baseline.throughput, 0),
    variants.map(([n, s]) => [
      n,
      `${fixed(s.throughput, 0)} (${fixed(s.throughput / baseline.throughput)}×)`,
      s.throughput / baseline.throughput >= 0.9,
    ]),
  );
  row(
    '1 MB round trip (median ms, speed ratio)',
    'report',
    fixed(baseline.roundTrip1MbMs, 1),
    variants.map(([n, s]) => [n, `${fixed(s.roundTrip1MbMs, 1)} (${fixed(baseline.roundTrip1MbMs / s.roundTrip1MbMs)}×)`, true]),
  );
  row(
    '10 MB round trip (median ms, speed ratio)',
    '≥ 0.9×',
    fixed(baseline.roundTrip10MbMs, 1),
    variants.map(([n, s]) => [
      n,
      `${fixed(s.roundTrip10MbMs, 1)} (${fixed(baseline.roundTrip10MbMs / s.roundTrip10MbMs)}×)`,
      baseline.roundTrip10MbMs / s.roundTrip10MbMs >= 0.9,
    ]),
  );
  row(
    "peak RSS, small messages (MiB; thoth's own process)",
    '≤ 60 MiB',
    fixed(baseline.peakRssMiB, 1) + ' (server)',
    variants.map(([n, s]) => [n, fixed(s.peakRssMiB, 1), s.peakRssMiB <= 60]),
  );
  row(
    'CPU per call of the spawned process (µs: sequential / 64 in flight)',
    'report (load-independent)',
    `${fixed(baseline.cpuPerCallSequentialMicros, 0)} / ${fixed(baseline.cpuPerCallConcurrentMicros, 0)} (server)`,
    variants.map(([n, s]) => [n, `${fixed(s.cpuPerCallSequentialMicros, 0)} / ${fixed(s.cpuPerCallConcurrentMicros, 0)} (thoth)`, true]),
  );
  return rows;
}

/** The four sides every proxy comparison measures: direct (the baseline) first. */
export function proxyVariants(env: NodeJS.ProcessEnv): Variant[] {
  return [
    {name: 'direct', command: EVERYTHING, env},
    {name: 'byte pipe', command: [process.execPath, BYTE_PIPE, ...EVERYTHING], env},
    {name: 'thoth (audit off)', command: viaThoth(EVERYTHING, ['--agent-id', 'bench']), env: {...env, THOTH_AUDIT: 'off'}},
    {name: 'thoth (defaults)', command: viaThoth(EVERYTHING, ['--agent-id', 'bench']), env},
  ];
}

export default async function proxyBench(context: BenchContext): Promise<BenchSection> {
  const home = await mkdtemp(join(tmpdir(), 'thoth-bench-'));
  const env = {...process.env, THOTH_HOME: home, THOTH_REQUIRE_NON_ROOT: 'false'};
  try {
    const variants = proxyVariants(env);
    const results = await measureVariants(variants, context);
    const baseline = summarise(results.get('direct')!);
    return {
      title: 'thoth run vs direct (server-everything, same run, interleaved)',
      rows: comparisonRows(
        baseline,
        variants.slice(1).map((v) => [v.name, summarise(results.get(v.name)!)]),
      ),
      notes: [
        `${context.quick ? 2 : 5} interleaved rounds; latency from ${results.get('direct')!.latencyMs.length} sequential echo calls per side; ✗ marks a missed target.`,
        '"byte pipe" is a Node process that only pipes bytes (bench/lib/byte-pipe.mjs): the floor for any stdio proxy on this machine today.',
        '"thoth (defaults)" is what a fresh install runs: the built-in policy in progressive mode and the audit trail on; "audit off" sets THOTH_AUDIT=off.',
        'RSS is the VmHWM of the process the client spawned: server-everything for direct, the proxy itself (not its child) otherwise.',
      ],
    };
  } finally {
    await rm(home, {recursive: true, force: true});
  }
}
