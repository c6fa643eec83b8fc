import type {Hook} from '@oclif/core';

import {jsonTerminalSafe} from '../../util/terminal-text.js';
import {formatErrorLine} from '../../util/error-format.js';
import {describeNotFoundIn} from '../suggest.js';

/**
 * `thoth wrap-confg`, `thoth audit shwo`, `thoth identity extra`: oclif finds no command. The
 * answer is a usage error in thoth's own format (and the --json envelope under --json), with the
 * command the user probably meant, spelt as it is typed (space-separated, never `audit:show`).
 */
const hook: Hook.CommandNotFound = async function (options) {
  const {config, id} = options;
  const argv = options.argv ?? [];
  const words = id.split(':');
  const typed = words.join(' ');
  const described = describeNotFoundIn(config, words);
  process.exitCode = described.exitCode;
  if (wantsJson(argv)) {
    const {code, message, suggestions} = described;
    const envelope = {ok: false, command: typed, status: described.exitCode, error: {code, message, suggestions}, warnings: []};
    process.stdout.write(`${jsonTerminalSafe(JSON.stringify(envelope, null, 2))}\n`);
  }
  process.stderr.write(formatErrorLine(described));
};

export default hook;

/** --json before the end of the flags: the caller reads stdout as an envelope. */
function wantsJson(argv: readonly string[]): boolean {
  for (const arg of argv) {
    if (arg === '--') return false;
    if (arg === '--json') return true;
  }
  return false;
}
