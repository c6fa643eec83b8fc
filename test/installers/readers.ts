import {createDecipheriv, createHash, createHmac, timingSafeEqual} from 'node:crypto';
import {mkdir, readFile} from 'node:fs/promises';
import {join} from 'node:path';

import {run} from './release-helper.js';

/**
 * Readers for what Linux has no tool for, written from the formats' descriptions, not from
 * scripts/dist: Apple's Bom (the stuckliste project's "BOM file format reference", an
 * independent reverse-engineering of Apple's files) and an .intunewin opened the way Intune
 * opens it (Detection.xml's keys; MAC over IV ‖ ciphertext; decrypt; SHA-256 of the result).
 */

export interface BomPath {
  path: string;
  type: 'file' | 'directory' | 'symlink' | 'device';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  checksum: number;
  linkTarget?: string;
}

export function readBom(bytes: Buffer): {paths: BomPath[]; named: string[]; leaves: number} {
  if (bytes.subarray(0, 8).toString('latin1') !== 'BOMStore') throw new Error('not a BOMStore file');
  if (bytes.readUInt32BE(8) !== 1) throw new Error('unknown BOMStore version');
  const regularOffset = bytes.readUInt32BE(16);
  const namedOffset = bytes.readUInt32BE(24);
  const blockCount = bytes.readUInt32BE(regularOffset);
  const block = (index: number): Buffer => {
    if (index <= 0 || index >= blockCount) throw new Error(`block ${index} out of range`);
    const at = regularOffset + 4 + index * 8;
    const offset = bytes.readUInt32BE(at);
    const size = bytes.readUInt32BE(at + 4);
    if (offset + size > bytes.length) throw new Error(`block ${index} runs past the end of the file`);
    return bytes.subarray(offset, offset + size);
  };
  const named = new Map<string, number>();
  let cursor = namedOffset + 4;
  for (let i = 0, n = bytes.readUInt32BE(namedOffset); i < n; i++) {
    const index = bytes.readUInt32BE(cursor);
    const length = bytes.readUInt8(cursor + 4);
    named.set(bytes.subarray(cursor + 5, cursor + 5 + length).toString('latin1'), index);
    cursor += 5 + length;
  }
  const paths = named.get('Paths');
  if (paths === undefined) throw new Error('no Paths block');
  const tree = block(paths);
  if (tree.subarray(0, 4).toString('latin1') !== 'tree') throw new Error('Paths is not a tree');
  const entries: Array<{id: number; parent: number; name: string; meta: Buffer}> = [];
  let node = block(tree.readUInt32BE(8));
  // Meta nodes: descend through the first key to the first data node; data nodes are then chained by `next`.
  while (node.readUInt16BE(0) !== 1) node = block(node.readUInt32BE(12));
  let leaves = 0;
  for (;;) {
    leaves++;
    const count = node.readUInt16BE(2);
    for (let i = 0; i < count; i++) {
      const key = block(node.readUInt32BE(12 + i * 8));
      const value = block(node.readUInt32BE(16 + i * 8));
      const nameEnd = value.indexOf(0, 4);
      entries.push({
        id: key.readUInt32BE(0),
        parent: value.readUInt32BE(0),
        name: value.subarray(4, nameEnd).toString('utf8'),
        meta: block(key.readUInt32BE(4)),
      });
    }
    const next = node.readUInt32BE(4);
    if (next === 0) break;
    node = block(next);
  }
  const byId = new Map(entries.map((entry) => [entry.id, entry]));
  const fullPath = (id: number): string => {
    const entry = byId.get(id)!;
    return entry.parent === 0 ? entry.name : `${fullPath(entry.parent)}/${entry.name}`;
  };
  const types = {1: 'file', 2: 'directory', 3: 'symlink', 4: 'device'} as const;
  const result = entries.map((entry): BomPath => {
    const meta = entry.meta;
    const type = types[meta.readUInt8(0) as 1 | 2 | 3 | 4];
    const path: BomPath = {
      path: fullPath(entry.id),
      type,
      mode: meta.readUInt16BE(4),
      uid: meta.readUInt32BE(6),
      gid: meta.readUInt32BE(10),
      size: meta.readUInt32BE(18),
      checksum: type === 'directory' ? 0 : meta.readUInt32BE(23),
    };
    if (type === 'symlink') {
      const length = meta.readUInt32BE(27);
      path.linkTarget = meta.subarray(31, 31 + length - 1).toString('utf8');
    }
    return path;
  });
  return {paths: result, named: [...named.keys()], leaves};
}

export interface OpenedIntunewin {
  detectionXml: string;
  field(name: string): string;
  /** The decrypted zip of the source folder. */
  content: Buffer;
  /** The encrypted file as stored (HMAC ‖ IV ‖ ciphertext). */
  encrypted: Buffer;
}

/** Opens an .intunewin as Intune does; throws when the MAC or the digest does not match. */
export async function openIntunewin(file: string, workDir: string): Promise<OpenedIntunewin> {
  await mkdir(workDir, {recursive: true});
  const unzip = await run('7z', ['x', '-y', `-o${workDir}`, file]);
  if (unzip.code !== 0) throw new Error(`7z x ${file}: ${unzip.stdout}${unzip.stderr}`);
  const detectionXml = await readFile(join(workDir, 'IntuneWinPackage', 'Metadata', 'Detection.xml'), 'utf8');
  const field = (name: string): string => {
    const match = new RegExp(`<${name}>([^<]*)</${name}>`).exec(detectionXml);
    if (!match) throw new Error(`Detection.xml has no ${name}`);
    return match[1]!;
  };
  const encrypted = await readFile(join(workDir, 'IntuneWinPackage', 'Contents', field('FileName')));
  const key = Buffer.from(field('EncryptionKey'), 'base64');
  const macKey = Buffer.from(field('MacKey'), 'base64');
  const mac = encrypted.subarray(0, 32);
  const iv = encrypted.subarray(32, 48);
  const computed = createHmac('sha256', macKey).update(encrypted.subarray(32)).digest();
  if (!timingSafeEqual(mac, computed)) throw new Error('the MAC does not match');
  if (!mac.equals(Buffer.from(field('Mac'), 'base64'))) throw new Error('the MAC differs from Detection.xml');
  if (!iv.equals(Buffer.from(field('InitializationVector'), 'base64'))) throw new Error('the IV differs from Detection.xml');
  const decipher = createDecipheriv('aes-256-cbc', key, iv);
  const content = Buffer.concat([decipher.update(encrypted.subarray(48)), decipher.final()]);
  if (field('FileDigestAlgorithm') !== 'SHA256') throw new Error('unknown digest algorithm');
  if (
    !createHash('sha256')
      .update(content)
      .digest()
      .equals(Buffer.from(field('FileDigest'), 'base64'))
  )
    throw new Error('the file digest does not match');
  if (Number(field('UnencryptedContentSize')) !== content.length) throw new Error('UnencryptedContentSize does not match');
  return {detectionXml, field, content, encrypted};
}
