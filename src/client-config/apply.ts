import {createHash} from 'node:crypto';

import {ThothError, errnoCode} from '../core/errors.js';
import {ExitCode} from '../core/exit-codes.js';
import type {ConfigHost} from './host.js';

/** How many timestamped backups of one config thoth keeps beside it. */
export const DEFAULT_BACKUPS = 5;
export const BACKUP_INFIX = '.thoth-backup-';

export interface WriteRequest {
  /** The file the plan was computed from, and the exact bytes read from it. */
  input: string;
  inputBytes: Uint8Array;
  /** The file to write (the input itself unless --output), and its bytes when read (undefined: absent). */
  output: string;
  outputBytes: Uint8Array | undefined;
  data: Uint8Array;
  keepBackups?: number;
}

export function lockFileFor(file: string): string {
  return `${file}.thoth-lock`;
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Writes a planned config: a backup of what is replaced beside it, then an atomic replace that is
 * refused if the input or the output changed since they were read (the client itself may be
 * writing the file). The caller holds the lock for the whole read → plan → write.
 */
export async function writePlanned(host: ConfigHost, request: WriteRequest): Promise<{backup?: string}> {
  const existing = await host.fs.stat(request.output);
  let backup: string | undefined;
  if (existing && request.outputBytes !== undefined) {
    backup = `${request.output}${BACKUP_INFIX}${host.now().toISOString().replace(/[:.]/g, '-')}`;
    // Backups hold the same secrets as the config: owner-only, owned like the config.
    await host.fs.writeNewFile(backup, request.outputBytes, {mode: 0o600, owner: existing});
  }
  try {
    await host.fs.writeFileAtomic(request.output, request.data, {
      beforeRename: async () => {
        await assertUnchanged(host, request.input, request.inputBytes);
        if (request.output !== request.input) await assertUnchanged(host, request.output, request.outputBytes);
      },
    });
  } catch (error) {
    if (backup) await host.fs.remove(backup);
    throw error;
  }
  if (backup) await pruneBackups(host, request.output, request.keepBackups ?? DEFAULT_BACKUPS);
  return backup === undefined ? {} : {backup};
}

async function assertUnchanged(host: ConfigHost, file: string, expected: Uint8Array | undefined): Promise<void> {
  let current: Uint8Array | undefined;
  try {
    current = await host.fs.readFile(file);
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') throw error;
  }
  const same = current === undefined || expected === undefined ? current === expected : sha256(current) === sha256(expected);
  if (!same) {
    throw new ThothError('CONFIG_CHANGED', `${file} changed while thoth was editing it; nothing was written`, {
      exitCode: ExitCode.CONFLICT,
      suggestions: ['Another program (often the client itself) wrote the file. Run the command again.'],
    });
  }
}

/** Keeps the newest `keep` backups of `file` (names sort by their timestamp). */
export async function pruneBackups(host: ConfigHost, file: string, keep: number): Promise<void> {
  const directory = host.path.dirname(file);
  const prefix = `${host.path.basename(file)}${BACKUP_INFIX}`;
  const backups = (await host.fs.readdir(directory)).filter((name) => name.startsWith(prefix) && !name.endsWith('.tmp')).sort();
  for (const name of backups.slice(0, Math.max(0, backups.length - keep))) await host.fs.remove(host.path.join(directory, name));
}
