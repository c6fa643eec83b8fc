import {createHash} from 'node:crypto';
import {createReadStream} from 'node:fs';
import {stat} from 'node:fs/promises';
import {deflateSync} from 'node:zlib';

import type {Sink} from './sink.js';

/**
 * A xar archive, the container of a macOS flat package: a 28-byte header, the table of contents
 * (XML, zlib-compressed) and the heap. The heap starts with the SHA-1 of the compressed TOC (what
 * the header's checksum algorithm 1 announces); each file's bytes follow, stored as they are
 * (application/octet-stream: a Payload is gzip already), with SHA-1 checksums of the archived
 * and extracted data in the TOC. Directories are implied by the paths.
 */

export interface XarFile {
  /** Relative POSIX path, e.g. `thoth.pkg/Payload`. */
  path: string;
  source: {file: string} | {data: Buffer};
  mode?: number;
}

interface Prepared {
  file: XarFile;
  size: number;
  sha1: string;
  offset: number;
}

export async function writeXar(files: readonly XarFile[], sink: Sink, options: {mtime: number}): Promise<void> {
  let offset = 20;
  const prepared: Prepared[] = [];
  for (const file of files) {
    const {size, sha1} = await digest(file.source);
    prepared.push({file, size, sha1, offset});
    offset += size;
  }
  const toc = Buffer.from(tocXml(prepared, new Date(options.mtime * 1000).toISOString().replace(/\.\d+Z$/, 'Z')), 'utf8');
  const compressed = deflateSync(toc, {level: 9});
  const header = Buffer.alloc(28);
  header.write('xar!', 0, 'ascii');
  header.writeUInt16BE(28, 4);
  header.writeUInt16BE(1, 6);
  header.writeBigUInt64BE(BigInt(compressed.length), 8);
  header.writeBigUInt64BE(BigInt(toc.length), 16);
  header.writeUInt32BE(1, 24);
  await sink.write(header);
  await sink.write(compressed);
  await sink.write(createHash('sha1').update(compressed).digest());
  for (const item of prepared) {
    for await (const chunk of chunks(item.file.source)) await sink.write(chunk);
  }
}

async function digest(source: XarFile['source']): Promise<{size: number; sha1: string}> {
  const hash = createHash('sha1');
  let size = 0;
  for await (const chunk of chunks(source)) {
    hash.update(chunk);
    size += chunk.length;
  }
  if ('file' in source && (await stat(source.file)).size !== size) throw new Error(`${source.file} changed while being archived`);
  return {size, sha1: hash.digest('hex')};
}

async function* chunks(source: XarFile['source']): AsyncGenerator<Buffer> {
  if ('data' in source) {
    yield source.data;
    return;
  }
  for await (const chunk of createReadStream(source.file, {highWaterMark: 1 << 20})) yield chunk as Buffer;
}

interface DirNode {
  files: Prepared[];
  dirs: Map<string, DirNode>;
}

function tocXml(prepared: readonly Prepared[], mtime: string): string {
  const root: DirNode = {files: [], dirs: new Map()};
  for (const item of prepared) {
    const parts = item.file.path.split('/');
    let dir = root;
    for (const part of parts.slice(0, -1)) {
      if (!dir.dirs.has(part)) dir.dirs.set(part, {files: [], dirs: new Map()});
      dir = dir.dirs.get(part)!;
    }
    dir.files.push(item);
  }
  let id = 0;
  const owner = (indent: string, mode: number): string =>
    `${indent}<mode>${mode.toString(8).padStart(4, '0')}</mode>\n${indent}<uid>0</uid>\n${indent}<user>root</user>\n${indent}<gid>0</gid>\n${indent}<group>wheel</group>\n${indent}<mtime>${mtime}</mtime>\n`;
  const render = (dir: DirNode, indent: string): string => {
    let xml = '';
    for (const item of dir.files) {
      const name = item.file.path.slice(item.file.path.lastIndexOf('/') + 1);
      xml +=
        `${indent}<file id="${++id}">\n` +
        `${indent} <name>${escapeXml(name)}</name>\n` +
        `${indent} <type>file</type>\n` +
        owner(`${indent} `, item.file.mode ?? 0o644) +
        `${indent} <data>\n` +
        `${indent}  <length>${item.size}</length>\n` +
        `${indent}  <offset>${item.offset}</offset>\n` +
        `${indent}  <size>${item.size}</size>\n` +
        `${indent}  <encoding style="application/octet-stream"/>\n` +
        `${indent}  <extracted-checksum style="sha1">${item.sha1}</extracted-checksum>\n` +
        `${indent}  <archived-checksum style="sha1">${item.sha1}</archived-checksum>\n` +
        `${indent} </data>\n` +
        `${indent}</file>\n`;
    }
    for (const [name, child] of dir.dirs) {
      xml += `${indent}<file id="${++id}">\n${indent} <name>${escapeXml(name)}</name>\n${indent} <type>directory</type>\n${owner(`${indent} `, 0o755)}${render(child, `${indent} `)}${indent}</file>\n`;
    }
    return xml;
  };
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n<xar>\n <toc>\n' +
    '  <checksum style="sha1">\n   <offset>0</offset>\n   <size>20</size>\n  </checksum>\n' +
    `  <creation-time>${mtime}</creation-time>\n` +
    render(root, '  ') +
    ' </toc>\n</xar>\n'
  );
}

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
