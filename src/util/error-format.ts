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

export interface ErrorContext {
  /** The command that failed, as typed (`audit show`): named in the hint of a usage error. */
  command?: string | undefined;
}

export function describeError(error: unknown, context: ErrorContext = {}): DescribedError {
  if (error instanceof ThothError) {
    return {code: error.code, message: error.message, suggestions: [...error.suggestions], exitCode: error.exitCode};
  }
  const oclifExit = (error as {oclif?: {exit?: unknown}} | undefined)?.oclif?.exit;
  if (typeof oclifExit === 'number') {
    // oclif's own parse errors (unknown flag, missing argument) exit 2: usage errors.
    const usage = oclifExit === ExitCode.USAGE;
    const help = context.command === undefined ? 'the command with --help' : `\`thoth ${context.command} --help\``;
    return {
      code: usage ? 'USAGE' : 'ERROR',
      message: usage ? usageMessage(error) : wholeMessage(errorMessage(error)),
      suggestions: usage ? [`Run ${help} to see its flags and arguments.`] : [],
      exitCode: oclifExit,
    };
  }
  return {
    code: 'UNEXPECTED',
    message: wholeMessage(errorMessage(error)),
    suggestions: ['This is probably a bug in thoth; run again with DEBUG=thoth* and report the output.'],
    exitCode: ExitCode.UNEXPECTED,
  };
}

interface OclifArg {
  name?: string;
  description?: string;
  options?: readonly string[];
}

/**
 * oclif's usage errors are several lines: a heading ("Missing 1 required arg:", "The following
 * errors occurred:", "Parsing --limit") and then what the heading is about. The heading alone
 * tells the user nothing, so the whole message is kept, as one line (the envelope's `message` is
 * one line, and so is `thoth: error:`).
 */
function usageMessage(error: unknown): string {
  const missing = (error as {args?: unknown}).args;
  const message = errorMessage(error);
  if (/^Missing \d+ required args?/.test(message) && Array.isArray(missing) && missing.length > 0) {
    const args = (missing as OclifArg[]).map((arg) => {
      const name = (arg.name ?? '?').toUpperCase();
      const accepts = arg.options ? ` (one of ${arg.options.join(', ')})` : '';
      return arg.description ? `${name}${accepts}: ${arg.description}` : `${name}${accepts}`;
    });
    return `missing required argument${args.length === 1 ? '' : 's'} ${args.join('; ')}`;
  }
  const flags = (error as {parse?: {input?: {flags?: Record<string, {description?: string; options?: readonly string[]}>}}}).parse?.input
    ?.flags;
  const requiredFlags = [...stripAnsi(message).matchAll(/^\s*Missing required flag (\S+)\s*$/gm)].map((match) => match[1]!);
  if (requiredFlags.length > 0) {
    const described = requiredFlags.map((name) => {
      const flag = flags?.[name];
      const accepts = flag?.options ? ` (one of ${flag.options.join(', ')})` : '';
      return flag?.description ? `--${name}${accepts}: ${flag.description}` : `--${name}${accepts}`;
    });
    const others = wholeMessage(stripAnsi(message).replace(/^\s*Missing required flag \S+\s*$/gm, ''));
    const rest = /^The following errors? occurred:?$/.test(others) ? '' : `; ${others.replace(/^The following errors? occurred: /, '')}`;
    return `missing required flag${described.length === 1 ? '' : 's'} ${described.join('; ')}${rest}`;
  }
  return wholeMessage(message).replace(/^The following errors? occurred: /, '');
}

/** Every line of a message, joined: "Parsing --limit" + "Expected an integer …" → "Parsing --limit: Expected an integer …". */
export function wholeMessage(message: string): string {
  const lines = stripAnsi(message)
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && line !== 'See more help with --help');
  if (lines.length === 0) return message.trim() === '' ? 'unknown error' : message.trim();
  const [first, ...rest] = lines;
  if (rest.length === 0) return first!;
  return `${first!.replace(/:$/, '')}: ${rest.join('; ')}`;
}

/** oclif colours parts of its messages on a terminal; the escapes would otherwise show as `\x1b[2m`. */
function stripAnsi(text: string): string {
  return text.replace(/\u001b\[[0-9;]*m/g, '');
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
