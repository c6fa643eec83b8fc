import {readFile} from 'node:fs/promises';
import {join} from 'node:path';

import {errnoCode, errorMessage} from '../core/errors.js';

/** `~/.thoth/intent_map.json`: server (agent) name → session intent. */
export function intentMapPath(home: string): string {
  return join(home, 'intent_map.json');
}

export type IntentMapResult = {ok: true; map: ReadonlyMap<string, string>; warnings: string[]} | {ok: false; message: string};

/**
 * Reads the intent map. A missing file is an empty map; a file that exists but cannot be read
 * is an error (a session that should be restricted to an intent must not run unrestricted).
 */
export async function readIntentMap(home: string): Promise<IntentMapResult> {
  const path = intentMapPath(home);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return {ok: true, map: new Map(), warnings: []};
    return {ok: false, message: `${path} cannot be read (${errnoCode(error) ?? errorMessage(error)}): make it readable by this user`};
  }
  let parsed: unknown;
  try {
    parsed = text.trim() === '' ? {} : JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    return {
      ok: false,
      message: `${path} is not valid JSON (${errorMessage(error)}): it must map server names to intents, e.g. {"phi-boundary": "phi_eligibility_check"}`,
    };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return {
      ok: false,
      message: `${path} must be a JSON object mapping server names to intents, e.g. {"phi-boundary": "phi_eligibility_check"}`,
    };
  }
  const map = new Map<string, string>();
  const warnings: string[] = [];
  for (const [server, intent] of Object.entries(parsed)) {
    if (typeof intent === 'string' && intent !== '') map.set(server, intent);
    else warnings.push(`${path} at /${server}: the intent must be a non-empty string; entry ignored`);
  }
  return {ok: true, map, warnings};
}
