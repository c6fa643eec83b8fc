import {homedir} from 'node:os';
import {join} from 'node:path';

/** File names inside the profile directory. */
export const PROFILE_FILES = {
  /** Server name → session intent. */
  intentMap: 'intent_map.json',
  /** `{"api_key": "..."}`, mode 0600: written by `thoth api-key set`. */
  apiKey: 'proxy_api_key.json',
  /** Per-user settings, the lowest layer above the defaults (keys are the THOTH_* variable names). */
  settings: 'settings.json',
} as const;

/**
 * The profile directory: `$THOTH_HOME` when set (tests, shared machines), else `~/.thoth`.
 * Every file thoth keeps for a user lives under it.
 */
export function thothHome(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  const override = env['THOTH_HOME'];
  return override !== undefined && override !== '' ? override : join(home, '.thoth');
}

export function profilePath(name: string, env: NodeJS.ProcessEnv = process.env, home?: string): string {
  return join(thothHome(env, home), name);
}
