// Fetches a package from the npm registry with `npm pack` (which checks the registry's integrity
// hash) and unpacks it into a cache directory, once. Shared by scripts/test-node-versions.mjs (the
// Node binaries the end-to-end subset runs on) and scripts/dist (the Node binaries the installers
// ship): both take official Node builds from the registry's node-<os>-<cpu> packages.
import {spawnSync} from 'node:child_process';
import {existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync} from 'node:fs';
import {join, resolve} from 'node:path';

/** Runs a program without a shell; returns its stdout, or throws naming what failed. */
export function runProgram(command, args, options = {}) {
  const result = spawnSync(command, args, {
    cwd: options.cwd,
    encoding: 'utf8',
    stdio: options.stdio ?? ['ignore', 'pipe', 'inherit'],
    env: options.env ?? process.env,
  });
  if (result.error) throw new Error(`${command} ${args.join(' ')}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status ?? result.signal}`);
  return result.stdout ?? '';
}

/** npm itself: the one running this script under `npm run`, else the npm beside this node. */
function npm(args, cwd) {
  const cli = process.env['npm_execpath'];
  return cli && cli.endsWith('.js') ? runProgram(process.execPath, [cli, ...args], {cwd}) : runProgram('npm', args, {cwd});
}

/**
 * The directory of `name@version` unpacked from the registry: <cacheDir>/<dirName>/package.
 * `isComplete(packageDir)` says whether a cached copy is usable (else it is fetched again).
 */
export function fetchRegistryPackage({
  cacheDir: cacheOption,
  name,
  version,
  dirName = `${name}@${version}`,
  isComplete = () => true,
  log = () => {},
}) {
  const cacheDir = resolve(cacheOption);
  const dir = join(cacheDir, dirName);
  const packageDir = join(dir, 'package');
  if (existsSync(packageDir) && isComplete(packageDir)) return packageDir;
  mkdirSync(cacheDir, {recursive: true});
  // Left by a run that failed mid-download.
  for (const entry of readdirSync(cacheDir))
    if (entry.startsWith(`.${dirName}-`)) rmSync(join(cacheDir, entry), {recursive: true, force: true});
  const work = mkdtempSync(join(cacheDir, `.${dirName}-`));
  try {
    const started = Date.now();
    npm(['pack', `${name}@${version}`, '--pack-destination', work, '--silent'], work);
    const tarball = readdirSync(work).find((entry) => entry.endsWith('.tgz'));
    if (!tarball) throw new Error(`npm pack ${name}@${version} left no tarball`);
    const unpacked = join(work, 'unpacked');
    mkdirSync(unpacked);
    runProgram('tar', ['-xzf', join(work, tarball), '-C', unpacked]);
    rmSync(dir, {recursive: true, force: true});
    renameSync(unpacked, dir);
    log(`fetched ${name}@${version} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    rmSync(work, {recursive: true, force: true});
  }
  if (!isComplete(packageDir)) throw new Error(`${name}@${version} from the registry is not what was expected (see above)`);
  return packageDir;
}
