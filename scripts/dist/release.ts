import {createHash} from 'node:crypto';
import {createReadStream} from 'node:fs';
import {mkdir, mkdtemp, readFile, rename, rm, stat, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {spawnSync} from 'node:child_process';

import {bundleThoth} from './bundle.js';
import {buildIntunewin} from './intunewin.js';
import {installTree, MAC_PREFIX} from './layout.js';
import {darwinPostinstall} from './launchers.js';
import {buildMsi, type BuiltMsi} from './msi.js';
import {loadPins, nodeLicense, nodeRuntime, type TargetId} from './node-runtime.js';
import {buildPkg} from './pkg.js';
import {signMsi, type SigningIdentity} from './sign.js';
import {fileSink} from './sink.js';
import {writeTar} from './tar.js';

/**
 * `npm run dist`: every installer, built on Linux from what the npm registry and Debian provide,
 * into `outDir`:
 *
 *   thoth-<v>-linux-x64.tar.gz      thoth/bin/thoth, thoth/bin/node, thoth/lib/…
 *   thoth-<v>-darwin-arm64.pkg      flat package installing /usr/local/thoth (+ /usr/local/bin/thoth)
 *   thoth-<v>-darwin-x64.pkg        the same for Intel Macs
 *   thoth-<v>-win-x64.msi           per machine, C:\Program Files\thoth\
 *   thoth-<v>-win-x64.intunewin     the MSI and the Intune install/uninstall scripts, as IntuneWinAppUtil packs them
 *   SHA256SUMS                      `sha256sum -c` format, over all of the above
 *
 * Everything is built in a directory beside the output and moved into place at the end, so a
 * failed build leaves the previous artefacts as they were.
 */

export const INTUNE_PACKAGE_SCRIPTS = ['install.ps1', 'uninstall.ps1'] as const;

export interface ReleaseOptions {
  repoRoot: string;
  outDir: string;
  targets: readonly TargetId[];
  /** Where Node binaries from the registry are kept between runs. */
  cacheDir: string;
  /** Owner times in every archive (seconds): the release commit's time, so archives depend on content. */
  mtime: number;
  sign?: SigningIdentity;
  log: (message: string) => void;
}

export interface Artefact {
  file: string;
  size: number;
  sha256: string;
}

export interface ReleaseResult {
  version: string;
  nodeVersion: string;
  artefacts: Artefact[];
  msi?: BuiltMsi;
}

/** Debian packages each target needs on the build machine (checked before anything is built). */
const TOOLS: Partial<Record<TargetId, Array<[string, string]>>> = {
  'win-x64': [
    ['wixl', 'wixl'],
    ['msiinfo', 'msitools'],
  ],
};

export async function buildRelease(options: ReleaseOptions): Promise<ReleaseResult> {
  const {repoRoot, log} = options;
  const {version} = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as {version: string};
  for (const target of options.targets) for (const [tool, debianPackage] of TOOLS[target] ?? []) requireTool(tool, `${debianPackage} (needed for ${target})`);
  if (options.sign) requireTool('osslsigncode', 'osslsigncode (needed to sign the MSI)');

  const pins = await loadPins(repoRoot);
  const license = nodeLicense(pins, options.cacheDir, log);
  await mkdir(options.outDir, {recursive: true});
  const work = await mkdtemp(join(options.outDir, '.build-'));
  try {
    const libDir = join(work, 'lib');
    const bundle = await bundleThoth({repoRoot, outDir: libDir});
    log(`bundled thoth ${version}: ${bundle.files.length} files, ${bundle.packages.length} production packages`);
    const staged = join(work, 'out');
    await mkdir(staged);
    const written: string[] = [];
    let msi: BuiltMsi | undefined;
    for (const target of options.targets) {
      const runtime = nodeRuntime(pins, target, options.cacheDir, log);
      const tree = await installTree(target, {version, libDir, libFiles: bundle.files, nodeBinary: runtime.binary, nodeLicense: license, mtime: options.mtime});
      const started = Date.now();
      if (target === 'linux-x64') {
        const name = `thoth-${version}-linux-x64.tar.gz`;
        const sink = fileSink(join(staged, name), {gzip: true});
        await writeTar(tree, sink, {prefix: 'thoth/'});
        await sink.close();
        written.push(name);
      } else if (target === 'darwin-arm64' || target === 'darwin-x64') {
        const name = `thoth-${version}-${target}.pkg`;
        await buildPkg({
          payload: tree,
          scripts: {postinstall: darwinPostinstall(version, MAC_PREFIX)},
          version,
          installLocation: MAC_PREFIX,
          architecture: target === 'darwin-arm64' ? 'arm64' : 'x86_64',
          output: join(staged, name),
        });
        written.push(name);
      } else {
        const name = `thoth-${version}-win-x64.msi`;
        msi = await buildMsi({tree, version, output: join(staged, name)});
        if (options.sign) await signMsi(join(staged, name), options.sign, `thoth ${version}`);
        written.push(name);
        const scripts = await Promise.all(INTUNE_PACKAGE_SCRIPTS.map(async (script) => ({name: script, data: await readFile(join(repoRoot, 'mdm', 'intune', script))})));
        const intunewin = buildIntunewin({
          sourceFiles: [{name, data: await readFile(join(staged, name))}, ...scripts],
          setupFile: name,
          msi: {...msi, publisher: 'thoth'},
          mtime: new Date(options.mtime * 1000),
        });
        const intunewinName = `thoth-${version}-win-x64.intunewin`;
        await writeFile(join(staged, intunewinName), intunewin.archive);
        written.push(intunewinName);
      }
      log(`${target}: ${written.at(-1)} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }

    const artefacts: Artefact[] = [];
    for (const name of written) artefacts.push({file: name, size: (await stat(join(staged, name))).size, sha256: await sha256Of(join(staged, name))});
    await writeFile(join(staged, 'SHA256SUMS'), artefacts.map((artefact) => `${artefact.sha256}  ${artefact.file}\n`).join(''));
    for (const name of [...written, 'SHA256SUMS']) await rename(join(staged, name), join(options.outDir, name));
    const result: ReleaseResult = {version, nodeVersion: pins.version, artefacts};
    if (msi) result.msi = msi;
    return result;
  } finally {
    await rm(work, {recursive: true, force: true});
  }
}

function requireTool(tool: string, debianPackage: string): void {
  const probe = spawnSync(tool, ['--version'], {stdio: 'ignore'});
  if (probe.error) throw new Error(`${tool} is not installed: apt-get install ${debianPackage}`);
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
