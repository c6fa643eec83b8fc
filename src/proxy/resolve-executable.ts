import {accessSync, constants, readFileSync, readdirSync, statSync} from 'node:fs';
import * as nodePath from 'node:path';

import {ThothError} from '../core/errors.js';
import {ExitCode} from '../core/exit-codes.js';

/**
 * Finds the upstream server's executable without a shell: the effective PATH, then
 * platform fallback directories, with Windows PATHEXT. MCP clients start servers with a minimal
 * PATH, and `.bashrc`/nvm are never read, so this must be explicit and must say where it looked.
 */

export interface ResolverFs {
  isFile(path: string): boolean;
  isExecutable(path: string): boolean;
  readText(path: string): string | undefined;
  /** Directory entries, for `Claude_*`-style globbing; [] when missing. */
  list(path: string): string[];
}

export interface ResolverHost {
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** The node binary running thoth: its directory is a last-resort home of node/npx. */
  execPath: string;
}

/** How to start the server: a file to execute and the arguments to give it. */
export interface SpawnPlan {
  file: string;
  args: string[];
  /** Windows only: the command line is already quoted for cmd.exe. */
  verbatimArguments?: boolean;
  /** How the executable was found, for diagnostics. */
  foundVia: 'path' | 'explicit' | 'fallback' | 'npm-shim' | 'cmd';
}

export const realResolverFs: ResolverFs = {
  isFile: (path) => {
    try {
      return statSync(path).isFile();
    } catch {
      return false;
    }
  },
  isExecutable: (path) => {
    try {
      accessSync(path, constants.X_OK);
      return statSync(path).isFile();
    } catch {
      return false;
    }
  },
  readText: (path) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  },
  list: (path) => {
    try {
      return readdirSync(path);
    } catch {
      return [];
    }
  },
};

export function defaultHost(): ResolverHost {
  return {platform: process.platform, env: process.env, cwd: process.cwd(), execPath: process.execPath};
}

export function planSpawn(
  command: string,
  args: readonly string[],
  host: ResolverHost = defaultHost(),
  fs: ResolverFs = realResolverFs,
): SpawnPlan {
  const windows = host.platform === 'win32';
  const path = windows ? nodePath.win32 : nodePath.posix;
  const searched: string[] = [];
  const found = findExecutable(command, host, fs, searched);
  if (!found) throw notFound(command, searched, host);
  if (windows && /\.(cmd|bat)$/i.test(found.file)) return planWindowsBatch(found.file, args, host, fs, path);
  return {file: found.file, args: [...args], foundVia: found.via};
}

function findExecutable(
  command: string,
  host: ResolverHost,
  fs: ResolverFs,
  searched: string[],
): {file: string; via: SpawnPlan['foundVia']} | undefined {
  const windows = host.platform === 'win32';
  const path = windows ? nodePath.win32 : nodePath.posix;
  const extensions = windows ? pathExtensions(host.env) : [''];
  const hasSeparator = windows ? /[\\/]/.test(command) : command.includes('/');

  const tryIn = (candidateBase: string): string | undefined => {
    const candidates =
      windows && !extensions.some((ext) => candidateBase.toLowerCase().endsWith(ext.toLowerCase()))
        ? extensions.map((ext) => candidateBase + ext)
        : [candidateBase];
    for (const candidate of candidates) {
      searched.push(candidate);
      if (windows ? fs.isFile(candidate) : fs.isExecutable(candidate)) return candidate;
    }
    return undefined;
  };

  if (hasSeparator || path.isAbsolute(command)) {
    const file = tryIn(path.resolve(host.cwd, command));
    return file ? {file, via: 'explicit'} : undefined;
  }
  for (const dir of splitPath(envValue(host.env, 'PATH', windows), windows)) {
    const file = tryIn(path.join(dir, command));
    if (file) return {file, via: 'path'};
  }
  for (const dir of fallbackDirectories(host)) {
    const file = tryIn(path.join(dir, command));
    if (file) return {file, via: 'fallback'};
  }
  return undefined;
}

/** Where executables live when the client's PATH is minimal (docs/run.md#finding-the-server). */
export function fallbackDirectories(host: ResolverHost): string[] {
  const windows = host.platform === 'win32';
  const path = windows ? nodePath.win32 : nodePath.posix;
  const dirs: string[] = [];
  if (windows) {
    const env = (name: string): string | undefined => envValue(host.env, name, true);
    for (const base of [env('ProgramFiles'), env('ProgramFiles(x86)'), env('LOCALAPPDATA')]) {
      if (!base) continue;
      dirs.push(base, path.join(base, 'nodejs'));
    }
    const appData = env('APPDATA');
    if (appData) dirs.push(path.join(appData, 'npm'));
    const systemRoot = env('SystemRoot') ?? 'C:\\Windows';
    dirs.push(path.join(systemRoot, 'System32'));
  } else {
    dirs.push('/usr/local/bin', '/opt/homebrew/bin', '/usr/bin', '/bin');
  }
  // The node that runs thoth certainly works, and npx lives beside it.
  dirs.push(path.dirname(host.execPath));
  return [...new Set(dirs)];
}

/**
 * Node refuses to spawn .cmd/.bat without a shell (CVE-2024-27980). npm's shims (npx.cmd and
 * every global package) only start node on a script: run that directly, no cmd.exe at all.
 * Any other batch file goes through cmd.exe with every metacharacter escaped.
 */
function planWindowsBatch(
  file: string,
  args: readonly string[],
  host: ResolverHost,
  fs: ResolverFs,
  path: typeof nodePath.win32,
): SpawnPlan {
  const dir = path.dirname(file);
  const base = path.basename(file).toLowerCase();
  const node = (): string => {
    const besideShim = path.join(dir, 'node.exe');
    if (fs.isFile(besideShim)) return besideShim;
    const onPath = findExecutable('node', host, fs, []);
    return onPath?.file ?? host.execPath;
  };
  if (base === 'npx.cmd' || base === 'npm.cmd') {
    const cli = path.join(dir, 'node_modules', 'npm', 'bin', base === 'npx.cmd' ? 'npx-cli.js' : 'npm-cli.js');
    if (fs.isFile(cli)) return {file: node(), args: [cli, ...args], foundVia: 'npm-shim'};
  }
  const script = npmShimTarget(fs.readText(file) ?? '');
  if (script) {
    const target = path.join(dir, script);
    if (fs.isFile(target)) return {file: node(), args: [target, ...args], foundVia: 'npm-shim'};
  }
  const comSpec =
    envValue(host.env, 'ComSpec', true) ?? path.join(envValue(host.env, 'SystemRoot', true) ?? 'C:\\Windows', 'System32', 'cmd.exe');
  const line = [file, ...args].map((arg) => escapeForCmd(arg)).join(' ');
  return {file: comSpec, args: ['/d', '/s', '/c', `"${line}"`], verbatimArguments: true, foundVia: 'cmd'};
}

/** The script an npm cmd-shim runs: `"%dp0%\node_modules\pkg\bin\cli.js" %*` (older: `%~dp0\`). */
export function npmShimTarget(shim: string): string | undefined {
  const match = /"%~?dp0%?\\([^"%]+\.(?:c|m)?js)"\s+%\*/i.exec(shim);
  return match?.[1];
}

/**
 * Quotes one argument for cmd.exe /s /c: MSVCRT quoting (backslashes before quotes doubled), then
 * every cmd metacharacter prefixed with ^ so `&`, `|`, `%` and friends are never interpreted.
 */
export function escapeForCmd(arg: string): string {
  let quoted = arg.replace(/(\\*)"/g, '$1$1\\"').replace(/(\\*)$/, '$1$1');
  quoted = `"${quoted}"`;
  return quoted.replace(/[()%!^"<>&|]/g, '^$&');
}

function pathExtensions(env: NodeJS.ProcessEnv): string[] {
  const value = envValue(env, 'PATHEXT', true) ?? '.COM;.EXE;.BAT;.CMD';
  return value
    .split(';')
    .filter((ext) => ext.startsWith('.'))
    .map((ext) => ext.toLowerCase());
}

/** Windows environment names are case-insensitive (`Path`, `PATH`). */
function envValue(env: NodeJS.ProcessEnv, name: string, windows: boolean): string | undefined {
  if (!windows) return env[name];
  const key = Object.keys(env).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : env[key];
}

function splitPath(value: string | undefined, windows: boolean): string[] {
  if (!value) return [];
  return value
    .split(windows ? ';' : ':')
    .map((dir) => (windows ? dir.replace(/^"(.*)"$/, '$1') : dir))
    .filter((dir) => dir !== '');
}

function notFound(command: string, searched: string[], host: ResolverHost): ThothError {
  const windows = host.platform === 'win32';
  const hint = /^(npx|npm|node)(\.cmd|\.exe)?$/i.test(command)
    ? 'Install Node.js (https://nodejs.org) or give the absolute path of node/npx in the config.'
    : `Give the absolute path of "${command}" in the MCP client config, or install it.`;
  const where = [...new Set(searched)];
  const shown = where.length > 12 ? [...where.slice(0, 12), `… and ${where.length - 12} more`] : where;
  return new ThothError(
    'UPSTREAM_NOT_FOUND',
    `cannot find the server executable "${command}"; searched: ${shown.join(windows ? '; ' : ', ')}`,
    {
      exitCode: ExitCode.UPSTREAM_NOT_FOUND,
      suggestions: [hint, 'MCP clients start servers with a minimal PATH: your shell PATH, .bashrc and nvm are not read.'],
    },
  );
}
