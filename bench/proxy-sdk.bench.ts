import {mkdtemp, readFile, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {Client} from '@modelcontextprotocol/sdk/client/index.js';
import {StdioClientTransport} from '@modelcontextprotocol/sdk/client/stdio.js';

import type {BenchContext, BenchSection} from './main.js';
import {fixed, median, percentile, since} from './lib/stats.js';
import {proxyVariants, type Variant} from './proxy.bench.js';

/**
 * The same comparison as proxy.bench.ts, with the client MCP hosts actually run: the official
 * SDK `Client` over `StdioClientTransport`, which validates every message with its schemas.
 * proxy.bench.ts uses a minimal client to expose the proxy's own cost; this one shows what a
 * host (Claude Desktop, Claude Code, Cursor all use an SDK client) sees. Both tables are
 * reported; neither replaces the other.
 */

interface SdkMeasurements {
  latencyMs: number[];
  throughputPerSecond: number[];
  peakRssBytes: number[];
}

async function peakRss(pid: number | null | undefined): Promise<number | undefined> {
  if (!pid) return undefined;
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const match = /VmHWM:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) * 1024 : undefined;
}

async function workload(variant: Variant, into: SdkMeasurements, sizes: {sequential: number; throughputCalls: number}): Promise<void> {
  const transport = new StdioClientTransport({
    command: variant.command[0]!,
    args: variant.command.slice(1),
    env: variant.env as Record<string, string>,
    stderr: 'ignore',
  });
  const client = new Client({name: 'thoth-bench', version: '1'});
  await client.connect(transport);
  try {
    for (let i = 0; i < 50; i++) await client.callTool({name: 'echo', arguments: {message: `warm ${i}`}});
    for (let i = 0; i < sizes.sequential; i++) {
      const started = performance.now();
      await client.callTool({name: 'echo', arguments: {message: `call ${i}`}});
      into.latencyMs.push(since(started));
    }
    let issued = 0;
    const started = performance.now();
    const worker = async (): Promise<void> => {
      while (issued < sizes.throughputCalls) {
        issued++;
        await client.callTool({name: 'echo', arguments: {message: `t${issued}`}});
      }
    };
    await Promise.all(Array.from({length: 64}, worker));
    into.throughputPerSecond.push(sizes.throughputCalls / (since(started) / 1000));
    const rss = await peakRss(transport.pid);
    if (rss !== undefined) into.peakRssBytes.push(rss);
  } finally {
    await client.close();
  }
}

export default async function proxySdkBench(context: BenchContext): Promise<BenchSection> {
  const home = await mkdtemp(join(tmpdir(), 'thoth-bench-sdk-'));
  const env = {...process.env, THOTH_HOME: home, THOTH_REQUIRE_NON_ROOT: 'false'};
  try {
    const variants = proxyVariants(env);
    const results = new Map(
      variants.map((v): [string, SdkMeasurements] => [v.name, {latencyMs: [], throughputPerSecond: [], peakRssBytes: []}]),
    );
    const rounds = context.quick ? 2 : 5;
    const sizes = context.quick ? {sequential: 100, throughputCalls: 500} : {sequential: 1000, throughputCalls: 4000};
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? variants : [...variants].reverse();
      for (const variant of order) await workload(variant, results.get(variant.name)!, sizes);
    }
    const direct = results.get('direct')!;
    const p50 = percentile(direct.latencyMs, 50);
    const p99 = percentile(direct.latencyMs, 99);
    const throughput = median(direct.throughputPerSecond);
    const rows: Array<Record<string, string | number>> = [
      {metric: 'sequential tools/call p50 (ms, ratio)', target: '≤ 1.5×', direct: fixed(p50, 3)},
      {metric: 'sequential tools/call p99 (ms, ratio)', target: 'report', direct: fixed(p99, 3)},
      {metric: 'throughput, 64 in flight (calls/s, ratio)', target: '≥ 0.9×', direct: fixed(throughput, 0)},
      {
        metric: 'peak RSS (MiB; the spawned process)',
        target: '≤ 60 MiB',
        direct: `${fixed(Math.max(...direct.peakRssBytes) / 2 ** 20, 1)} (server)`,
      },
    ];
    for (const variant of variants.slice(1)) {
      const m = results.get(variant.name)!;
      const vp50 = percentile(m.latencyMs, 50);
      const vp99 = percentile(m.latencyMs, 99);
      const vThroughput = median(m.throughputPerSecond);
      const rss = Math.max(...m.peakRssBytes) / 2 ** 20;
      rows[0]![variant.name] = `${fixed(vp50, 3)} (${fixed(vp50 / p50)}×)${vp50 / p50 <= 1.5 ? '' : ' ✗'}`;
      rows[1]![variant.name] = `${fixed(vp99, 3)} (${fixed(vp99 / p99)}×)`;
      rows[2]![variant.name] =
        `${fixed(vThroughput, 0)} (${fixed(vThroughput / throughput)}×)${vThroughput / throughput >= 0.9 ? '' : ' ✗'}`;
      rows[3]![variant.name] = `${fixed(rss, 1)}${rss <= 60 ? '' : ' ✗'}`;
    }
    return {
      title: 'thoth run vs direct with the official SDK client (what an MCP host sees)',
      rows,
      notes: [
        `${rounds} interleaved rounds of ${sizes.sequential} sequential and ${sizes.throughputCalls} concurrent echo calls per variant, through @modelcontextprotocol/sdk Client + StdioClientTransport.`,
        'The client validates every response with the SDK schemas, as hosts do; the ratios are therefore closer to what a user can notice than those of the minimal client in the table above.',
      ],
    };
  } finally {
    await rm(home, {recursive: true, force: true});
  }
}
