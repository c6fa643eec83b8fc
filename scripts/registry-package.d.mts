export function runProgram(
  command: string,
  args: readonly string[],
  options?: {cwd?: string; stdio?: unknown; env?: NodeJS.ProcessEnv},
): string;

export function fetchRegistryPackage(options: {
  cacheDir: string;
  name: string;
  version: string;
  dirName?: string;
  isComplete?: (packageDir: string) => boolean;
  log?: (message: string) => void;
}): string;
