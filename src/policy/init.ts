import {copyFile, stat} from 'node:fs/promises';
import {dirname, join, resolve} from 'node:path';

import {ThothError, errnoCode} from '../core/errors.js';
import {ExitCode} from '../core/exit-codes.js';
import {thothHome} from '../profile/paths.js';
import {writeFileAtomic} from '../util/atomic-write.js';
import {describeLocation, locateRunPolicy} from './run-policy.js';
import {STARTER_POLICY} from './starter-policy.js';

export interface PolicyInitOptions {
  /** --output; default the profile's policy.json, the file `thoth run` reads when nothing managed or named comes first. */
  output?: string | undefined;
  /** Replace an existing file (a backup is kept beside it). */
  force?: boolean | undefined;
  profileDir?: string | undefined;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** For the backup's name (tests pass a fixed clock). */
  now?: () => Date;
}

export interface PolicyInitResult {
  file: string;
  /** The file that was there before, kept (with --force). */
  backup?: string;
  /** Whether `thoth run` will enforce this file, and if not, which one it enforces. */
  inEffect: boolean;
  enforced: {source: string; path: string | null};
}

/** `thoth policy init`: writes the commented starter policy (STARTER_POLICY), never over a file unless told to. */
export async function initPolicy(options: PolicyInitOptions = {}): Promise<PolicyInitResult> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const profileDir = options.profileDir ?? thothHome(env);
  const file = options.output === undefined ? join(profileDir, 'policy.json') : resolve(cwd, options.output);
  const existing = await stat(file).catch((error: unknown) => {
    if (errnoCode(error) === 'ENOENT') return undefined;
    throw error;
  });
  if (existing !== undefined && !existing.isFile()) {
    throw new ThothError('POLICY_NOT_A_FILE', `${file} exists and is not a file`, {
      exitCode: ExitCode.INVALID_INPUT,
      suggestions: ['Pass --output with a file name.'],
    });
  }
  if (existing !== undefined && options.force !== true) {
    throw new ThothError('POLICY_EXISTS', `${file} exists already; nothing was written`, {
      exitCode: ExitCode.CONFLICT,
      suggestions: ['Pass --force to replace it (the old file is kept beside it), or --output FILE to write the starter policy elsewhere.'],
    });
  }
  if (!(await stat(dirname(file)).catch(() => undefined))?.isDirectory()) {
    throw new ThothError('POLICY_DIR_NOT_FOUND', `${dirname(file)}: no such directory; nothing was written`, {
      exitCode: ExitCode.NOT_FOUND,
      suggestions: ['Create the directory first, or pass --output with another path.'],
    });
  }
  const result: Omit<PolicyInitResult, 'inEffect' | 'enforced'> = {file};
  if (existing !== undefined) {
    const stamp = (options.now ?? (() => new Date()))().toISOString().replace(/[:.]/g, '-');
    result.backup = `${file}.${stamp}.bak`;
    await copyFile(file, result.backup);
  }
  await writeFileAtomic(file, STARTER_POLICY);
  const location = await locateRunPolicy({profileDir, env, cwd});
  const enforcedPath = location.kind === 'builtin' ? null : location.candidate.path;
  return {...result, inEffect: enforcedPath === file, enforced: {source: describeLocation(location), path: enforcedPath}};
}
