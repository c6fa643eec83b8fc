import {contentOf, type Tree} from './tree.js';
import type {Sink} from './sink.js';

/**
 * A POSIX ustar archive of `tree`, every path under `prefix` (e.g. `thoth/`). Owner and times come
 * from the tree, so the archive depends only on its content. Paths longer than ustar's 100 bytes
 * are split into its 155-byte prefix field; longer ones are refused rather than truncated.
 */
export async function writeTar(tree: Tree, sink: Sink, options: {prefix?: string} = {}): Promise<void> {
  const prefix = options.prefix ?? '';
  for (const entry of tree.entries) {
    const name = entry.type === 'directory' ? `${prefix}${entry.path}${entry.path === '' ? '' : '/'}` : `${prefix}${entry.path}`;
    if (name === '') continue;
    const size = entry.type === 'file' ? entry.size : 0;
    await sink.write(header({name, mode: entry.mode, uid: tree.uid, gid: tree.gid, size, mtime: tree.mtime, type: entry.type, linkName: entry.linkTarget ?? ''}));
    if (entry.type !== 'file') continue;
    for await (const chunk of contentOf(entry)) await sink.write(chunk);
    const padding = (512 - (size % 512)) % 512;
    if (padding > 0) await sink.write(Buffer.alloc(padding));
  }
  // Two zero blocks end the archive.
  await sink.write(Buffer.alloc(1024));
}

function header(fields: {name: string; mode: number; uid: number; gid: number; size: number; mtime: number; type: 'file' | 'directory' | 'symlink'; linkName: string}): Buffer {
  const block = Buffer.alloc(512);
  const [prefix, name] = splitName(fields.name);
  block.write(name, 0, 100, 'utf8');
  writeOctal(block, 100, 8, fields.mode);
  writeOctal(block, 108, 8, fields.uid);
  writeOctal(block, 116, 8, fields.gid);
  writeOctal(block, 124, 12, fields.size);
  writeOctal(block, 136, 12, fields.mtime);
  block.fill(' ', 148, 156);
  block.write(fields.type === 'directory' ? '5' : fields.type === 'symlink' ? '2' : '0', 156, 1, 'ascii');
  if (Buffer.byteLength(fields.linkName) > 100) throw new Error(`tar: link target of ${fields.name} is longer than 100 bytes`);
  block.write(fields.linkName, 157, 100, 'utf8');
  block.write('ustar\u000000', 257, 8, 'ascii');
  block.write(fields.uid === 0 ? 'root' : '', 265, 32, 'ascii');
  block.write(fields.gid === 0 ? 'root' : '', 297, 32, 'ascii');
  block.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'ascii');
  return block;
}

function splitName(name: string): [string, string] {
  if (Buffer.byteLength(name) <= 100) return ['', name];
  for (let at = name.indexOf('/'); at !== -1; at = name.indexOf('/', at + 1)) {
    const prefix = name.slice(0, at);
    const rest = name.slice(at + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100) return [prefix, rest];
  }
  throw new Error(`tar: ${name} is too long for ustar`);
}

function writeOctal(block: Buffer, offset: number, length: number, value: number): void {
  const digits = value.toString(8);
  if (digits.length > length - 1) throw new Error(`tar: ${value} does not fit ${length - 1} octal digits`);
  block.write(`${digits.padStart(length - 1, '0')}\u0000`, offset, length, 'ascii');
}
