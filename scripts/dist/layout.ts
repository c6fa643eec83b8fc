import {join} from 'node:path';

import {darwinLauncher, linuxLauncher, windowsLauncher} from './launchers.js';
import type {TargetId} from './node-runtime.js';
import {treeOf, type Tree, type TreeFileSpec} from './tree.js';

/**
 * What each installer puts on disk, relative to its install directory:
 *
 *   Linux tarball  thoth/bin/thoth, thoth/bin/node, thoth/lib/…            (anywhere; relocatable)
 *   macOS .pkg     bin/thoth, bin/node, lib/…  in /usr/local/thoth          (+ /usr/local/bin/thoth by postinstall)
 *   Windows .msi   thoth.cmd, node.exe, lib\…  in C:\Program Files\thoth
 *
 * and in each, licenses/node.txt. wrap-config run from an installed thoth writes the bundled node
 * and lib/bin/run.js by absolute path; neither path contains the version, so configs survive upgrades.
 */

export const MAC_PREFIX = '/usr/local/thoth';

export interface LayoutInputs {
  version: string;
  /** The bundle (scripts/dist/bundle.ts) and its files, relative. */
  libDir: string;
  libFiles: readonly string[];
  nodeBinary: string;
  nodeLicense: string;
  mtime: number;
}

export async function installTree(target: TargetId, inputs: LayoutInputs): Promise<Tree> {
  const lib: TreeFileSpec[] = inputs.libFiles.map((file) => ({path: `lib/${file}`, mode: 0o644, source: {file: join(inputs.libDir, ...file.split('/'))}}));
  // What this version ships in lib/ (the macOS postinstall removes anything else an earlier version left).
  const listing = `${[...inputs.libFiles, 'FILES'].sort().map((file) => `./${file}`).join('\n')}\n`;
  lib.push({path: 'lib/FILES', mode: 0o644, source: {data: Buffer.from(listing, 'utf8')}});
  const license: TreeFileSpec = {path: 'licenses/node.txt', mode: 0o644, source: {file: inputs.nodeLicense}};
  const text = (path: string, mode: number, content: string): TreeFileSpec => ({path, mode, source: {data: Buffer.from(content, 'utf8')}});
  let files: TreeFileSpec[];
  switch (target) {
    case 'linux-x64':
      files = [text('bin/thoth', 0o755, linuxLauncher(inputs.version)), {path: 'bin/node', mode: 0o755, source: {file: inputs.nodeBinary}}, ...lib, license];
      break;
    case 'darwin-arm64':
    case 'darwin-x64':
      files = [text('bin/thoth', 0o755, darwinLauncher(inputs.version, MAC_PREFIX)), {path: 'bin/node', mode: 0o755, source: {file: inputs.nodeBinary}}, ...lib, license];
      break;
    case 'win-x64':
      files = [text('thoth.cmd', 0o755, windowsLauncher(inputs.version)), {path: 'node.exe', mode: 0o755, source: {file: inputs.nodeBinary}}, ...lib, license];
      break;
  }
  return treeOf(files, {mtime: inputs.mtime});
}
