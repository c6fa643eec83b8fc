/**
 * `npx tsx bench/profile.ts [concurrent|sequential|large] [path/to/bin/run.js]`: runs `thoth run`
 * (defaults: built-in policy, audit on, links followed) in front of server-everything under
 * `node --cpu-prof` with allocation sampling (bench/lib/heap-sampler.mjs), drives one workload with the minimal client, and prints the top
 * costs: CPU self time by function, and the bytes allocated by function (sampled). The profiles stay in
 * the printed directory (open them in Chrome DevTools for the whole picture).
 */
import {mkdtemp, readdir, readFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join, relative} from 'node:path';
import {fileURLToPath} from 'node:url';

import {RpcClient} from './lib/rpc-client.js';
import {EVERYTHING, THOTH_BIN} from './lib/servers.js';

interface CpuNode {
  id: number;
  callFrame: {functionName: string; url: string; lineNumber: number};
  children?: number[];
}
interface CpuProfile {
  nodes: CpuNode[];
  samples: number[];
  timeDeltas: number[];
}
interface HeapNode {
  callFrame: {functionName: string; url: string; lineNumber: number};
  selfSize: number;
  children: HeapNode[];
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const HEAP_SAMPLER = new URL('./lib/heap-sampler.mjs', import.meta.url).href;
const workloadName = (process.argv[2] ?? 'concurrent') as 'concurrent' | 'sequential' | 'large';
const bin = process.argv[3] ?? THOTH_BIN;
const TOP = Number(process.env['PROFILE_TOP'] ?? 25);
const ALLOCATION_TOP = Number(process.env['PROFILE_ALLOCATION_TOP'] ?? 12);

function where(frame: {functionName: string; url: string; lineNumber: number}): string {
  const url = frame.url.replace(/^file:\/\//, '');
  const file = url === '' ? '' : url.startsWith('/') ? relative(ROOT, url).replace(/^(\.\.\/)+/, '') : url;
  return `${frame.functionName || '(anonymous)'} ${file}${file ? `:${frame.lineNumber + 1}` : ''}`;
}

async function drive(client: RpcClient): Promise<number> {
  await client.initialize();
  for (let i = 0; i < 500; i++) await client.echo(`warm ${i}`);
  if (workloadName === 'sequential') {
    for (let i = 0; i < 5000; i++) await client.echo(`call ${i}`);
    return 5000;
  }
  if (workloadName === 'large') {
    const big = 'b'.repeat(10_000_000);
    for (let i = 0; i < 10; i++) await client.echo(big);
    return 10;
  }
  const calls = 40_000;
  let issued = 0;
  const worker = async (): Promise<void> => {
    while (issued < calls) {
      issued++;
      await client.echo(`t${issued}`);
    }
  };
  await Promise.all(Array.from({length: 64}, worker));
  return calls;
}

const dir = await mkdtemp(join(tmpdir(), 'thoth-profile-'));
const home = join(dir, 'home');
const client = new RpcClient(
  process.execPath,
  ['--cpu-prof', '--cpu-prof-dir', dir, '--import', HEAP_SAMPLER, bin, 'run', '--agent-id', 'bench', '--', ...EVERYTHING],
  {...process.env, THOTH_HOME: home, THOTH_REQUIRE_NON_ROOT: 'false', THOTH_HEAP_SAMPLES_DIR: dir},
);
const cpuBefore = client.cpuMicros() ?? 0;
const calls = await drive(client);
const cpu = (client.cpuMicros() ?? 0) - cpuBefore;
const peakRss = client.peakRss() ?? 0;
await client.close();

const files = await readdir(dir);
const cpuFile = files.find((f) => f.endsWith('.cpuprofile'));
const heapFile = files.find((f) => f.endsWith('.heapprofile'));
process.stdout.write(
  `${workloadName}: ${calls} calls, thoth CPU ${(cpu / calls).toFixed(1)} µs per call (warm-up included), peak RSS ${(peakRss / 2 ** 20).toFixed(1)} MiB (profiling included); profiles in ${dir}\n`,
);

if (cpuFile) {
  const profile = JSON.parse(await readFile(join(dir, cpuFile), 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  let idle = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id)!;
    const delta = profile.timeDeltas[i] ?? 0;
    if (node.callFrame.functionName === '(idle)') {
      idle += delta;
      return;
    }
    total += delta;
    const key = where(node.callFrame);
    self.set(key, (self.get(key) ?? 0) + delta);
  });
  process.stdout.write(`\nCPU self time (busy ${(total / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms):\n`);
  for (const [key, time] of [...self].sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
    process.stdout.write(`${((100 * time) / total).toFixed(1).padStart(5)}%  ${key}\n`);
  }
}
if (heapFile) {
  const profile = JSON.parse(await readFile(join(dir, heapFile), 'utf8')) as {head: HeapNode};
  const self = new Map<string, number>();
  let total = 0;
  const walk = (node: HeapNode): void => {
    const key = where(node.callFrame);
    self.set(key, (self.get(key) ?? 0) + node.selfSize);
    total += node.selfSize;
    for (const child of node.children) walk(child);
  };
  walk(profile.head);
  process.stdout.write(`\nSampled allocations (garbage included), by function (total ${(total / 1024).toFixed(0)} KiB):\n`);
  for (const [key, size] of [...self].sort((a, b) => b[1] - a[1]).slice(0, ALLOCATION_TOP)) {
    process.stdout.write(`${((100 * size) / total).toFixed(1).padStart(5)}%  ${(size / 1024).toFixed(0).padStart(7)} KiB  ${key}\n`);
  }
}
