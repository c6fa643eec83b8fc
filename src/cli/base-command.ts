import {Command, Flags, ux, type Interfaces} from '@oclif/core';

import {bootstrapProfile} from '../profile/bootstrap.js';
import {thothHome} from '../profile/paths.js';
import {jsonTerminalSafe, terminalSafe, terminalSafeLines} from '../util/terminal-text.js';
import {describeError, formatErrorLine} from '../util/error-format.js';
import {ExitCode} from '../core/exit-codes.js';
import {ThothError} from '../core/errors.js';

/**
 * The stable `--json` envelope of every command. Scripts can rely on `ok`, `status` (the exit
 * code), and either `result` or `error`; `warnings` lists what a human would have seen on stderr.
 */
export type JsonEnvelope<T> =
  | {ok: true; command: string; status: number; result: T; warnings: string[]}
  | {
      ok: false;
      command: string;
      status: number;
      error: {code: string; message: string; suggestions: string[]};
      warnings: string[];
    };

export abstract class BaseCommand<T> extends Command {
  static override enableJsonFlag = true;

  static override baseFlags = {
    'thoth-home': Flags.directory({
      description: 'Profile directory (default: $THOTH_HOME or ~/.thoth).',
      helpGroup: 'GLOBAL',
      required: false,
    }),
  };

  /** Commands about thoth itself (version, help) leave the profile alone, as `--version` does. */
  static bootstrapsProfile = true;

  private readonly warnings: string[] = [];

  /**
   * First run of any command bootstraps the profile. Cheap once it exists (a few
   * stat calls), and never fatal: what it could not do becomes a warning.
   */
  protected override async init(): Promise<void> {
    await super.init();
    if (!(this.ctor as unknown as typeof BaseCommand).bootstrapsProfile) return;
    const result = await bootstrapProfile(profileDirFromArgv(this.argv) ?? thothHome());
    for (const warning of result.warnings) this.note(warning);
  }

  /** The id in the --json envelope (`policy:validate`): a stable contract (docs/exit-codes.md). */
  protected get commandName(): string {
    return this.id ?? this.ctor.id ?? 'thoth';
  }

  /** The command as a person types it (`policy validate`), for messages. */
  protected get typedName(): string {
    return this.commandName.replaceAll(':', ' ');
  }

  /** Sets the exit code without failing: a result that scripts should branch on. */
  protected setExitCode(code: number): void {
    process.exitCode = code;
  }

  /**
   * A warning goes to stderr in human mode and into `warnings` in --json mode. Warnings are one
   * line and often quote paths, names and error messages from outside: escaped whole.
   */
  protected note(message: string): void {
    this.warnings.push(message);
    if (!this.jsonEnabled()) process.stderr.write(`thoth: warning: ${terminalSafe(message)}\n`);
  }

  /**
   * Every line of human output goes through here: the last net against terminal control
   * sequences in a value a renderer did not escape (src/util/terminal-text.ts). It keeps the line
   * feeds of multi-line text thoth built; renderers escape each value they put into a line.
   */
  override log(message = '', ...args: unknown[]): void {
    super.log(typeof message === 'string' ? terminalSafeLines(message) : message, ...args);
  }

  /** The --json envelope, with DEL, C1 and invisible characters as \u escapes (the same JSON). */
  protected override logJson(json: unknown): void {
    ux.stdout(jsonTerminalSafe(ux.colorizeJson(json, {pretty: true, theme: this.config.theme?.json})));
  }

  protected override toSuccessJson(result: unknown): JsonEnvelope<T> {
    const status = typeof process.exitCode === 'number' ? process.exitCode : ExitCode.OK;
    return {ok: true, command: this.commandName, status, result: result as T, warnings: this.warnings};
  }

  protected override toErrorJson(error: unknown): JsonEnvelope<T> {
    const {code, message, suggestions, exitCode} = describeError(error, {command: this.typedName});
    return {ok: false, command: this.commandName, status: exitCode, error: {code, message, suggestions}, warnings: this.warnings};
  }

  protected override async catch(error: Interfaces.CommandError): Promise<unknown> {
    const described = describeError(error, {command: this.typedName});
    process.exitCode = described.exitCode;
    if (this.jsonEnabled()) {
      this.logJson(this.toErrorJson(error));
      process.stderr.write(formatErrorLine(described));
      return undefined;
    }
    process.stderr.write(formatErrorLine(described));
    // Printed already: tell oclif to exit with our code without printing it again.
    const silent = new ThothError(described.code, described.message, {exitCode: described.exitCode});
    Object.assign(silent, {skipOclifErrorHandling: true});
    throw silent;
  }
}

/** `--thoth-home DIR` / `--thoth-home=DIR` before any `--` (read before oclif parses the flags). */
function profileDirFromArgv(argv: readonly string[]): string | undefined {
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]!;
    if (arg === '--') break;
    if (arg === '--thoth-home') return argv[index + 1];
    if (arg.startsWith('--thoth-home=')) return arg.slice('--thoth-home='.length);
  }
  return undefined;
}
