import type {FileHandle} from 'node:fs/promises';

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

export {syncDirectory} from '../util/atomic-write.js';
