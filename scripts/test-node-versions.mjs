#!/usr/bin/env node
// Runs the end-to-end subset of the tests under the other Node majors thoth supports (the suite
// itself runs on the Node that runs npm test). The official Node binaries come from the npm
// registry (node-<os>-<cpu>@<version>, fetched with `npm pack`, which checks the registry's
// integrity hash) into node_modules/.cache/thoth-node-versions/. A failed download fails the run.
//
//   node scripts/test-node-versions.mjs            # the pinned versions below
//   node scripts/test-node-versions.mjs 24.21.0    # only these
//
// Each version first runs the build (schemas, tsc, oclif manifest) and then vitest on SUBSET;
// the tests spawn thoth and the servers with process.execPath, so they run on that Node too
// (test/e2e/node-runtime.test.ts checks that it really does).
import {spawnSync} from 'node:child_process';
import {delimiter, dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

import {fetchRegistryPackage} from './registry-package.mjs';

const VERSIONS = ['22.23.3', '24.21.0'];
const SUBSET = [
  'test/e2e/everything.test.ts',
  'test/e2e/node-runtime.test.ts',
  'test/e2e/misbehaving.test.ts',
  'test/cli/contract.test.ts',
  'test/audit/e2e.test.ts',
];

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cache = join(root, 'node_modules', '.cache', 'thoth-node-versions');

function fail(message) {
  console.error(`test-node-versions: ${message}`);
  process.exit(1);
}

/** Runs a program without a shell; returns its stdout, or fails the script naming what failed. */
function run(command, args, options = {}) {
  const result = spawnSync(command, args, {
    cwd: root,
    encoding: 'utf8',
    stdio: options.stdio ?? ['ignore', 'pipe', 'inherit'],
    env: options.env ?? process.env,
  });
  if (result.error) fail(`${command} ${args.join(' ')}: ${result.error.message}`);
  if (result.status !== 0) fail(`${command} ${args.join(' ')} exited with ${result.status ?? result.signal}`);
  return result.stdout ?? '';
}

function packageName() {
  if (process.platform !== 'linux' && process.platform !== 'darwin')
    fail(`no Node binaries for ${process.platform} in this script (linux and darwin only)`);
  return `node-${process.platform}-${process.arch}`;
}

/** The path of bin/node of `version`, downloaded once into the cache. */
function nodeBinary(version) {
  const reports = (binary) => spawnSync(binary, ['--version'], {encoding: 'utf8'}).stdout?.trim() === `v${version}`;
  try {
    const dir = fetchRegistryPackage({
      cacheDir: cache,
      name: packageName(),
      version,
      dirName: version,
      isComplete: (packageDir) => reports(join(packageDir, 'bin', 'node')),
      log: (message) => console.log(`test-node-versions: ${message}`),
    });
    return join(dir, 'bin', 'node');
  } catch (error) {
    return fail(error.message);
  }
}

const versions = process.argv.length > 2 ? process.argv.slice(2) : VERSIONS;
const binaries = versions.map((version) => [version, nodeBinary(version)]);
const timings = [];
for (const [version, binary] of binaries) {
  console.log(`\ntest-node-versions: Node ${version}`);
  // Scripts and tests that look `node` up on PATH get this one as well.
  const env = {...process.env, PATH: `${dirname(binary)}${delimiter}${process.env['PATH'] ?? ''}`};
  const started = Date.now();
  run(binary, [join(root, 'scripts', 'build.mjs')], {env, stdio: 'inherit'});
  const built = Date.now();
  run(binary, [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...SUBSET], {env, stdio: 'inherit'});
  timings.push(`Node ${version}: build ${((built - started) / 1000).toFixed(1)} s, tests ${((Date.now() - built) / 1000).toFixed(1)} s`);
}
console.log(`\ntest-node-versions: passed on ${versions.map((v) => `Node ${v}`).join(', ')}`);
for (const line of timings) console.log(`  ${line}`);
