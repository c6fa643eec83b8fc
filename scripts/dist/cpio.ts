import {contentOf, type Tree} from './tree.js';
import type {Sink} from './sink.js';

/**
 * A cpio archive in the portable "odc" format (magic 070707), which is what macOS Installer reads
 * from a component package's Payload and Scripts (pkgbuild writes the same). Paths are written as
 * `.` and `./bin/node`; owner and mtime come from the tree (root:wheel for a payload).
 */
export async function writeCpio(tree: Tree, sink: Sink): Promise<void> {
  let inode = 1;
  for (const entry of tree.entries) {
    const name = entry.path === '' ? '.' : `./${entry.path}`;
    const type = entry.type === 'directory' ? 0o040000 : entry.type === 'symlink' ? 0o120000 : 0o100000;
    const size = entry.type === 'directory' ? 0 : entry.size;
    await sink.write(header({inode: inode++, mode: type | entry.mode, uid: tree.uid, gid: tree.gid, nlink: entry.type === 'directory' ? 2 : 1, mtime: tree.mtime, name, size}));
    if (entry.type === 'directory') continue;
    for await (const chunk of contentOf(entry)) await sink.write(chunk);
  }
  await sink.write(header({inode: 0, mode: 0, uid: 0, gid: 0, nlink: 1, mtime: 0, name: 'TRAILER!!!', size: 0}));
}

function header(fields: {inode: number; mode: number; uid: number; gid: number; nlink: number; mtime: number; name: string; size: number}): Buffer {
  const name = Buffer.from(`${fields.name}\u0000`, 'utf8');
  const text =
    '070707' +
    octal(0, 6) + // dev
    octal(fields.inode, 6) +
    octal(fields.mode, 6) +
    octal(fields.uid, 6) +
    octal(fields.gid, 6) +
    octal(fields.nlink, 6) +
    octal(0, 6) + // rdev
    octal(fields.mtime, 11) +
    octal(name.length, 6) +
    octal(fields.size, 11);
  return Buffer.concat([Buffer.from(text, 'ascii'), name]);
}

function octal(value: number, width: number): string {
  const digits = value.toString(8);
  if (digits.length > width) throw new Error(`cpio: ${value} does not fit ${width} octal digits`);
  return digits.padStart(width, '0');
}
