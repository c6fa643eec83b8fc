// Cold start of the installed thoth against thoth as npm installs it today, on the same machine in
// the same run: `node -e 0` (the floor), `thoth --version` (oclif loads), and `thoth run` up to the
// answer to `initialize` from a tiny stdio server (what delays a client's first tool). Each variant
// runs N times, interleaved, so a noisy neighbour hits them alike; medians and p90 are printed.
//
//   npx tsx scripts/dist/cold-start.ts <unpacked thoth-<v>-linux-x64 dir> [runs]
//
// "dist" is today's layout (bin/run.js + dist/ + node_modules) run by the bundled Node, so the
// difference is the bundle alone; "system node" is the same layout on the Node running this script.
import {spawn} from 'node:child_process';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const [installed, runsArg] = process.argv.slice(2);
if (installed === undefined) {
  console.error('usage: npx tsx scripts/dist/cold-start.ts <dir that holds thoth/bin/thoth> [runs]');
  process.exit(2);
}
const runs = Number(runsArg ?? 15);
const bundledNode = join(installed, 'thoth', 'bin', 'node');
const bundleEntry = join(installed, 'thoth', 'lib', 'bin', 'run.js');
const devEntry = join(repoRoot, 'bin', 'run.js');
const server = join(repoRoot, 'fixtures', 'servers', 'misbehaving-server.mjs');
const env = {PATH: '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/tmp', THOTH_HOME: join(process.env['TMPDIR'] ?? '/tmp', 'thoth-cold-start'), THOTH_REQUIRE_NON_ROOT: 'false'};

/** Milliseconds until the process exits. */
function timeExit(command: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, {env, stdio: 'ignore'});
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(Number(process.hrtime.bigint() - started) / 1e6) : reject(new Error(`${command} ${args.join(' ')} exited ${code}`))));
  });
}

/** Milliseconds until `thoth run` relays the server's answer to initialize. */
function timeRun(node: string, entry: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    // The server runs on the bundled node in every variant: only thoth differs.
    const child = spawn(node, [entry, 'run', '--agent-id', 'cold', '--', bundledNode, server], {env, stdio: ['pipe', 'pipe', 'ignore']});
    child.on('error', reject);
    child.stdout.once('data', () => {
      const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
      child.stdin.end();
      child.once('exit', () => resolve(elapsed));
    });
    child.stdin.write(`${JSON.stringify({jsonrpc: '2.0', id: 1, method: 'initialize', params: {protocolVersion: '2025-06-18', capabilities: {}, clientInfo: {name: 'cold', version: '1'}}})}\n`);
  });
}

const variants: Array<[string, () => Promise<number>]> = [
  ['node -e 0 (bundled node)', () => timeExit(bundledNode, ['-e', '0'])],
  ['thoth --version, bundle', () => timeExit(bundledNode, [bundleEntry, '--version'])],
  ['thoth --version, dist (bundled node)', () => timeExit(bundledNode, [devEntry, '--version'])],
  ['thoth --version, dist (system node)', () => timeExit(process.execPath, [devEntry, '--version'])],
  ['thoth run → initialize, bundle', () => timeRun(bundledNode, bundleEntry)],
  ['thoth run → initialize, dist (bundled node)', () => timeRun(bundledNode, devEntry)],
  ['thoth run → initialize, dist (system node)', () => timeRun(process.execPath, devEntry)],
];

const samples = new Map<string, number[]>(variants.map(([name]) => [name, []]));
for (let i = 0; i < runs + 2; i++) {
  for (const [name, measure] of variants) {
    const ms = await measure();
    // The first two rounds warm the page cache; they are not counted.
    if (i >= 2) samples.get(name)!.push(ms);
  }
}
const quantile = (values: number[], q: number): number => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(q * values.length))]!;
console.log(`cold start, ${runs} runs each (ms): median  p90`);
for (const [name, values] of samples) console.log(`  ${name.padEnd(44)} ${quantile(values, 0.5).toFixed(0).padStart(5)} ${quantile(values, 0.9).toFixed(0).padStart(5)}`);
