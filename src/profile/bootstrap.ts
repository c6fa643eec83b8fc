import {randomBytes} from 'node:crypto';
import {chmod, link, mkdir, open, stat, unlink} from 'node:fs/promises';
import {join} from 'node:path';

import {errnoCode, errorMessage} from '../core/errors.js';
import {PROFILE_FILES} from './paths.js';

export interface BootstrapResult {
  profileDir: string;
  /** Paths created by this call (empty on every run after the first). */
  created: string[];
  /** Paths whose mode was looser than thoth's and was tightened. */
  tightened: string[];
  /** One line per thing a person should know (tightened modes, files thoth could not create). */
  warnings: string[];
}

const DIR_MODE = 0o700;
const FILE_MODE = 0o600;

/**
 * First-run bootstrap of the profile: `profileDir` (normally `~/.thoth`) 0700,
 * `intent_map.json` and `proxy_api_key.json` created as `{}` with mode 0600 when missing, and the
 * directory and key file tightened, with a warning, when found looser. Never throws for an
 * ordinary failure (read-only home, foreign owner): every command must still run, so problems
 * come back as warnings. Cheap when everything exists: three stat calls.
 */
export async function bootstrapProfile(profileDir: string, options: {platform?: NodeJS.Platform} = {}): Promise<BootstrapResult> {
  const platform = options.platform ?? process.platform;
  const result: BootstrapResult = {profileDir, created: [], tightened: [], warnings: []};
  try {
    // mkdir -p fails with EEXIST when the path is a file: the stat below says so in plain words.
    const made = await mkdir(profileDir, {recursive: true, mode: DIR_MODE}).catch((error: unknown) => {
      if (errnoCode(error) === 'EEXIST') return undefined;
      throw error;
    });
    if (made !== undefined) {
      result.created.push(profileDir);
      // mkdir applies the umask to the mode; say exactly what we mean.
      if (platform !== 'win32') await chmod(profileDir, DIR_MODE);
    }
    const info = await stat(profileDir);
    if (!info.isDirectory()) {
      result.warnings.push(`${profileDir} is not a directory: thoth cannot keep its profile there; remove it or set THOTH_HOME`);
      return result;
    }
    if (made === undefined) await tighten(profileDir, DIR_MODE, 'the profile directory', platform, result);
  } catch (error) {
    result.warnings.push(`cannot create the profile directory ${profileDir}: ${errorMessage(error)}`);
    return result;
  }
  for (const name of [PROFILE_FILES.intentMap, PROFILE_FILES.apiKey]) {
    const path = join(profileDir, name);
    try {
      if (await createIfMissing(path, '{}\n')) result.created.push(path);
      else if (name === PROFILE_FILES.apiKey) await tighten(path, FILE_MODE, 'it holds the API key', platform, result);
    } catch (error) {
      result.warnings.push(`cannot create ${path}: ${errorMessage(error)}`);
    }
  }
  return result;
}

async function tighten(path: string, mode: number, why: string, platform: NodeJS.Platform, result: BootstrapResult): Promise<void> {
  if (platform === 'win32') return;
  const current = (await stat(path)).mode & 0o777;
  if ((current & ~mode) === 0) return;
  try {
    await chmod(path, mode);
    result.tightened.push(path);
    result.warnings.push(`tightened ${path} from ${octal(current)} to ${octal(mode)} (${why})`);
  } catch (error) {
    result.warnings.push(
      `${path} has mode ${octal(current)}, looser than ${octal(mode)} (${why}), and thoth cannot change it: ${errorMessage(error)}`,
    );
  }
}

/**
 * Creates `path` with `content` only if it does not exist, so that a reader never sees a half
 * written file even when several thoth processes start at once: write a private temporary file,
 * then hard-link it into place (link fails with EEXIST instead of replacing).
 */
async function createIfMissing(path: string, content: string): Promise<boolean> {
  try {
    await stat(path);
    return false;
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') throw error;
  }
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temp, 'wx', FILE_MODE);
  try {
    await handle.writeFile(content);
    await handle.chmod(FILE_MODE);
  } finally {
    await handle.close();
  }
  try {
    await link(temp, path);
    return true;
  } catch (error) {
    if (errnoCode(error) === 'EEXIST') return false;
    // File systems without hard links (FAT, some network shares): exclusive create instead.
    if (errnoCode(error) === 'EPERM' || errnoCode(error) === 'ENOTSUP' || errnoCode(error) === 'EXDEV') {
      return createExclusive(path, content);
    }
    throw error;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

async function createExclusive(path: string, content: string): Promise<boolean> {
  try {
    const handle = await open(path, 'wx', FILE_MODE);
    try {
      await handle.writeFile(content);
    } finally {
      await handle.close();
    }
    return true;
  } catch (error) {
    if (errnoCode(error) === 'EEXIST') return false;
    throw error;
  }
}

export function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}
