import type {FileHandle} from 'node:fs/promises';
import {open} from 'node:fs/promises';

/** Writes all of `buffer`; on failure reports how many bytes did reach the file. */
export async function writeFully(handle: FileHandle, buffer: Buffer): Promise<{written: number; error?: unknown}> {
  let written = 0;
  while (written < buffer.length) {
    try {
      const {bytesWritten} = await handle.write(buffer, written, buffer.length - written);
      if (bytesWritten === 0) return {written, error: Object.assign(new Error('write made no progress'), {code: 'EIO'})};
      written += bytesWritten;
    } catch (error) {
      return {written, error};
    }
  }
  return {written};
}

/** fsync a directory so that a new file's name survives a power loss (POSIX only). */
export async function syncDirectory(directory: string): Promise<void> {
  if (process.platform === 'win32') return;
  const handle = await open(directory, 'r').catch(() => undefined);
  if (!handle) return;
  try {
    await handle.sync();
  } catch {
    // Some file systems refuse fsync on directories.
  } finally {
    await handle.close();
  }
}
