import {ExitCode} from './exit-codes.js';

/**
 * The one error type commands let escape. `code` is a stable machine-readable name, `message` a
 * single line naming the file/field at fault, `suggestions` tell the user what to do next.
 */
export class ThothError extends Error {
  readonly code: string;
  readonly exitCode: number;
  readonly suggestions: readonly string[];
  /** oclif reads `oclif.exit` when it handles an error outside --json mode. */
  readonly oclif: {exit: number};

  constructor(code: string, message: string, options: {exitCode?: number; suggestions?: readonly string[]; cause?: unknown} = {}) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause});
    this.name = 'ThothError';
    this.code = code;
    this.exitCode = options.exitCode ?? ExitCode.UNEXPECTED;
    this.suggestions = options.suggestions ?? [];
    this.oclif = {exit: this.exitCode};
  }
}

export function isThothError(error: unknown): error is ThothError {
  return error instanceof ThothError;
}

/** Node's system errors carry a string `code` such as ENOENT. */
export function errnoCode(error: unknown): string | undefined {
  if (error && typeof error === 'object' && 'code' in error && typeof error.code === 'string') return error.code;
  return undefined;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
