import {join} from 'node:path';

import {PROFILE_FILES} from '../profile/paths.js';
import {readStateFile} from '../util/state-file.js';

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
  const read = await readStateFile<Record<string, unknown>>(file, 'settings');
  if (read.state === 'missing') return result;
  if (read.state === 'invalid') {
    result.problems.push(...read.problems);
    return result;
  }
  const parsed = read.value;
  for (const [key, value] of Object.entries(parsed)) {
    if (key !== '$schema') result.entries.set(key, value);
  }
  return result;
}
