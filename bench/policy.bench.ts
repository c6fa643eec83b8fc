/**
 * Decision time of the embedded enforcer for a policy of 100 rules (target: p99 < 50 µs), against
 * the allow-all enforcer measured in the same run, and with symbolic links not followed (what
 * following them costs); then the end-to-end cost of a real policy:
 * tools/call round trips through `thoth run` with that policy loaded vs straight to the server.
 */
import {mkdtemp, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';

import {Client} from '@modelcontextprotocol/sdk/client/index.js';
import {StdioClientTransport} from '@modelcontextprotocol/sdk/client/stdio.js';

import {AllowAllEnforcer, type DecisionContext, type EnforcementMode, type Enforcer, type ToolCall} from '../src/core/decision.js';
import {BaselineStore} from '../src/policy/baseline-store.js';
import {EmbeddedEnforcer} from '../src/policy/enforcer.js';
import {protectedPaths} from '../src/policy/session.js';
import {builtinPolicy, parsePolicyText} from '../src/policy/load.js';
import type {PolicyDocument, RuleDocument} from '../src/policy/model.js';
import {stringifyJson} from '../src/core/json-rpc.js';
import type {BenchContext, BenchSection} from './main.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** 100 rules of every kind: exact and glob tools, paths, globs, regexes, bounds, nested pointers. */
export function hundredRulePolicy(): PolicyDocument {
  const rules: RuleDocument[] = [];
  for (let i = 0; i < 100; i++) {
    const kind = i % 5;
    if (kind === 0) rules.push({id: `exact-${i}`, tool: `tool_${i}`, decision: 'block', reason: `tool_${i} is retired`});
    else if (kind === 1)
      rules.push({
        id: `paths-${i}`,
        tool: ['read_*', 'write_*'],
        args: {path: {path_glob: [`/srv/data-${i}/**`, `~/secret-${i}/**`]}},
        decision: 'step_up',
      });
    else if (kind === 2)
      rules.push({
        id: `regex-${i}`,
        tool: 'query_*',
        args: {sql: {regex: `^\\s*(DROP|TRUNCATE)\\s+TABLE\\s+t${i}\\b`, ignore_case: true}},
        decision: 'block',
      });
    else if (kind === 3)
      rules.push({id: `bounds-${i}`, tool: `batch_${i % 7}`, args: {'/options/limit': {min: 1000 + i}}, decision: 'step_up'});
    else rules.push({id: `within-${i}`, tool: 'list_*', args: {path: {not: {path_within: [`~/work-${i}`, '/tmp']}}}, decision: 'block'});
  }
  return {
    version: 'bench-100',
    agents: {fs: {approved_scope: ['read_file', 'write_file', 'list_directory', 'query_db', 'echo'], rules: rules.slice(0, 20)}},
    rules: rules.slice(20),
    progressive: {learning_calls: 10, learning_sessions: 1},
  };
}

const CALLS: ToolCall[] = [
  {path: '~/work-4/notes.md'},
  {path: '/srv/data-41/../data-41/x.csv'},
  {sql: 'select * from t12 where id = 1'},
  {message: 'hello'},
  {options: {limit: 5}, path: '/tmp/x'},
].map((args, index) => {
  const name = ['read_file', 'write_file', 'query_db', 'echo', 'list_directory'][index]!;
  return {name, arguments: args, argumentsJson: stringifyJson(args)};
});

/**
 * A text argument of `bytes` (a file's content, a long command): words with paths among them,
 * repeated, and one word in ten distinct, so that a 10 MB text has some hundred thousand of them.
 */
function largeText(bytes: number): string {
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const part = `The build reads ~/work/src/index.ts and ./docs/notes.md; item-${i % 100_000} passes (${i}). `;
    parts.push(part);
    size += part.length;
  }
  return parts.join('');
}

/** The built-in policy deciding a 1 MB and a 10 MB argument: the ratio shows whether scanning stays linear. */
async function largeArgumentRows(home: string, quick: boolean): Promise<BenchSection['rows']> {
  const loaded = builtinPolicy();
  if (!loaded.ok) throw new Error(loaded.failure.message);
  const enforcer = new EmbeddedEnforcer({policy: loaded.policy, protectedPaths: protectedPaths(loaded.policy, home)});
  const context: DecisionContext = {agentId: 'bench-large', sessionId: 'bench', mode: 'block', sessionToolCalls: []};
  const runs = quick ? 3 : 7;
  const medianMs = async (bytes: number): Promise<number> => {
    const args = {path: '~/work/out.txt', content: largeText(bytes)};
    const call: ToolCall = {name: 'write_file', arguments: args, argumentsJson: stringifyJson(args)};
    await enforcer.decide(call, context);
    const samples: number[] = [];
    for (let i = 0; i < runs; i++) {
      const start = process.hrtime.bigint();
      await enforcer.decide(call, context);
      samples.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    return samples.sort((a, b) => a - b)[Math.floor(runs / 2)]!;
  };
  const small = await medianMs(1024 * 1024);
  const large = await medianMs(10 * 1024 * 1024);
  return [
    {measurement: 'built-in policy, one 1 MB text argument (median ms per decision)', 'p50 µs': (small * 1000).toFixed(0)},
    {
      measurement: 'built-in policy, one 10 MB text argument (median ms per decision)',
      'p50 µs': (large * 1000).toFixed(0),
      'p99 vs baseline': `${(large / small).toFixed(1)}x the 1 MB decision (linear: ~10x)`,
    },
  ];
}

interface Stats {
  p50: number;
  p99: number;
  mean: number;
}

async function measure(enforcer: Enforcer, context: DecisionContext, iterations: number, warmup: number): Promise<Stats> {
  for (let i = 0; i < warmup; i++) await enforcer.decide(CALLS[i % CALLS.length]!, context);
  const samples = new Float64Array(iterations);
  for (let i = 0; i < iterations; i++) {
    const call = CALLS[i % CALLS.length]!;
    const start = process.hrtime.bigint();
    await enforcer.decide(call, context);
    samples[i] = Number(process.hrtime.bigint() - start) / 1000;
  }
  samples.sort();
  let sum = 0;
  for (const sample of samples) sum += sample;
  return {p50: samples[Math.floor(iterations * 0.5)]!, p99: samples[Math.floor(iterations * 0.99)]!, mean: sum / iterations};
}

async function roundTrips(flags: string[] | undefined, env: Record<string, string>, count: number): Promise<number[]> {
  const server = [join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js'), 'stdio'];
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: flags === undefined ? server : [join(ROOT, 'bin/run.js'), 'run', ...flags, '--', process.execPath, ...server],
    env: {PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...env},
    stderr: 'ignore',
  });
  const client = new Client({name: 'bench', version: '1'});
  await client.connect(transport);
  try {
    await client.listTools();
    for (let i = 0; i < 20; i++) await client.callTool({name: 'echo', arguments: {message: `warm ${i}`}});
    const samples: number[] = [];
    for (let i = 0; i < count; i++) {
      const start = process.hrtime.bigint();
      await client.callTool({name: 'echo', arguments: {message: `m ${i}`}});
      samples.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    return samples.sort((a, b) => a - b);
  } finally {
    await client.close();
  }
}

export default async function policyBench(context: BenchContext): Promise<BenchSection> {
  const iterations = context.quick ? 20_000 : 200_000;
  const warmup = context.quick ? 5_000 : 50_000;
  const home = await mkdtemp(join(tmpdir(), 'thoth-bench-'));
  try {
    const document = hundredRulePolicy();
    const loaded = await parsePolicyText(JSON.stringify(document), {kind: 'flag', path: join(home, 'policy.json')});
    if (!loaded.ok) throw new Error(loaded.failure.message);
    const policy = loaded.policy;
    const shared = {policy, protectedPaths: protectedPaths(policy, home)};
    const contextFor = (mode: EnforcementMode): DecisionContext => ({agentId: 'fs', sessionId: 'bench', mode, sessionToolCalls: []});

    // An established baseline, so progressive runs its novelty and burst checks.
    const baseline = await BaselineStore.open({home, agentId: 'fs', flushDelayMs: 3_600_000});
    for (let i = 0; i < 20; i++) for (const call of CALLS) baseline.record(call, 1);

    const rows: BenchSection['rows'] = [];
    const allowAll = await measure(new AllowAllEnforcer(), contextFor('block'), iterations, warmup);
    rows.push({
      measurement: 'allow-all enforcer (baseline)',
      'p50 µs': allowAll.p50.toFixed(2),
      'p99 µs': allowAll.p99.toFixed(2),
      'mean µs': allowAll.mean.toFixed(2),
      'p99 vs baseline': '1.0x',
    });
    for (const mode of ['block', 'step_up', 'observe', 'progressive'] as const) {
      const enforcer = new EmbeddedEnforcer({...shared, ...(mode === 'progressive' ? {baseline} : {})});
      const stats = await measure(enforcer, contextFor(mode), iterations, warmup);
      rows.push({
        measurement: `embedded, 100 rules, ${mode} mode`,
        'p50 µs': stats.p50.toFixed(2),
        'p99 µs': stats.p99.toFixed(2),
        'mean µs': stats.mean.toFixed(2),
        'p99 vs baseline': `${(stats.p99 / allowAll.p99).toFixed(1)}x`,
        'p99 < 50 µs': stats.p99 < 50 ? 'yes' : 'NO',
      });
    }
    await rm(baseline.file, {force: true});

    // The same policy with paths compared lexically only: the difference is what following links costs.
    const lexical = await parsePolicyText(
      JSON.stringify(document),
      {kind: 'flag', path: join(home, 'policy.json')},
      {paths: {links: undefined}},
    );
    if (!lexical.ok) throw new Error(lexical.failure.message);
    const lexicalStats = await measure(
      new EmbeddedEnforcer({policy: lexical.policy, protectedPaths: protectedPaths(lexical.policy, home)}),
      contextFor('block'),
      iterations,
      warmup,
    );
    rows.push({
      measurement: 'embedded, 100 rules, block mode, links not followed (lexical only)',
      'p50 µs': lexicalStats.p50.toFixed(2),
      'p99 µs': lexicalStats.p99.toFixed(2),
      'mean µs': lexicalStats.mean.toFixed(2),
      'p99 vs baseline': `${(lexicalStats.p99 / allowAll.p99).toFixed(1)}x`,
      'p99 < 50 µs': lexicalStats.p99 < 50 ? 'yes' : 'NO',
    });

    rows.push(...(await largeArgumentRows(home, context.quick)));

    const trips = context.quick ? 50 : 400;
    const policyFile = join(home, 'bench-policy.json');
    await writeFile(policyFile, JSON.stringify(document));
    const direct = await roundTrips(undefined, {}, trips);
    const builtin = await roundTrips(['--agent-id', 'fs'], {THOTH_HOME: home}, trips);
    const governed = await roundTrips(
      ['--agent-id', 'fs', '--enforcement-mode', 'block', '--policy', policyFile],
      {THOTH_HOME: home},
      trips,
    );
    const at = (samples: number[], q: number) => samples[Math.min(samples.length - 1, Math.floor(samples.length * q))]!;
    rows.push({
      measurement: 'tools/call round trip, direct to server-everything',
      'p50 µs': (at(direct, 0.5) * 1000).toFixed(0),
      'p99 µs': (at(direct, 0.99) * 1000).toFixed(0),
    });
    rows.push({
      measurement: 'tools/call round trip through thoth run, built-in policy (progressive)',
      'p50 µs': (at(builtin, 0.5) * 1000).toFixed(0),
      'p99 µs': (at(builtin, 0.99) * 1000).toFixed(0),
      'p99 vs baseline': `p50 ${(at(builtin, 0.5) / at(direct, 0.5)).toFixed(2)}x, p99 ${(at(builtin, 0.99) / at(direct, 0.99)).toFixed(2)}x of direct`,
    });
    rows.push({
      measurement: 'tools/call round trip through thoth run, 100-rule policy',
      'p50 µs': (at(governed, 0.5) * 1000).toFixed(0),
      'p99 µs': (at(governed, 0.99) * 1000).toFixed(0),
      'p99 vs baseline': `p50 ${(at(governed, 0.5) / at(direct, 0.5)).toFixed(2)}x, p99 ${(at(governed, 0.99) / at(direct, 0.99)).toFixed(2)}x of direct`,
    });
    return {
      title: 'Embedded enforcer: decision time with a 100-rule policy',
      rows,
      notes: [
        `${iterations} decisions per row after ${warmup} warm-up, timed one by one with process.hrtime.bigint, awaited as the Governor awaits them; calls cycle through ${CALLS.length} shapes (path tricks, SQL regexes, nested bounds).`,
        'Symbolic links of path arguments are followed on the real file system in every row but the "lexical only" one (its paths mostly do not exist: an existence probe per name, a binary search for the existing prefix).',
        "Large arguments: the built-in policy (credential paths and thoth's own files) deciding a write_file whose content is 1 MB or 10 MB of text with paths among its words; every word is a reading, distinct words are read once.",
        `Round trips: ${trips} sequential echo calls after 20 warm-up calls, official SDK client; thoth run with the same 100-rule policy in block mode (no audit sink).`,
      ],
    };
  } finally {
    await rm(home, {recursive: true, force: true});
  }
}
