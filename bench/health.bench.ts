/**
 * `thoth health` on an endpoint with an old, large audit trail (it runs at every Jamf inventory
 * update): the bounded audit check (registry + newest chains within 50 chains / 32 MiB) against a
 * full `thoth audit verify` of the same trail, and `thoth health --json` end to end against
 * `thoth config show --json` (process start-up plus the settings resolver) as the baseline.
 */
import {randomBytes} from 'node:crypto';
import {mkdir, mkdtemp, readdir, rm, stat} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {verifyAudit} from '../src/audit/api.js';
import {HEALTH_AUDIT_BOUND, verifyRecentAudit} from '../src/audit/bounded-verify.js';
import {loadOrCreateKey} from '../src/audit/key.js';
import {AUDIT_DEFAULTS} from '../src/settings/audit-defaults.js';
import {FileAuditSink} from '../src/audit/sink.js';
import {runThoth} from '../test/helpers/cli.js';
import type {BenchContext, BenchSection} from './main.js';

const decision = {decision: 'allow' as const, reason: 'in the approved scope', ruleId: 'scope:files'};

async function writeTrail(profile: string, chains: number, calls: number): Promise<void> {
  const dir = join(profile, 'audit');
  const keyFile = join(profile, 'audit_hmac_key.json');
  const key = await loadOrCreateKey(keyFile);
  const start = Date.parse('2026-01-01T00:00:00Z');
  for (let c = 0; c < chains; c++) {
    const at = start + c * 3_600_000;
    const context = {agentId: `server-${c % 7}`, sessionId: randomBytes(8).toString('hex'), mode: 'block' as const, sessionToolCalls: []};
    const sink = new FileAuditSink({settings: {dir, keyFile, ...AUDIT_DEFAULTS, enabled: true}, context, key, clock: () => at});
    for (let i = 0; i < calls; i++) {
      const args = {path: `/srv/data/report-${i}.csv`, encoding: 'utf8'};
      const call = {name: 'read_file', arguments: args, argumentsJson: JSON.stringify(args)};
      const preEventId = await sink.toolCallPre({call, context, decision, requestId: String(i)});
      sink.toolCallPost({
        call,
        context,
        decision,
        requestId: String(i),
        preEventId,
        outcome: {kind: 'result', resultJson: Buffer.from(`{"content":[{"type":"text","text":"row ${i}"}]}`)},
        durationMs: 1,
      });
    }
    await sink.close();
  }
}

async function bytesOf(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir)) total += (await stat(join(dir, name))).size;
  return total;
}

async function median(runs: number, work: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await work();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export default async function bench(context: BenchContext): Promise<BenchSection> {
  const chains = context.quick ? 12 : 120;
  const calls = context.quick ? 50 : 400;
  const runs = context.quick ? 1 : 3;
  const home = await mkdtemp(join(tmpdir(), 'thoth-bench-health-'));
  const profile = join(home, '.thoth');
  await mkdir(profile, {recursive: true});
  try {
    await writeTrail(profile, chains, calls);
    const dir = join(profile, 'audit');
    const keyFile = join(profile, 'audit_hmac_key.json');
    const trailBytes = await bytesOf(dir);

    const full = await median(runs, () => verifyAudit(undefined, {dir, keyFile}));
    let covered = 0;
    const bounded = await median(runs, async () => {
      const result = await verifyRecentAudit({dir, keyFile}, HEALTH_AUDIT_BOUND);
      covered = result.empty ? 0 : result.checkedChains;
    });
    const env = {HOME: home, THOTH_HOME: profile};
    const baseline = await median(runs, () => runThoth(['config', 'show', '--json'], {env}));
    const health = await median(runs, async () => {
      const run = await runThoth(['health', '--json'], {env, timeoutMs: 120_000});
      if (run.code !== 0) throw new Error(`thoth health exited ${run.code}: ${run.stdout.slice(0, 400)}`);
    });
    const mib = (bytes: number) => (bytes / (1024 * 1024)).toFixed(1);
    return {
      title: `thoth health with a large audit trail (${chains} chains, ${mib(trailBytes)} MiB)`,
      rows: [
        {measure: 'full verify (thoth audit verify)', 'median ms': full.toFixed(0), chains, ratio: '1.00'},
        {
          measure: `bounded verify (health: ${HEALTH_AUDIT_BOUND.maxChains} chains / ${mib(HEALTH_AUDIT_BOUND.maxBytes)} MiB)`,
          'median ms': bounded.toFixed(0),
          chains: covered,
          ratio: (bounded / full).toFixed(2),
        },
        {measure: 'thoth config show --json (process baseline)', 'median ms': baseline.toFixed(0), chains: '', ratio: '1.00'},
        {measure: 'thoth health --json', 'median ms': health.toFixed(0), chains: '', ratio: (health / baseline).toFixed(2)},
      ],
      notes: [
        'Bounded verify ratio is against the full verify; `thoth health` ratio against `thoth config show` (same process start-up and settings resolution).',
      ],
    };
  } finally {
    await rm(home, {recursive: true, force: true});
  }
}
