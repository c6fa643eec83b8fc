import {terminalSafe} from './terminal-text.js';
import {ExitCode} from '../core/exit-codes.js';
import {ThothError, errorMessage} from '../core/errors.js';

/** Kept apart from base-command.ts so that `thoth run` can format errors without loading oclif. */
export interface DescribedError {
  code: string;
  message: string;
  suggestions: string[];
  exitCode: number;
}

export function describeError(error: unknown): DescribedError {
  if (error instanceof ThothError) {
    return {code: error.code, message: error.message, suggestions: [...error.suggestions], exitCode: error.exitCode};
  }
  const oclifExit = (error as {oclif?: {exit?: unknown}} | undefined)?.oclif?.exit;
  if (typeof oclifExit === 'number') {
    // oclif's own parse errors (unknown flag, missing argument) exit 2: usage errors.
    const usage = oclifExit === ExitCode.USAGE;
    return {
      code: usage ? 'USAGE' : 'ERROR',
      message: firstLine(errorMessage(error)),
      suggestions: usage ? ['Run the command with --help to see its flags and arguments.'] : [],
      exitCode: oclifExit,
    };
  }
  return {
    code: 'UNEXPECTED',
    message: firstLine(errorMessage(error)),
    suggestions: ['This is probably a bug in thoth; run again with DEBUG=thoth* and report the output.'],
    exitCode: ExitCode.UNEXPECTED,
  };
}

function firstLine(message: string): string {
  return (
    message
      .split('\n')
      .find((line) => line.trim() !== '')
      ?.trim() ?? message
  );
}

/**
 * The error line (and its hint line) for stderr. Messages quote what the user or a file gave
 * (an approval id, a tool name, a path, oclif's "Unexpected argument: ..."): escaped, so that the
 * message stays one line and cannot drive the terminal.
 */
export function formatErrorLine(error: DescribedError): string {
  const hint = error.suggestions.length > 0 ? `\n  Try this: ${error.suggestions.map(terminalSafe).join(' ')}` : '';
  return `thoth: error: ${terminalSafe(error.message)}${hint}\n`;
}
