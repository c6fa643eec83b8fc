import {ExitCode} from '../core/exit-codes.js';
import {ADAPTERS} from './clients/index.js';
import type {ChangeResult} from './engine.js';
import {formatChange, nextSteps} from './format.js';

/** What a command gives the shared reporting: its output channels. */
export interface Reporter {
  log(line: string): void;
  note(message: string): void;
  setExitCode(code: number): void;
  json: boolean;
}

/**
 * Prints a wrap/unwrap result and sets the exit code scripts branch on: the first file error's
 * code, else 10 (CHANGES_PENDING) for a --dry-run that would change something, else 0.
 */
export function reportChange(reporter: Reporter, result: ChangeResult): void {
  if (result.files.length === 0) reporter.note(`no MCP client config found (looked in ${(result.searched ?? []).join(', ')})`);
  for (const file of result.files) {
    if (file.inferred) reporter.note(file.inferred);
    if (file.error) reporter.note(`${file.file}: ${file.error.message}`);
    for (const server of file.servers) {
      if (server.action === 'skipped')
        reporter.note(`${ADAPTERS[file.client].label} server "${server.server}" left as is: ${server.reason ?? 'cannot be governed'}`);
    }
  }
  // People get a labelled diff per file and server; the RFC 6902 patch is in --json (one document).
  if (!reporter.json) for (const line of [...formatChange(result), ...nextSteps(result)]) reporter.log(line);
  const failed = result.files.find((file) => file.error);
  if (failed?.error) reporter.setExitCode(failed.error.exitCode);
  else reporter.setExitCode(result.dryRun && result.changed ? ExitCode.CHANGES_PENDING : ExitCode.OK);
}
