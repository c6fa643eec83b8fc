import {spawn, spawnSync} from 'node:child_process';
import {createHash} from 'node:crypto';
import {existsSync} from 'node:fs';
import {mkdir, readFile, readdir, rm, stat, writeFile} from 'node:fs/promises';
import {join, relative} from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';

import {REPO_ROOT} from '../helpers/cli.js';

/**
 * The release the dist tests open: built once by the real `scripts/dist/main.ts` (as `npm run
 * dist` runs it, after the build `npm test` has done) into node_modules/.cache/thoth-dist-test/,
 * keyed by a hash of everything that goes into it, so test files running in parallel share one
 * build and a second `npm test` without changes reuses it.
 *
 * The readers the tests use are Debian packages (p7zip-full, cpio, msitools, osslsigncode) and
 * wixl builds the MSI. Where one is missing the tests that need it are skipped with a message
 * naming the package, unless THOTH_REQUIRE_DIST_TOOLS=1 (set by .ci/run), which makes it a failure.
 */

export const REQUIRE_DIST_TOOLS = process.env['THOTH_REQUIRE_DIST_TOOLS'] === '1';

const TOOL_PACKAGES: Record<string, string> = {
  '7z': 'p7zip-full',
  cpio: 'cpio',
  wixl: 'wixl',
  msiinfo: 'msitools',
  msiextract: 'msitools',
  osslsigncode: 'osslsigncode',
  openssl: 'openssl',
  tar: 'tar',
  cksum: 'coreutils',
  sha256sum: 'coreutils',
  shellcheck: 'shellcheck',
};

export function toolMissing(tool: string): boolean {
  return spawnSync(tool, ['--help'], {stdio: 'ignore'}).error !== undefined;
}

/**
 * Why tests needing `tools` cannot run here, or undefined when they can. With
 * THOTH_REQUIRE_DIST_TOOLS=1 a missing tool is not a reason to skip: the tests run and fail.
 */
export function skipReason(tools: readonly string[]): string | undefined {
  const missing = tools.filter(toolMissing);
  if (missing.length === 0 || REQUIRE_DIST_TOOLS) return undefined;
  const packages = [...new Set(missing.map((tool) => TOOL_PACKAGES[tool] ?? tool))].join(' ');
  const reason = `skipped: ${missing.join(', ')} not installed (apt-get install ${packages}; THOTH_REQUIRE_DIST_TOOLS=1 turns this into a failure)`;
  console.warn(`test/dist: ${reason}`);
  return reason;
}

export interface Release {
  dir: string;
  version: string;
  /** thoth-<version>-<suffix> → absolute path, for what was built. */
  linux: string;
  darwinArm64: string;
  darwinX64: string;
  msi?: string;
  intunewin?: string;
  sums: string;
}

/** The MSI needs wixl and msiinfo to build; without them (and not required) only the rest is built. */
export function windowsBuildable(): boolean {
  return REQUIRE_DIST_TOOLS || (!toolMissing('wixl') && !toolMissing('msiinfo'));
}

let pending: Promise<Release> | undefined;

export function release(): Promise<Release> {
  pending ??= buildOnce();
  return pending;
}

async function buildOnce(): Promise<Release> {
  const {version} = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as {version: string};
  const targets = ['linux-x64', 'darwin-arm64', 'darwin-x64', ...(windowsBuildable() ? ['win-x64'] : [])];
  const key = await inputsKey(targets);
  const cacheRoot = join(REPO_ROOT, 'node_modules', '.cache', 'thoth-dist-test');
  const dir = join(cacheRoot, key);
  await mkdir(cacheRoot, {recursive: true});
  await withLock(join(cacheRoot, `${key}.lock`), async () => {
    if (existsSync(join(dir, '.complete'))) return;
    // Older builds are 200 MB each: keep only this one.
    for (const name of await readdir(cacheRoot))
      if (name !== key && !name.endsWith('.lock') && !existsSync(join(cacheRoot, `${name}.lock`)))
        await rm(join(cacheRoot, name), {recursive: true, force: true});
    await rm(dir, {recursive: true, force: true});
    const result = await run(process.execPath, [
      join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'),
      join(REPO_ROOT, 'scripts', 'dist', 'main.ts'),
      '--out',
      dir,
      '--targets',
      targets.join(','),
    ]);
    if (result.code !== 0) throw new Error(`scripts/dist/main.ts exited ${result.code}:\n${result.stderr}`);
    await writeFile(join(dir, '.complete'), result.stdout);
  });
  const file = (suffix: string): string => join(dir, `thoth-${version}-${suffix}`);
  const built: Release = {
    dir,
    version,
    linux: file('linux-x64.tar.gz'),
    darwinArm64: file('darwin-arm64.pkg'),
    darwinX64: file('darwin-x64.pkg'),
    sums: join(dir, 'SHA256SUMS'),
  };
  if (targets.includes('win-x64')) {
    built.msi = file('win-x64.msi');
    built.intunewin = file('win-x64.intunewin');
  }
  return built;
}

/** Everything the release is made from: the build output, the dist scripts, the lockfile, the Intune scripts packed with the MSI. */
async function inputsKey(targets: readonly string[]): Promise<string> {
  const hash = createHash('sha256').update(targets.join(','));
  const roots = [
    'dist',
    'bin',
    'scripts/dist',
    'scripts/registry-package.mjs',
    'package.json',
    'package-lock.json',
    'oclif.manifest.json',
    'mdm/intune',
  ];
  for (const root of roots) {
    for (const file of await filesUnder(join(REPO_ROOT, root))) {
      // The build stamp is a time: it changes with every build, the release does not.
      if (file.endsWith('.build-stamp')) continue;
      hash
        .update(relative(REPO_ROOT, file))
        .update('\0')
        .update(await readFile(file))
        .update('\0');
    }
  }
  return hash.digest('hex').slice(0, 16);
}

async function filesUnder(path: string): Promise<string[]> {
  const info = await stat(path).catch(() => undefined);
  if (!info) return [];
  if (!info.isDirectory()) return [path];
  const found: string[] = [];
  for (const entry of (await readdir(path)).sort()) found.push(...(await filesUnder(join(path, entry))));
  return found;
}

/** A directory as a lock between vitest workers (and parallel runs); a holder that died is noticed by its pid. */
async function withLock(lock: string, fn: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      await mkdir(lock);
      await writeFile(join(lock, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(await readFile(join(lock, 'pid'), 'utf8').catch(() => 'NaN'));
      if (Number.isInteger(holder) && !alive(holder)) await rm(lock, {recursive: true, force: true});
      else if (Date.now() > deadline) throw new Error(`${lock} is held by ${holder} for more than 15 minutes`);
      else await sleep(500);
    }
  }
  try {
    await fn();
  } finally {
    await rm(lock, {recursive: true, force: true});
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program without a shell and collects its output. */
export function run(
  command: string,
  args: readonly string[],
  options: {cwd?: string; env?: NodeJS.ProcessEnv; input?: string} = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({code, stdout, stderr}));
    if (child.stdin) {
      // A program that does not read its input closes the pipe: that is not a failure of the run.
      child.stdin.on('error', () => {});
      child.stdin.end(options.input);
    }
  });
}

/** SHA-256 of a file, hex. */
export async function sha256(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
}
