import {Cksum} from './cksum.js';
import {contentOf, type Tree, type TreeEntry} from './tree.js';

/**
 * Apple's bill of materials ("BOMStore") for a component package: every path of the Payload with
 * its type, mode, owner, size and cksum CRC. Installer records it as the receipt that
 * `pkgutil --files` and `lsbom` read. The block layout follows bomutils' mkbom (Mozilla builds
 * Firefox's .pkg with it on Linux): a Paths tree in leaves of 256 entries, breadth-first from
 * `.`, plus the empty HLIndex, VIndex and Size64 trees. All integers are big-endian.
 */

const LEAF_CAPACITY = 256;
const TYPE = {file: 1, directory: 2, symlink: 3} as const;
const MODE_TYPE = {file: 0o100000, directory: 0o040000, symlink: 0o120000} as const;

class BlockStore {
  private readonly blocks: Buffer[] = [];

  /** Adds a block; returns its index (0 is the null block). */
  add(data: Buffer): number {
    this.blocks.push(data);
    return this.blocks.length;
  }

  get(index: number): Buffer {
    return this.blocks[index - 1]!;
  }

  serialize(vars: ReadonlyArray<{name: string; index: number}>): Buffer {
    const varsBuffer = Buffer.concat([u32(vars.length), ...vars.map((v) => Buffer.concat([u32(v.index), Buffer.from([v.name.length]), Buffer.from(v.name, 'ascii')]))]);
    const dataStart = 512 + varsBuffer.length;
    const pointers: Buffer[] = [u32(this.blocks.length + 1), u32(0), u32(0)];
    let offset = dataStart;
    for (const block of this.blocks) {
      pointers.push(u32(block.length === 0 ? 0 : offset), u32(block.length));
      offset += block.length;
    }
    // An empty free list with room for two pointers, as mkbom writes it.
    const freeList = Buffer.concat([u32(0), Buffer.alloc(16)]);
    const index = Buffer.concat([...pointers, freeList]);
    const header = Buffer.alloc(512);
    header.write('BOMStore', 0, 'ascii');
    header.writeUInt32BE(1, 8);
    header.writeUInt32BE(this.blocks.length, 12);
    header.writeUInt32BE(offset, 16);
    header.writeUInt32BE(index.length, 20);
    header.writeUInt32BE(512, 24);
    header.writeUInt32BE(varsBuffer.length, 28);
    return Buffer.concat([header, varsBuffer, ...this.blocks, index]);
  }
}

export async function buildBom(tree: Tree): Promise<Buffer> {
  const store = new BlockStore();
  const count = tree.entries.length;
  const bomInfo = Buffer.concat([u32(1), u32(count + 1), u32(count === 0 ? 0 : 1), ...(count === 0 ? [] : [Buffer.alloc(16)])]);
  const vars: Array<{name: string; index: number}> = [{name: 'BomInfo', index: store.add(bomInfo)}];

  // Breadth-first from ".", children in byte order, each with its parent's id.
  const children = new Map<string, TreeEntry[]>();
  for (const entry of tree.entries) {
    if (entry.path === '') continue;
    const parent = entry.path.includes('/') ? entry.path.slice(0, entry.path.lastIndexOf('/')) : '';
    children.set(parent, [...(children.get(parent) ?? []), entry]);
  }
  const root = tree.entries.find((entry) => entry.path === '');
  if (!root) throw new Error('bom: the tree has no root directory');
  const order: Array<{entry: TreeEntry; parent: number; name: string}> = [{entry: root, parent: 0, name: '.'}];
  for (let i = 0; i < order.length; i++) {
    const kids = [...(children.get(order[i]!.entry.path) ?? [])].sort((a, b) => Buffer.compare(Buffer.from(baseName(a.path)), Buffer.from(baseName(b.path))));
    for (const kid of kids) order.push({entry: kid, parent: i + 1, name: baseName(kid.path)});
  }

  const leaves: Array<{items: Array<[number, number]>}> = [];
  for (let i = 0; i < order.length; i++) {
    const {entry, parent, name} = order[i]!;
    if (i % LEAF_CAPACITY === 0) leaves.push({items: []});
    const info = store.add(await pathInfo(entry, tree));
    const pointer = store.add(Buffer.concat([u32(i + 1), u32(info)]));
    const file = store.add(Buffer.concat([u32(parent), Buffer.from(`${name}\u0000`, 'utf8')]));
    leaves.at(-1)!.items.push([pointer, file]);
  }
  const leafIds: number[] = [];
  for (const [index, leaf] of leaves.entries()) {
    const id = store.add(node(true, leaf.items, 0, index === 0 ? 0 : leafIds[index - 1]!));
    if (index > 0) store.get(leafIds[index - 1]!).writeUInt32BE(id, 4);
    leafIds.push(id);
  }
  const pathsRoot = leaves.length > 1 ? store.add(node(false, leafIds.map((id, index) => [id, leaves[index]!.items.at(-1)![1]]), 0, 0)) : leafIds[0]!;
  vars.push({name: 'Paths', index: store.add(treeBlock(pathsRoot, 4096, order.length))});

  vars.push({name: 'HLIndex', index: store.add(treeBlock(store.add(node(true, [], 0, 0)), 4096, 0))});
  const vTree = store.add(treeBlock(store.add(node(true, [], 0, 0)), 128, 0));
  vars.push({name: 'VIndex', index: store.add(Buffer.concat([u32(1), u32(vTree), u32(0), Buffer.from([0])]))});
  vars.push({name: 'Size64', index: store.add(treeBlock(store.add(node(true, [], 0, 0)), 4096, 0))});
  return store.serialize(vars);
}

async function pathInfo(entry: TreeEntry, tree: Tree): Promise<Buffer> {
  let checksum = 0;
  if (entry.type !== 'directory') {
    const crc = new Cksum();
    for await (const chunk of contentOf(entry)) crc.update(chunk);
    checksum = crc.digest();
  }
  const link = entry.type === 'symlink' ? Buffer.from(`${entry.linkTarget ?? ''}\u0000`, 'utf8') : Buffer.alloc(0);
  const head = Buffer.alloc(31);
  head.writeUInt8(TYPE[entry.type], 0);
  head.writeUInt8(1, 1);
  head.writeUInt16BE(3, 2);
  head.writeUInt16BE(MODE_TYPE[entry.type] | entry.mode, 4);
  head.writeUInt32BE(tree.uid, 6);
  head.writeUInt32BE(tree.gid, 10);
  head.writeUInt32BE(tree.mtime, 14);
  head.writeUInt32BE(entry.type === 'directory' ? 0 : entry.size, 18);
  head.writeUInt8(1, 22);
  head.writeUInt32BE(checksum, 23);
  head.writeUInt32BE(link.length, 27);
  return Buffer.concat([head, link]);
}

/** A tree node: `isLeaf`, count, forward, backward, then (key, value) block indices. */
function node(isLeaf: boolean, items: ReadonlyArray<readonly [number, number]>, forward: number, backward: number): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(isLeaf ? 1 : 0, 0);
  head.writeUInt16BE(items.length, 2);
  head.writeUInt32BE(forward, 4);
  head.writeUInt32BE(backward, 8);
  return Buffer.concat([head, ...items.map(([key, value]) => Buffer.concat([u32(key), u32(value)]))]);
}

function treeBlock(child: number, blockSize: number, pathCount: number): Buffer {
  return Buffer.concat([Buffer.from('tree', 'ascii'), u32(1), u32(child), u32(blockSize), u32(pathCount), Buffer.from([0])]);
}

function u32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value, 0);
  return buffer;
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
