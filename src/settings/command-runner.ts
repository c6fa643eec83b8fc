/** Runs a fixed program without a shell and captures its output (ioreg, reg.exe). */
export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export type CommandRunner = (file: string, args: readonly string[]) => Promise<CommandResult>;

const TIMEOUT_MS = 10_000;

/**
 * The real runner: never a shell, a hidden window on Windows, a timeout so a wedged helper cannot
 * hang `thoth run`. Rejects only when the program cannot be started (ENOENT, EACCES); a non-zero
 * exit is a result, not an error.
 */
export const runCommand: CommandRunner = async (file, args) => {
  const {execFile} = await import('node:child_process');
  return new Promise((resolve, reject) => {
    execFile(
      file,
      [...args],
      {shell: false, windowsHide: true, timeout: TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024, encoding: 'utf8'},
      (error, stdout, stderr) => {
        if (error && typeof (error as NodeJS.ErrnoException).code === 'string') {
          reject(error);
          return;
        }
        const code = error ? (((error as {code?: unknown}).code as number | null | undefined) ?? null) : 0;
        resolve({code: typeof code === 'number' ? code : null, stdout, stderr});
      },
    );
  });
};
