import {readFile} from 'node:fs/promises';

import {errnoCode, errorMessage} from '../core/errors.js';

/**
 * thoth's own JSON state files (approvals, pins, baselines, control-plane state, settings.json)
 * are read one way: missing is an answer, not an error; anything else must parse and match its
 * schema, or it is reported as damaged, never trusted half-read. Callers decide what damaged
 * means for them (fail closed, start over, or report).
 */
export type StateRead<T> =
  | {state: 'ok'; value: T}
  | {state: 'missing'}
  | {
      state: 'invalid';
      /** One line naming the file (with line:column when known), where and what: for errors and logs. */
      message: string;
      /** Every schema problem, one line each (settings.json reports them all). */
      problems: string[];
    };

export async function readStateFile<T>(path: string, schema: string): Promise<StateRead<T>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') return {state: 'missing'};
    return invalid(path, `cannot be read (${code ?? errorMessage(error)})`);
  }
  // Only once a file exists: the validators and jsonc-parser are not loaded for nothing.
  const {describeSchemaErrors, formatSchemaProblem, loadValidator, offsetToPosition} = await import('./validators.js');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const detail = errorMessage(error).split('\n')[0]!;
    const offset = /position (\d+)/.exec(detail)?.[1];
    if (offset === undefined) return invalid(path, `not valid JSON (${detail})`);
    const {line, column} = offsetToPosition(text, Number(offset));
    return invalid(path, `not valid JSON (${detail})`, `${path}:${line}:${column}`);
  }
  const validate = await loadValidator(schema);
  if (validate(parsed)) return {state: 'ok', value: parsed as T};
  const problems = describeSchemaErrors(validate.errors ?? [], text).map((problem) => formatSchemaProblem(path, problem));
  const first = problems[0] ?? `${path}: does not match its schema`;
  return {state: 'invalid', message: first, problems: problems.length > 0 ? problems : [first]};
}

function invalid(path: string, why: string, where: string = path): StateRead<never> {
  const message = `${where}: ${why}`;
  return {state: 'invalid', message, problems: [message]};
}
