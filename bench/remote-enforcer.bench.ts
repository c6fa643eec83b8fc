/**
 * The remote enforcer's cost: `thoth run` asking a control plane on loopback (HTTPS, kept-alive
 * undici pool, one POST per call) against the same `thoth run` with only the embedded enforcer,
 * measured in one run, interleaved. Target (issue 7): added p50 ≤ 1 ms.
 */
import {randomUUID} from 'node:crypto';
import {mkdtemp, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {ControlPlaneClient} from '../src/control-plane/client.js';
import {Secret} from '../src/control-plane/secret.js';
import {RemoteEnforcer} from '../src/control-plane/remote-enforcer.js';
import {makeCa, makeLeaf} from '../test/helpers/certs.js';
import {TestControlPlane} from '../test/helpers/control-plane-server.js';
import type {BenchContext, BenchSection} from './main.js';
import {EVERYTHING, viaThoth} from './lib/servers.js';
import {fixed, percentile, since} from './lib/stats.js';
import {measureVariants, summarise, type Summary, type Variant} from './proxy.bench.js';

const API_KEY = 'tk_bench_0123456789abcdef0123456789';

export default async function remoteEnforcerBench(context: BenchContext): Promise<BenchSection> {
  const dir = await mkdtemp(join(tmpdir(), 'thoth-bench-remote-'));
  const ca = makeCa(dir, 'bench-ca');
  const leaf = makeLeaf(dir, 'bench-server', ca);
  const plane = await TestControlPlane.start({
    key: leaf.keyPem,
    cert: leaf.chainPem,
    auth: {enforcer: `Bearer ${API_KEY}`},
    record: false,
    validate: false,
  });
  const base = {...process.env, THOTH_REQUIRE_NON_ROOT: 'false'};
  try {
    const embeddedHome = join(dir, 'embedded');
    const remoteHome = join(dir, 'remote');
    const args = ['--agent-id', 'bench', '--enforcement-mode', 'observe'];
    const variants: Variant[] = [
      {name: 'embedded', command: viaThoth(EVERYTHING, args), env: {...base, THOTH_HOME: embeddedHome}},
      {
        name: 'remote',
        command: viaThoth(EVERYTHING, args),
        // Only the enforcer: no GovAPI, so no heartbeats or shipping compete with the calls.
        env: {...base, THOTH_HOME: remoteHome, THOTH_ENFORCER_URL: plane.url, THOTH_API_KEY: API_KEY, THOTH_TLS_CA_BUNDLE: ca.certPath},
      },
    ];
    const results = await measureVariants(variants, context);
    const embedded = summarise(results.get('embedded')!);
    const remote = summarise(results.get('remote')!);
    const enforceRequests = plane.counts.enforce ?? 0;
    const warm = await warmDecisions(plane.url, ca.certPath, context.quick ? 500 : 3000);
    return {
      title: 'remote enforcer (HTTPS on loopback) vs embedded enforcer (thoth run, server-everything, same run, interleaved)',
      rows: [
        ...rows(embedded, remote),
        {
          metric: 'one remote decision, warm (RemoteEnforcer.decide in the bench process, ms: p50 / p99)',
          target: 'report',
          embedded: '-',
          remote: `${fixed(warm.p50, 3)} / ${fixed(warm.p99, 3)}`,
          added: '-',
        },
      ],
      notes: [
        `${context.quick ? 2 : 5} interleaved rounds; latency from ${results.get('embedded')!.latencyMs.flat().length} sequential echo calls per side; ✗ marks a missed target.`,
        `The control plane received ${enforceRequests} enforce requests over ${plane.connections} TLS connections (kept alive; the 1 MB and 10 MB calls send their arguments to the enforcer too).`,
        "The control plane is the test suite's (Node https in the bench process; schema validation off here, the tests validate every request), so part of the added time is the server's own. The machine is shared: compare the columns of one run, not runs.",
      ],
    };
  } finally {
    await plane.close();
    await rm(dir, {recursive: true, force: true});
  }
}

/** The decision round trip alone, once the JIT has warmed up: what each call adds, without thoth run's process around it. */
async function warmDecisions(url: string, caBundle: string, calls: number): Promise<{p50: number; p99: number}> {
  const client = await ControlPlaneClient.create({
    tls: {verify: true, caBundle, pins: [], pinCacheMs: 300_000, requireAwsBacked: false},
    userAgent: 'thoth/bench',
  });
  const remote = new RemoteEnforcer({
    sender: client,
    endpoint: {host: 'enforcer', url, headers: {authorization: new Secret(`Bearer ${API_KEY}`)}},
    timeoutMs: 2000,
    failureDecision: 'block',
    env: 'prod',
    holdBudgetMs: 1000,
    warn: () => undefined,
  });
  const call = {name: 'echo', arguments: {message: 'hello'}, argumentsJson: '{"message":"hello"}'};
  const context = {agentId: 'bench', sessionId: randomUUID(), mode: 'observe' as const, sessionToolCalls: [], endpointId: 'bench'};
  const local = {decision: 'allow' as const, reason: 'local', ruleId: 'local'};
  const samples: number[] = [];
  try {
    for (let i = 0; i < calls; i++) await remote.decide(call, context, local);
    for (let i = 0; i < calls; i++) {
      const started = performance.now();
      await remote.decide(call, context, local);
      samples.push(since(started));
    }
  } finally {
    await client.close();
  }
  return {p50: percentile(samples, 50), p99: percentile(samples, 99)};
}

function rows(embedded: Summary, remote: Summary): Array<Record<string, string | number>> {
  const row = (metric: string, target: string, a: string, b: string, added: string, ok = true) => ({
    metric,
    target,
    embedded: a,
    remote: b,
    added: `${added}${ok ? '' : ' ✗'}`,
  });
  return [
    row(
      'sequential tools/call p50 (ms)',
      'added ≤ 1 ms',
      fixed(embedded.p50Ms, 3),
      fixed(remote.p50Ms, 3),
      `+${fixed(remote.p50Ms - embedded.p50Ms, 3)} ms (${fixed(remote.p50Ms / embedded.p50Ms)}×)`,
      remote.p50Ms - embedded.p50Ms <= 1,
    ),
    row(
      'sequential tools/call p99 (ms)',
      'report',
      fixed(embedded.p99Ms, 3),
      fixed(remote.p99Ms, 3),
      `+${fixed(remote.p99Ms - embedded.p99Ms, 3)} ms`,
    ),
    row(
      'throughput, 64 in flight (calls/s)',
      'report',
      fixed(embedded.throughput, 0),
      fixed(remote.throughput, 0),
      `${fixed(remote.throughput / embedded.throughput)}×`,
    ),
    row(
      'cold start to initialize reply (median ms)',
      'report',
      fixed(embedded.coldStartMedianMs, 0),
      fixed(remote.coldStartMedianMs, 0),
      `+${fixed(remote.coldStartMedianMs - embedded.coldStartMedianMs, 0)} ms`,
    ),
    row(
      '1 MB round trip (median ms)',
      'report',
      fixed(embedded.roundTrip1MbMs, 1),
      fixed(remote.roundTrip1MbMs, 1),
      `+${fixed(remote.roundTrip1MbMs - embedded.roundTrip1MbMs, 1)} ms`,
    ),
    row(
      '10 MB round trip (median ms)',
      'report',
      fixed(embedded.roundTrip10MbMs, 1),
      fixed(remote.roundTrip10MbMs, 1),
      `+${fixed(remote.roundTrip10MbMs - embedded.roundTrip10MbMs, 1)} ms`,
    ),
    row(
      "thoth's CPU per call (µs: sequential / 64 in flight)",
      'report',
      `${fixed(embedded.cpuPerCallSequentialMicros, 0)} / ${fixed(embedded.cpuPerCallConcurrentMicros, 0)}`,
      `${fixed(remote.cpuPerCallSequentialMicros, 0)} / ${fixed(remote.cpuPerCallConcurrentMicros, 0)}`,
      `+${fixed(remote.cpuPerCallSequentialMicros - embedded.cpuPerCallSequentialMicros, 0)} / +${fixed(remote.cpuPerCallConcurrentMicros - embedded.cpuPerCallConcurrentMicros, 0)} µs`,
    ),
    row(
      "peak RSS, small messages (MiB; thoth's own process)",
      'report',
      fixed(embedded.peakRssMiB, 1),
      fixed(remote.peakRssMiB, 1),
      `+${fixed(remote.peakRssMiB - embedded.peakRssMiB, 1)} MiB`,
    ),
  ];
}
