/**
 * `thoth server` under a fleet's load, on PostgreSQL: N simulated endpoints (default 5,000)
 * checking in at the contract's interval (60 s, THOTH_ENDPOINT_CHECKIN_INTERVAL_SEC's default),
 * 200 enforce calls/s and 2,000 shipped events/s (batches of 50, each chain's batches in order,
 * every record linked so the server anchors it), open loop, against one instance, then against
 * two instances sharing the database and the load. Every request's answer is checked (status 200
 * and the route's expected shape: a check-in's receipt, an allow/block decision, every event of a
 * batch accepted); failures are counted, never timed as successes. Reports p50/p99 per route, the
 * rate achieved, and each instance's CPU (utime+stime from /proc) and RSS (peak VmRSS).
 *
 * BENCH_SERVER_SECONDS (default 60, 10 with BENCH_QUICK=1) per phase; BENCH_SERVER_ENDPOINTS
 * (default 5000, 500 quick). Needs PostgreSQL's initdb/pg_ctl (see test/server/postgres.ts).
 */
import {readFileSync, readdirSync} from 'node:fs';
import {mkdtemp, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {Agent, fetch} from 'undici';

import {EventIdGenerator} from '../src/audit/event-id.js';
import {genesisHash} from '../src/audit/record.js';
import {canonicalJson, sha256Hex} from '../src/core/canonical-json.js';
import {admin, createTenant, startServerProcess, type ServerProcess} from '../test/server/helpers.js';
import {POSTGRES_BIN, startPostgres} from '../test/server/postgres.js';
import type {BenchContext, BenchSection} from './main.js';
import {fixed, percentile} from './lib/stats.js';

const CHECKIN_INTERVAL_S = 60;
const ENFORCE_PER_S = 200;
const EVENTS_PER_S = 2000;
const BATCH = 50;
const CHAINS = 400;
const MAX_IN_FLIGHT = 4000;
const CLK_TCK = 100;

type Route = 'checkin' | 'enforce' | 'events';

interface Target {
  server: ServerProcess;
  agent: Agent;
}

interface PhaseResult {
  name: string;
  seconds: number;
  latencies: Record<Route, number[]>;
  failures: Record<Route, number>;
  firstFailure: Partial<Record<Route, string>>;
  dropped: number;
  instances: Array<{cpuPercent: number; peakRssMiB: number}>;
  postgresCpuPercent: number;
  machineBusyPercent: number;
  generatorCpuPercent: number;
}

const POLICY = {
  version: 'bench-1',
  rules: [
    {id: 'no-sums', tool: 'get-sum', decision: 'block', reason: 'bench: blocked centrally'},
    {id: 'read', tool: 'read_file', decision: 'allow'},
  ],
};

export default async function serverLoadBench(context: BenchContext): Promise<BenchSection> {
  const title = 'thoth server under fleet load on PostgreSQL (server-load.bench.ts)';
  if (POSTGRES_BIN === undefined) return {title, rows: [], notes: ['skipped: PostgreSQL binaries (initdb, pg_ctl) not found']};
  const seconds = Number(process.env['BENCH_SERVER_SECONDS'] ?? (context.quick ? 10 : 60));
  const endpoints = Number(process.env['BENCH_SERVER_ENDPOINTS'] ?? (context.quick ? 500 : 5000));
  const postgres = await startPostgres();
  const dirs = [await mkdtemp(join(tmpdir(), 'thoth-bench-server-')), await mkdtemp(join(tmpdir(), 'thoth-bench-server-'))];
  const servers: ServerProcess[] = [];
  try {
    // The per-key limit (default 1000/s) is for one endpoint gone wild; here one key carries the whole fleet.
    const start = (dir: string) => startServerProcess(dir, {databaseUrl: postgres.url, extraArgs: ['--rate-limit', '5000']});
    servers.push(await start(dirs[0]!));
    const {apiKey} = await createTenant(servers[0]!, 'acme');
    const uploaded = await admin(servers[0]!, 'PUT', '/tenants/acme/policy', {source: JSON.stringify(POLICY)});
    if (uploaded.status !== 200) throw new Error(`policy upload failed: ${uploaded.text}`);
    const first: Target = {server: servers[0]!, agent: agentFor(servers[0]!)};
    const fleet = new Fleet(apiKey, endpoints, Number(new URL(postgres.url).port));
    const enrolled = await fleet.register([first]);

    const one = await runPhase('1 instance', [first], fleet, seconds);
    servers.push(await start(dirs[1]!));
    const second: Target = {server: servers[1]!, agent: agentFor(servers[1]!)};
    const two = await runPhase('2 instances', [first, second], fleet, seconds);
    // The same single-instance load again, after the two-instance phase: tells the second
    // instance's effect apart from a database that grew and a machine whose load changed.
    const again = await runPhase('1 instance, again', [first], fleet, seconds);
    const violations = ((await admin(servers[0]!, 'GET', '/violations')).body.violations as unknown[]).length;
    const stored = await admin(servers[0]!, 'GET', '/events?limit=1&type=TOOL_CALL_PRE');
    if (stored.status !== 200 || stored.body.events.length !== 1) throw new Error('the shipped events were not stored');
    await first.agent.close();
    await second.agent.close();

    return {
      title,
      rows: [...rowsOf(one), ...rowsOf(two), ...rowsOf(again)],
      notes: [
        `${endpoints} endpoints registered in ${fixed(enrolled.seconds, 1)} s (${fixed(endpoints / enrolled.seconds, 0)}/s, 32 in flight); each phase ${seconds} s, open loop: check-ins ${fixed(endpoints / CHECKIN_INTERVAL_S, 1)}/s (every endpoint every ${CHECKIN_INTERVAL_S} s), enforce ${ENFORCE_PER_S}/s, events ${EVENTS_PER_S}/s in batches of ${BATCH} over ${CHAINS} chains.`,
        `Audit anchoring after the three phases: ${violations} violation(s) (every batch links to the previous one, so 0 is expected).`,
        `CPU is the instance process's utime+stime over the phase (100 % = one core); PostgreSQL and the load generator run on the same 2 cores.`,
      ],
    };
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
    postgres.stop();
    for (const dir of dirs) await rm(dir, {recursive: true, force: true});
  }
}

function agentFor(server: ServerProcess): Agent {
  return new Agent({connect: {ca: server.caPem}, connections: 64, keepAliveTimeout: 30_000});
}

/** The simulated fleet: endpoint ids, their check-in sequence, and the audit chains they ship. */
class Fleet {
  readonly ids: string[];
  private readonly sequences: number[];
  readonly chains: Array<{endpoint: string; chain: string; seq: number; head: string; busy: boolean}>;
  private readonly eventIds = new EventIdGenerator();

  constructor(
    readonly apiKey: string,
    count: number,
    readonly postgresPort: number,
  ) {
    this.ids = Array.from({length: count}, (_, i) => `bench-ep-${String(i).padStart(5, '0')}`);
    this.sequences = this.ids.map(() => 0);
    this.chains = Array.from({length: CHAINS}, (_, i) => {
      const chain = this.eventIds.next();
      return {endpoint: this.ids[i % count]!, chain, seq: 0, head: genesisHash(chain), busy: false};
    });
  }

  async register(targets: Target[]): Promise<{seconds: number}> {
    const started = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < this.ids.length) {
        const index = next++;
        const answer = await post(targets[index % targets.length]!, this.apiKey, '/v1/endpoints/register', {
          endpointId: this.ids[index],
          identitySource: 'endpoint-id',
          tenantId: 'acme',
          fleetId: null,
          hostname: `host-${index}`,
          os: {platform: 'linux', release: '6.1', arch: 'x64'},
          thothVersion: index % 10 === 0 ? '0.1.0' : '0.2.0',
          enrollmentSource: 'manual',
          userId: `user${index}@acme.test`,
          governedServers: {governed: 3, notGoverned: 0, drift: index % 50 === 0 ? 1 : 0, ungovernable: 0, clients: 2},
          sentAt: new Date().toISOString(),
        });
        if (answer.status !== 200 || (answer.body as {status?: string}).status !== 'enrolled')
          throw new Error(`register failed: ${answer.status} ${answer.text.slice(0, 200)}`);
      }
    };
    await Promise.all(Array.from({length: 32}, worker));
    return {seconds: (performance.now() - started) / 1000};
  }

  checkin(index: number): Record<string, unknown> {
    return {
      endpointId: this.ids[index],
      tenantId: 'acme',
      fleetId: null,
      thothVersion: index % 10 === 0 ? '0.1.0' : '0.2.0',
      sequence: ++this.sequences[index]!,
      sentAt: new Date().toISOString(),
      governedServers: {governed: 3, notGoverned: 0, drift: index % 50 === 0 ? 1 : 0, ungovernable: 0, clients: 2},
    };
  }

  enforce(index: number, n: number): Record<string, unknown> {
    const blocked = n % 4 === 0;
    const args = blocked ? {a: n, b: 2} : {path: `/home/user/project/file-${n}.txt`};
    return {
      requestId: this.eventIds.next(),
      tenantId: 'acme',
      endpointId: this.ids[index],
      userId: `user${index}@acme.test`,
      agentId: 'bench-agent',
      sessionId: `00000000-0000-4000-8000-${index.toString(16).padStart(12, '0')}`,
      mode: 'progressive',
      intent: null,
      tool: blocked ? 'get-sum' : 'read_file',
      arguments: args,
      argumentsSha256: sha256Hex(canonicalJson(args)),
      sessionToolCalls: ['read_file'],
      client: {name: 'bench', version: '1'},
      local: {decision: 'allow', ruleId: 'default'},
      sentAt: new Date().toISOString(),
    };
  }

  /** A batch of linked records of a chain that has no batch in flight (undefined when all are busy). */
  batch(): {body: Record<string, unknown>; chain: Fleet['chains'][number]} | undefined {
    const chain = this.chains.find((candidate) => !candidate.busy);
    if (!chain) return undefined;
    // Rotate: the next batch goes to another chain.
    this.chains.push(...this.chains.splice(this.chains.indexOf(chain), 1));
    chain.busy = true;
    const events = [];
    for (let i = 0; i < BATCH; i++) {
      const event = {
        eventId: this.eventIds.next(),
        type: 'TOOL_CALL_PRE',
        timestamp: new Date().toISOString(),
        sourceType: 'thoth_proxy',
        agentId: 'bench-agent',
        sessionId: chain.chain,
        mode: 'progressive',
        toolName: 'read_file',
        decision: 'allow',
        ruleId: 'rule:read',
        content: `{"path":"/home/user/project/file-${chain.seq}.txt"}`,
        contentSha256: sha256Hex(String(chain.seq)),
      };
      const line = JSON.stringify({seq: chain.seq, prev: chain.head, event});
      const hash = sha256Hex(line);
      events.push({chain: chain.chain, seq: chain.seq, event, prev: chain.head, hash});
      chain.head = hash;
      chain.seq++;
    }
    return {
      chain,
      body: {batchId: this.eventIds.next(), endpointId: chain.endpoint, tenantId: 'acme', sentAt: new Date().toISOString(), events},
    };
  }
}

async function post(target: Target, apiKey: string, path: string, body: unknown): Promise<{status: number; body: unknown; text: string}> {
  const response = await fetch(`${target.server.url}${path}`, {
    method: 'POST',
    dispatcher: target.agent,
    headers: {'content-type': 'application/json', authorization: `Bearer ${apiKey}`},
    body: JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return {status: response.status, body: parsed, text};
}

/** Why an answer is not the success the route promises (undefined: it is). */
function problemWith(route: Route, answer: {status: number; body: unknown; text: string}, sent?: number): string | undefined {
  if (answer.status !== 200) return `${answer.status} ${answer.text.slice(0, 160)}`;
  const body = answer.body as Record<string, unknown> | undefined;
  if (route === 'checkin' && typeof body?.['receivedAt'] !== 'string') return `no receivedAt: ${answer.text.slice(0, 160)}`;
  if (route === 'enforce' && body?.['decision'] !== 'allow' && body?.['decision'] !== 'block')
    return `decision ${String(body?.['decision'])}`;
  if (route === 'events' && (body?.['accepted'] !== sent || (body?.['rejected'] as unknown[] | undefined)?.length !== 0))
    return `accepted ${String(body?.['accepted'])} of ${sent}`;
  return undefined;
}

async function runPhase(name: string, targets: Target[], fleet: Fleet, seconds: number): Promise<PhaseResult> {
  const latencies: Record<Route, number[]> = {checkin: [], enforce: [], events: []};
  const failures: Record<Route, number> = {checkin: 0, enforce: 0, events: 0};
  const firstFailure: PhaseResult['firstFailure'] = {};
  const sent: Record<Route, number> = {checkin: 0, enforce: 0, events: 0};
  const rates: Record<Route, number> = {
    checkin: fleet.ids.length / CHECKIN_INTERVAL_S,
    enforce: ENFORCE_PER_S,
    events: EVENTS_PER_S / BATCH,
  };
  let inFlight = 0;
  let dropped = 0;
  const pending = new Set<Promise<void>>();
  const cpuBefore = targets.map((target) => processCpuTicks(target.server.child.pid!));
  const postgresBefore = postgresTicks(fleet.postgresPort);
  const machineBefore = machineTicks();
  const generatorBefore = process.cpuUsage();
  const peakRss = targets.map(() => 0);
  const sampler = setInterval(
    () => targets.forEach((target, i) => (peakRss[i] = Math.max(peakRss[i]!, rssMiB(target.server.child.pid!)))),
    500,
  );

  const issue = (route: Route, n: number) => {
    if (inFlight >= MAX_IN_FLIGHT) {
      dropped++;
      return;
    }
    const target = targets[n % targets.length]!;
    let path: string;
    let body: unknown;
    let events = 0;
    let chain: Fleet['chains'][number] | undefined;
    if (route === 'checkin') {
      path = '/v1/endpoints/checkin';
      body = fleet.checkin(n % fleet.ids.length);
    } else if (route === 'enforce') {
      path = '/v1/enforce';
      body = fleet.enforce((n * 7919) % fleet.ids.length, n);
    } else {
      const batch = fleet.batch();
      if (!batch) {
        dropped++;
        return;
      }
      path = '/v1/events/batch';
      body = batch.body;
      chain = batch.chain;
      events = BATCH;
    }
    inFlight++;
    const started = performance.now();
    const request = post(target, fleet.apiKey, path, body)
      .then((answer) => {
        const problem = problemWith(route, answer, events);
        if (problem === undefined) latencies[route].push(performance.now() - started);
        else {
          failures[route]++;
          firstFailure[route] ??= problem;
        }
      })
      .catch((error: unknown) => {
        failures[route]++;
        firstFailure[route] ??= String(error);
      })
      .finally(() => {
        inFlight--;
        if (chain) chain.busy = false;
        pending.delete(request);
      });
    pending.add(request);
  };

  const startedAt = performance.now();
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const elapsed = (performance.now() - startedAt) / 1000;
      if (elapsed >= seconds) {
        clearInterval(tick);
        resolve();
        return;
      }
      for (const route of ['checkin', 'enforce', 'events'] as const) {
        const due = Math.floor(elapsed * rates[route]);
        while (sent[route] < due) issue(route, sent[route]++);
      }
    }, 10);
  });
  await Promise.all(pending);
  const wall = (performance.now() - startedAt) / 1000;
  clearInterval(sampler);
  const machineAfter = machineTicks();
  const generator = process.cpuUsage(generatorBefore);
  return {
    name,
    seconds: wall,
    latencies,
    failures,
    firstFailure,
    dropped,
    instances: targets.map((target, i) => ({
      cpuPercent: ((processCpuTicks(target.server.child.pid!) - cpuBefore[i]!) / CLK_TCK / wall) * 100,
      peakRssMiB: Math.max(peakRss[i]!, rssMiB(target.server.child.pid!)),
    })),
    postgresCpuPercent: ((postgresTicks(fleet.postgresPort) - postgresBefore) / CLK_TCK / wall) * 100,
    machineBusyPercent: ((machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total)) * 100,
    generatorCpuPercent: ((generator.user + generator.system) / 1e6 / wall) * 100,
  };
}

function rowsOf(result: PhaseResult): Array<Record<string, string | number>> {
  const routes: Array<[Route, string]> = [
    ['checkin', 'POST /v1/endpoints/checkin'],
    ['enforce', 'POST /v1/enforce'],
    ['events', `POST /v1/events/batch (${BATCH} events)`],
  ];
  const rows: Array<Record<string, string | number>> = routes.map(([route, label]) => ({
    phase: result.name,
    route: label,
    'ok/s': fixed(result.latencies[route].length / result.seconds, 1),
    failed: result.failures[route] + (result.firstFailure[route] ? ` (${result.firstFailure[route]})` : ''),
    'p50 ms': fixed(percentile(result.latencies[route], 50)),
    'p99 ms': fixed(percentile(result.latencies[route], 99)),
  }));
  rows.push({
    phase: result.name,
    route: 'server process(es)',
    'ok/s': `events ${fixed((result.latencies.events.length * BATCH) / result.seconds, 0)}/s`,
    failed: result.dropped > 0 ? `${result.dropped} not sent (generator saturated)` : 0,
    'p50 ms': `CPU ${result.instances.map((instance) => `${fixed(instance.cpuPercent, 0)} %`).join(' + ')}`,
    'p99 ms': `RSS ${result.instances.map((instance) => `${fixed(instance.peakRssMiB, 0)} MiB`).join(' + ')}; PostgreSQL CPU ${fixed(result.postgresCpuPercent, 0)} %, load generator ${fixed(result.generatorCpuPercent, 0)} %, machine ${fixed(result.machineBusyPercent, 0)} % busy (of 2 cores)`,
  });
  return rows;
}

function processCpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the command: state is field 3, utime field 14 and stime field 15 (1-based in proc(5)).
  return Number(fields[11]) + Number(fields[12]);
}

/**
 * PostgreSQL's CPU: the postmaster listening on `port` (with what its exited children used) and
 * its live children (the backends of the instances' pools, the background workers).
 */
function postgresTicks(port: number): number {
  const pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  const stats = new Map<string, string[]>();
  let postmaster: string | undefined;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      stats.set(pid, stat.slice(stat.lastIndexOf(')') + 2).split(' '));
      if (postmaster === undefined && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`-p\0${port}`)) postmaster = pid;
      else if (postmaster === undefined && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`-p ${port}`)) postmaster = pid;
    } catch {
      // Gone meanwhile.
    }
  }
  if (postmaster === undefined) return 0;
  let ticks = 0;
  for (const [pid, fields] of stats) {
    if (pid === postmaster) ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    else if (fields[1] === postmaster) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks;
}

function rssMiB(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

function machineTicks(): {busy: number; total: number} {
  const [, ...values] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const numbers = values.map(Number);
  const idle = (numbers[3] ?? 0) + (numbers[4] ?? 0);
  const total = numbers.reduce((sum, value) => sum + value, 0);
  return {busy: total - idle, total};
}
