import {spawnSync} from 'node:child_process';

/**
 * A test that needs a system package (not an npm one) runs where the package is installed and is
 * skipped, with a message naming the package, where it is not: `npm ci && npm test` must pass on a
 * machine with only Node. CI installs the package and sets `requiredBy` (e.g.
 * THOTH_REQUIRE_SHELLCHECK=1 in .ci/run), which turns a missing tool into a failure instead.
 */
export interface SystemTool {
  /** The executable, looked up on PATH. */
  command: string;
  /** The Debian package that provides it. */
  aptPackage: string;
  /** The environment variable that makes the tool required (value 1). */
  requiredBy: string;
}

export function toolAvailable(command: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const probe = spawnSync(command, ['--version'], {stdio: 'ignore', env});
  return probe.error === undefined;
}

/** Why the tests needing `tool` are skipped here, or undefined when they must run (installed, or required). */
export function skipReasonFor(tool: SystemTool, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env[tool.requiredBy] === '1' || toolAvailable(tool.command, env)) return undefined;
  return `skipped: ${tool.command} is not installed (apt-get install ${tool.aptPackage}; ${tool.requiredBy}=1 turns this into a failure)`;
}

export const SHELLCHECK: SystemTool = {command: 'shellcheck', aptPackage: 'shellcheck', requiredBy: 'THOTH_REQUIRE_SHELLCHECK'};
