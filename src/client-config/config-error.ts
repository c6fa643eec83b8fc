import {ThothError} from '../core/errors.js';
import {ExitCode} from '../core/exit-codes.js';

/** Where in a config file a problem is: the file, 1-based line and column, and a JSON pointer. */
export interface ConfigLocation {
  file: string;
  line?: number;
  column?: number;
  pointer: string;
}

/** `file:line:col at /pointer: message`, the one-line form every config error uses. */
export function formatLocated(location: ConfigLocation, message: string): string {
  const where = location.line === undefined ? location.file : `${location.file}:${location.line}:${location.column ?? 1}`;
  return `${where} at ${location.pointer === '' ? '/' : location.pointer}: ${message}`;
}

/** An input config that thoth refuses to edit: nothing was written. */
export function invalidConfig(location: ConfigLocation, message: string, suggestion?: string): ThothError {
  return new ThothError('CONFIG_INVALID', formatLocated(location, message), {
    exitCode: ExitCode.INVALID_INPUT,
    suggestions: [suggestion ?? `Fix ${location.file} (nothing was changed), then run the command again.`],
  });
}

export function pointerOf(path: readonly (string | number)[]): string {
  return path.map((segment) => `/${String(segment).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}
