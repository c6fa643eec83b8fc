import {readFileSync} from 'node:fs';

import type {InstallationFacts, Installation, LauncherFacts} from './drift.js';
import type {ConfigHost} from './host.js';
import {ownLauncher} from './settings.js';
import type {Launcher} from './wrapped-command.js';

/**
 * "This installation" of thoth, as status and health compare wrapped entries with it: the node
 * running this thoth, this thoth's bin/run.js, and the version in its package.json. The file
 * reads that turn a launcher into facts (real paths, the install it points into) are here; the
 * judgement is the pure launcherDrift in drift.ts.
 */

let version: string | undefined;

/** The version in this installation's package.json (`0.0.0` when it cannot be read: never a match by accident). */
export function ownVersion(): string {
  if (version === undefined) {
    try {
      const parsed = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {version?: unknown};
      version = typeof parsed.version === 'string' ? parsed.version : '0.0.0';
    } catch {
      version = '0.0.0';
    }
  }
  return version;
}

export function thisInstallation(thothBins: readonly string[] = []): Installation {
  return {launcher: ownLauncher(), version: ownVersion(), thothBins: [...thothBins]};
}

export async function installationFacts(host: ConfigHost, installation: Installation): Promise<InstallationFacts> {
  const [script] = installation.launcher.prefix;
  const bins: string[] = [];
  for (const bin of installation.thothBins) {
    const found = await executable(host, bin);
    if (found !== undefined) bins.push(found);
  }
  return {
    node: await executable(host, installation.launcher.command),
    script: script === undefined ? undefined : await existing(host, script),
    bins,
  };
}

export async function launcherFacts(host: ConfigHost, launcher: Launcher): Promise<LauncherFacts> {
  const command = await executable(host, launcher.command);
  const prefix: (string | undefined)[] = [];
  for (const item of launcher.prefix) prefix.push(isPathLike(host, item) ? await existing(host, item) : undefined);
  let install: LauncherFacts['install'];
  for (const file of [...prefix, command]) {
    if (file === undefined || install !== undefined) continue;
    install = await thothInstallOf(host, file);
  }
  return {command, prefix, install};
}

/** The real path of an executable: a path as written, a bare name looked up on PATH; undefined when missing. */
async function executable(host: ConfigHost, command: string): Promise<string | undefined> {
  if (isPathLike(host, command)) return existing(host, command);
  const found = await onPath(host, command);
  return found === undefined ? undefined : existing(host, found);
}

async function existing(host: ConfigHost, file: string): Promise<string | undefined> {
  if (!(await host.fs.stat(file))?.isFile) return undefined;
  return host.fs.realpath(file);
}

/** `<root>/bin/run.js` of a package.json named thoth-mcp: that installation's root and version. */
async function thothInstallOf(host: ConfigHost, file: string): Promise<{root: string; version: string} | undefined> {
  const bin = host.path.dirname(file);
  if (host.path.basename(file) !== 'run.js' || host.path.basename(bin) !== 'bin') return undefined;
  const root = host.path.dirname(bin);
  try {
    const parsed = JSON.parse((await host.fs.readFile(host.path.join(root, 'package.json'))).toString('utf8')) as {
      name?: unknown;
      version?: unknown;
    };
    if (parsed.name === 'thoth-mcp' && typeof parsed.version === 'string') return {root, version: parsed.version};
  } catch {
    // No readable package.json: not an installation we can name.
  }
  return undefined;
}

export function isPathLike(host: ConfigHost, command: string): boolean {
  return host.path.isAbsolute(command) || /[/\\]/.test(command);
}

/** Where a bare command name is found on the host's PATH (PATHEXT on Windows), as a clean client environment would. */
export async function onPath(host: ConfigHost, command: string): Promise<string | undefined> {
  const pathVariable = host.env['PATH'] ?? host.env['Path'] ?? '';
  // Windows file names are case-insensitive; check PATHEXT's usual upper case and the lower case files have.
  const pathext = (host.env['PATHEXT'] ?? '.COM;.EXE;.BAT;.CMD').split(';').filter((e) => e !== '');
  const extensions = host.platform === 'win32' ? ['', ...new Set(pathext.flatMap((e) => [e.toLowerCase(), e]))] : [''];
  for (const directory of pathVariable.split(host.path.delimiter)) {
    if (directory === '') continue;
    for (const extension of extensions) {
      const candidate = host.path.join(directory, command + extension);
      if ((await host.fs.stat(candidate))?.isFile) return candidate;
    }
  }
  return undefined;
}
