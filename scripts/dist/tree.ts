import {createReadStream} from 'node:fs';
import {stat} from 'node:fs/promises';

/**
 * A file tree to archive, described once and written by every archive writer (tar, cpio, Bom,
 * MSI): paths are relative and POSIX (`bin/node`), '' is the root directory. File bytes come
 * from a file on disk (the 120 MB Node binary is streamed, never held twice) or from memory.
 */
export interface TreeEntry {
  path: string;
  type: 'file' | 'directory' | 'symlink';
  /** Permission bits only (0o755). */
  mode: number;
  size: number;
  source?: {file: string} | {data: Buffer};
  linkTarget?: string;
}

export interface Tree {
  entries: TreeEntry[];
  /** Owner and modification time every entry gets (installers: root, the release commit's time). */
  uid: number;
  gid: number;
  mtime: number;
}

export interface TreeFileSpec {
  path: string;
  mode: number;
  source: {file: string} | {data: Buffer};
}

/** A tree of these files, with an entry (0755) for every directory above them, sorted by path. */
export async function treeOf(files: readonly TreeFileSpec[], options: {uid?: number; gid?: number; mtime: number; symlinks?: ReadonlyArray<{path: string; target: string}>}): Promise<Tree> {
  const entries = new Map<string, TreeEntry>();
  const addDirectories = (path: string): void => {
    const parts = path.split('/');
    for (let i = 0; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!entries.has(dir)) entries.set(dir, {path: dir, type: 'directory', mode: 0o755, size: 0});
    }
  };
  for (const file of files) {
    if (file.path === '' || file.path.startsWith('/') || file.path.split('/').some((part) => part === '' || part === '.' || part === '..')) {
      throw new Error(`tree: "${file.path}" is not a plain relative path`);
    }
    if (entries.has(file.path)) throw new Error(`tree: "${file.path}" twice`);
    addDirectories(file.path);
    const size = 'data' in file.source ? file.source.data.length : (await stat(file.source.file)).size;
    entries.set(file.path, {path: file.path, type: 'file', mode: file.mode, size, source: file.source});
  }
  for (const link of options.symlinks ?? []) {
    addDirectories(link.path);
    entries.set(link.path, {path: link.path, type: 'symlink', mode: 0o755, size: Buffer.byteLength(link.target), linkTarget: link.target});
  }
  const sorted = [...entries.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return {entries: sorted, uid: options.uid ?? 0, gid: options.gid ?? 0, mtime: options.mtime};
}

/** The bytes of a file entry, in chunks. */
export async function* contentOf(entry: TreeEntry): AsyncGenerator<Buffer> {
  if (entry.type === 'symlink') {
    yield Buffer.from(entry.linkTarget ?? '');
    return;
  }
  if (!entry.source) return;
  if ('data' in entry.source) {
    yield entry.source.data;
    return;
  }
  let seen = 0;
  for await (const chunk of createReadStream(entry.source.file, {highWaterMark: 1 << 20})) {
    seen += (chunk as Buffer).length;
    yield chunk as Buffer;
  }
  // The tree recorded the size when it was built: a file that changed since would corrupt every archive format here.
  if (seen !== entry.size) throw new Error(`${entry.source.file} changed while being archived (${entry.size} bytes expected, ${seen} read)`);
}
