import {homedir} from 'node:os';
import {join} from 'node:path';

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
