/**
 * The SDK (`thoth-mcp/sdk`): what governing a tool function adds to each call with the 100-rule
 * policy of policy.bench.ts (target: at most 50 µs at p99), measured against the same function
 * ungoverned, interleaved call by call; and what importing the SDK costs a program (target: at
 * most 60 ms), `node -e "await import('thoth-mcp/sdk')"` against `node -e 0`, interleaved run by
 * run, medians.
 */
import {spawnSync} from 'node:child_process';
import {mkdtemp, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';

import type {Enforcer} from '../src/core/decision.js';
import type {BenchContext, BenchSection} from './main.js';
import {fixed, median, percentile} from './lib/stats.js';
import {hundredRulePolicy} from './policy.bench.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * The call shapes of policy.bench.ts (path tricks, SQL regexes, nested bounds), each decided
 * against every rule and allowed, so that the function runs: its write goes to a directory no
 * rule names (policy.bench.ts's write steps up, which here would file an approval request).
 */
const CALLS: Array<[name: string, args: Record<string, unknown>]> = [
  ['read_file', {path: '~/work-4/notes.md'}],
  ['write_file', {path: '/srv/data-x/../data-y/x.csv'}],
  ['query_db', {sql: 'select * from t12 where id = 1'}],
  ['echo', {message: 'hello'}],
  ['list_directory', {options: {limit: 5}, path: '/tmp/x'}],
];

const built = (path: string): string => new URL(`../dist/${path}`, import.meta.url).href;

type Tool = (args: Record<string, unknown>) => Promise<unknown>;

interface Overhead {
  raw: number[];
  enforcer: number[];
  governed: number[];
}

/**
 * Each round: the ungoverned function, the embedded enforcer alone deciding the same call (what
 * policy.bench.ts measures), then the governed function; microseconds.
 */
async function interleaved(
  raw: Tool,
  enforcer: Enforcer,
  governed: Record<string, Tool>,
  iterations: number,
  warmup: number,
): Promise<Overhead> {
  const samples: Overhead = {raw: [], enforcer: [], governed: []};
  const context = {agentId: 'fs', sessionId: 'bench', mode: 'block' as const, sessionToolCalls: []};
  const calls = CALLS.map(([name, args]) => ({name, arguments: args, argumentsJson: JSON.stringify(args)}));
  for (let i = 0; i < warmup + iterations; i++) {
    const [name, args] = CALLS[i % CALLS.length]!;
    let start = process.hrtime.bigint();
    await raw(args);
    const rawUs = Number(process.hrtime.bigint() - start) / 1000;
    start = process.hrtime.bigint();
    await enforcer.decide(calls[i % calls.length]!, context);
    const enforcerUs = Number(process.hrtime.bigint() - start) / 1000;
    start = process.hrtime.bigint();
    await governed[name]!(args);
    const governedUs = Number(process.hrtime.bigint() - start) / 1000;
    if (i < warmup) continue;
    samples.raw.push(rawUs);
    samples.enforcer.push(enforcerUs);
    samples.governed.push(governedUs);
  }
  return samples;
}

/**
 * CPU time (utime + stime of this process) per call, direct and governed, in alternating blocks:
 * unlike wall-clock percentiles, it does not count the time another process had the core.
 */
async function cpuPerCall(raw: Tool, governed: Record<string, Tool>, blocks: number): Promise<{raw: number; governed: number}> {
  const BLOCK = 1000;
  const used = {raw: 0, governed: 0};
  const cpu = (): number => {
    const usage = process.cpuUsage();
    return usage.user + usage.system;
  };
  for (let block = 0; block < blocks; block++) {
    let start = cpu();
    for (let i = 0; i < BLOCK; i++) await raw(CALLS[i % CALLS.length]![1]);
    used.raw += cpu() - start;
    start = cpu();
    for (let i = 0; i < BLOCK; i++) {
      const [name, args] = CALLS[i % CALLS.length]!;
      await governed[name]!(args);
    }
    used.governed += cpu() - start;
  }
  return {raw: used.raw / (blocks * BLOCK), governed: used.governed / (blocks * BLOCK)};
}

async function overheadRows(home: string, context: BenchContext): Promise<BenchSection['rows']> {
  const iterations = context.quick ? 5_000 : 100_000;
  const warmup = context.quick ? 2_000 : 20_000;
  const raw: Tool = async (args) => args;
  const fns = Object.fromEntries(CALLS.map(([name]) => [name, raw]));
  const rows: BenchSection['rows'] = [];
  // The built code (dist/, what a program importing thoth-mcp/sdk runs), not the sources as tsx
  // transpiles them: tsx keeps function names with a helper call per closure created, which
  // costs the policy engine a quarter of its time.
  const {parsePolicyText} = (await import(built('policy/load.js'))) as typeof import('../src/policy/load.js');
  const {EmbeddedEnforcer} = (await import(built('policy/enforcer.js'))) as typeof import('../src/policy/enforcer.js');
  const {protectedPaths} = (await import(built('policy/session.js'))) as typeof import('../src/policy/session.js');
  const {instrument, sessionOf} = (await import(built('sdk/index.js'))) as typeof import('../src/sdk/index.js');
  const loaded = await parsePolicyText(JSON.stringify(hundredRulePolicy()), {kind: 'flag', path: join(home, 'policy.json')});
  if (!loaded.ok) throw new Error(loaded.failure.message);
  const enforcer = new EmbeddedEnforcer({policy: loaded.policy, protectedPaths: protectedPaths(loaded.policy, home)});
  for (const audit of ['off', 'on'] as const) {
    const tools = instrument(fns, {
      agentId: 'fs',
      policy: hundredRulePolicy(),
      enforcement: 'block',
      env: {THOTH_HOME: join(home, audit), HOME: home, ...(audit === 'off' ? {THOTH_AUDIT: 'off'} : {})},
      onWarning: () => undefined,
    });
    const info = await sessionOf(tools)!.ready();
    if (info.mode !== 'block') throw new Error(`expected block mode, got ${info.mode}`);
    const measured = await interleaved(raw, enforcer, tools, audit === 'off' ? iterations : Math.floor(iterations / 4), warmup);
    const cpu = await cpuPerCall(raw, tools, context.quick ? 5 : audit === 'off' ? 40 : 10);
    await sessionOf(tools)!.close();
    const p = (samples: number[], q: number) => percentile(samples, q);
    const addedP99 = p(measured.governed, 99) - p(measured.raw, 99);
    rows.push({
      measurement:
        audit === 'off'
          ? 'governed call (µs), 100-rule policy, block mode, audit trail off (the decision)'
          : 'governed call (µs), 100-rule policy, block mode, audit trail on (defaults)',
      'direct p50 / p99': `${fixed(p(measured.raw, 50))} / ${fixed(p(measured.raw, 99))}`,
      'enforcer alone p50 / p99': `${fixed(p(measured.enforcer, 50))} / ${fixed(p(measured.enforcer, 99))}`,
      'governed p50 / p99': `${fixed(p(measured.governed, 50))} / ${fixed(p(measured.governed, 99))}`,
      'added p50': fixed(p(measured.governed, 50) - p(measured.raw, 50)),
      'added p99': fixed(addedP99),
      target: audit === 'off' ? (addedP99 <= 50 ? '≤ 50 µs: yes' : '≤ 50 µs: NO') : 'report',
    });
    rows.push({
      measurement: `  the same, CPU per call (µs, utime+stime in alternating blocks of 1000 calls)`,
      'direct p50 / p99': `${fixed(cpu.raw)} (mean)`,
      'governed p50 / p99': `${fixed(cpu.governed)} (mean)`,
      'added p50': `${fixed(cpu.governed - cpu.raw)} (mean)`,
      target: 'report',
    });
  }
  return rows;
}

/** A fresh node process: wall time until it exits, milliseconds. */
function nodeRunMs(args: string[]): number {
  const start = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, {
    cwd: ROOT,
    stdio: 'ignore',
    env: {PATH: process.env['PATH'], HOME: process.env['HOME']},
  });
  if (result.status !== 0) throw new Error(`node ${args.join(' ')} exited with ${result.status ?? result.signal}`);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function importRows(context: BenchContext): BenchSection['rows'] {
  const runs = context.quick ? 10 : 40;
  const bare: number[] = [];
  const bareModule: number[] = [];
  const withSdk: number[] = [];
  const importSdk = ['--input-type=module', '-e', "await import('thoth-mcp/sdk')"];
  nodeRunMs(importSdk); // warm the file cache
  for (let i = 0; i < runs; i++) {
    bare.push(nodeRunMs(['-e', '0']));
    bareModule.push(nodeRunMs(['--input-type=module', '-e', '0']));
    withSdk.push(nodeRunMs(importSdk));
  }
  const added = median(withSdk) - median(bare);
  return [
    {
      measurement: `import cost (ms, median of ${runs}): node -e "await import('thoth-mcp/sdk')" vs node -e 0`,
      'direct p50 / p99': fixed(median(bare), 1),
      'governed p50 / p99': fixed(median(withSdk), 1),
      'added p50': fixed(added, 1),
      target: added <= 60 ? '≤ 60 ms: yes' : '≤ 60 ms: NO',
    },
    {
      measurement: `the same vs node --input-type=module -e 0 (the ES module loader's own start-up taken out)`,
      'direct p50 / p99': fixed(median(bareModule), 1),
      'governed p50 / p99': fixed(median(withSdk), 1),
      'added p50': fixed(median(withSdk) - median(bareModule), 1),
      target: 'report',
    },
  ];
}

export default async function sdkBench(context: BenchContext): Promise<BenchSection> {
  const home = await mkdtemp(join(tmpdir(), 'thoth-bench-sdk-'));
  try {
    const rows = [...(await overheadRows(home, context)), ...importRows(context)];
    return {
      title: 'SDK: governed tool functions (decision overhead) and import cost',
      rows,
      notes: [
        'Overhead: an async function that returns its arguments, called directly and through instrument() in alternation (with the embedded enforcer alone deciding the same call in between, for reference), calls cycling through the five shapes of policy.bench.ts; "added" is the governed percentile minus the direct one. With the trail on, every call also awaits its TOOL_CALL_PRE write (fsync batched).',
        "Import: the built package (dist/), resolved through the exports map from the repository root; a fresh process per run, the three commands alternating. Top-level await in `-e` needs --input-type=module on Node 20, so the second row takes the module loader's own start-up out.",
      ],
    };
  } finally {
    await rm(home, {recursive: true, force: true});
  }
}
