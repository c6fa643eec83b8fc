import {readFile} from 'node:fs/promises';
import {join} from 'node:path';

import {errnoCode, errorMessage} from '../core/errors.js';
import {PROFILE_FILES} from '../profile/paths.js';

export interface ProfileSettings {
  file: string;
  entries: Map<string, unknown>;
  problems: string[];
}

/**
 * `<profile>/settings.json`: the per-user layer, `{"THOTH_TENANT_ID": "acme", ...}` (the same
 * names as the environment), validated against schemas/settings.schema.json. Usually absent: then
 * nothing else is loaded.
 */
export async function readProfileSettings(profileDir: string): Promise<ProfileSettings> {
  const file = join(profileDir, PROFILE_FILES.settings);
  const result: ProfileSettings = {file, entries: new Map(), problems: []};
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT' && errnoCode(error) !== 'ENOTDIR') result.problems.push(`${file}: cannot be read (${errnoCode(error) ?? errorMessage(error)})`);
    return result;
  }
  // Only now: the validator helpers pull in jsonc-parser, which `thoth run` should not pay for.
  const {describeSchemaErrors, formatSchemaProblem, loadValidator, offsetToPosition} = await import('../util/validators.js');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const offset = /position (\d+)/.exec(errorMessage(error))?.[1];
    const where = offset === undefined ? file : `${file}:${offsetToPosition(text, Number(offset)).line}:${offsetToPosition(text, Number(offset)).column}`;
    result.problems.push(`${where}: not valid JSON (${errorMessage(error).split('\n')[0]})`);
    return result;
  }
  const validate = await loadValidator('settings');
  if (!validate(parsed)) {
    for (const problem of describeSchemaErrors(validate.errors ?? [], text)) result.problems.push(formatSchemaProblem(file, problem));
    return result;
  }
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (key !== '$schema') result.entries.set(key, value);
  }
  return result;
}
