import {open, stat} from 'node:fs/promises';
import {join} from 'node:path';

import {errnoCode} from '../core/errors.js';
import type {ChainLink, ShippedEvent} from '../control-plane/contract.js';
import {sha256Hex} from '../audit/record.js';
import {parseSegmentFileName} from '../audit/layout.js';
import {segmentFiles} from '../audit/reader.js';
import {checkLine} from '../audit/record.js';
import type {ChainCursor, ShipCursors} from './control-plane-state.js';

/**
 * The spool of event shipping is the audit log itself (docs/control-plane.md#event-shipping): each
 * `thoth run` session's hash chain, read in segment order from a per-chain cursor. Nothing is
 * copied, so nothing can diverge from the source of truth; the cursor only records what the
 * control plane acknowledged and where reading resumes. `ctl` records are skipped (their seq
 * still advances the cursor), lines that are not complete records are skipped, an unterminated
 * last line waits for its writer, a `seal` with reason `rotate` leads to the segment it names and
 * one with reason `close` ends the chain.
 */
export interface PendingBatch {
  events: ShippedEvent[];
  /**
   * The control records between the events (open, seal, rotate), as links only: with each event's
   * `prev` and `hash` they let the control plane follow the chain without a gap. Control records
   * that no event follows yet are read again next time (the cursor stays before them), except at a
   * chain's closing seal.
   */
  links: ChainLink[];
  /** Where each chain's cursor goes once these events are acknowledged. */
  cursors: Map<string, ChainCursor>;
  /** True when the limits stopped reading before everything available was read. */
  more: boolean;
}

export interface SpoolLimits {
  maxEvents: number;
  /** Approximate: the serialised events of one batch. */
  maxBytes: number;
}

const READ_CHUNK = 1024 * 1024;

/** Reads what is not yet acknowledged, oldest chains first, up to the limits. */
export async function readPending(auditDir: string, state: ShipCursors, limits: SpoolLimits): Promise<PendingBatch> {
  const batch: PendingBatch = {events: [], links: [], cursors: new Map(), more: false};
  let names: string[];
  try {
    names = await segmentFiles(auditDir);
  } catch (error) {
    if ((error as {code?: string}).code === 'AUDIT_DIR_NOT_FOUND' || errnoCode(error) === 'ENOENT') return batch;
    throw error;
  }
  const chains = new Map<string, string[]>();
  for (const name of names) {
    const parsed = parseSegmentFileName(name)!;
    const list = chains.get(parsed.chain) ?? [];
    list.push(name);
    chains.set(parsed.chain, list);
  }
  let bytes = 0;
  // Segment names start with their opening time: chains come oldest first.
  const ordered = [...chains.entries()].sort((a, b) => (a[1][0]! < b[1][0]! ? -1 : 1));
  for (const [chain, segments] of ordered) {
    segments.sort((a, b) => parseSegmentFileName(a)!.index - parseSegmentFileName(b)!.index);
    const start = state.chains[chain] ?? {seq: -1, file: segments[0]!, offset: 0, done: false};
    if (start.done) continue;
    const cursor: ChainCursor = {...start};
    if (!segments.includes(cursor.file)) {
      // The segment was removed by hand: resume at the first one left, by seq.
      cursor.file = segments[0]!;
      cursor.offset = 0;
    }
    let moved = false;
    let pendingLinks: ChainLink[] = [];
    let beforeLinks: ChainCursor | undefined;
    for (;;) {
      const read = await readLines(join(auditDir, cursor.file), cursor.offset);
      if (read.lines.length === 0) break;
      let next: string | undefined;
      let stop = false;
      for (const line of read.lines) {
        const checked = checkLine(undefined, line.text);
        if (checked.ok && checked.record.seq > cursor.seq) {
          const {record} = checked;
          if (record.kind === 'event') {
            const size = line.bytes + 64 + 150;
            if (batch.events.length >= limits.maxEvents || (batch.events.length > 0 && bytes + size > limits.maxBytes)) {
              stop = true;
              break;
            }
            bytes += size;
            batch.links.push(...pendingLinks);
            pendingLinks = [];
            beforeLinks = undefined;
            batch.events.push({
              chain,
              seq: record.seq,
              event: record.payload as ShippedEvent['event'],
              prev: record.prev,
              hash: sha256Hex(line.text),
            });
          } else {
            beforeLinks ??= {...cursor};
            const link: ChainLink = {chain, seq: record.seq, prev: record.prev, hash: sha256Hex(line.text)};
            if (record.payload['kind'] === 'seal') {
              if (record.payload['reason'] === 'rotate' && typeof record.payload['next'] === 'string') next = record.payload['next'];
              else if (record.payload['reason'] === 'close') {
                cursor.done = true;
                link.closed = true;
              }
            }
            pendingLinks.push(link);
          }
          cursor.seq = record.seq;
        }
        cursor.offset = line.end;
        moved = true;
      }
      if (stop) {
        batch.more = true;
        break;
      }
      if (next !== undefined && segments.includes(next)) {
        cursor.file = next;
        cursor.offset = 0;
        continue;
      }
      if (!read.complete) continue;
      break;
    }
    if (pendingLinks.length > 0) {
      // A closed chain's last control records go with this batch; otherwise they wait for the event that follows them.
      if (cursor.done) batch.links.push(...pendingLinks);
      else if (beforeLinks !== undefined) Object.assign(cursor, beforeLinks);
    }
    if (moved) batch.cursors.set(chain, cursor);
    if (batch.more) break;
  }
  return batch;
}

interface Line {
  text: string;
  bytes: number;
  /** Offset just after the line's newline. */
  end: number;
}

/** Complete lines from `offset`, at most READ_CHUNK bytes at a time; `complete` false when more remain. */
async function readLines(path: string, offset: number): Promise<{lines: Line[]; complete: boolean}> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return {lines: [], complete: true};
    throw error;
  }
  if (size <= offset) return {lines: [], complete: true};
  const length = Math.min(size - offset, READ_CHUNK);
  const handle = await open(path, 'r');
  let data: Buffer;
  try {
    data = Buffer.alloc(length);
    const {bytesRead} = await handle.read(data, 0, length, offset);
    data = data.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  const lines: Line[] = [];
  let start = 0;
  for (;;) {
    const newline = data.indexOf(0x0a, start);
    if (newline === -1) break;
    lines.push({text: data.subarray(start, newline).toString('utf8'), bytes: newline - start, end: offset + newline + 1});
    start = newline + 1;
  }
  // A single line longer than the chunk: read it whole.
  if (lines.length === 0 && length === READ_CHUNK && size > offset + length) {
    return readWholeLine(path, offset, size);
  }
  return {lines, complete: offset + length >= size};
}

async function readWholeLine(path: string, offset: number, size: number): Promise<{lines: Line[]; complete: boolean}> {
  const handle = await open(path, 'r');
  try {
    const data = Buffer.alloc(size - offset);
    const {bytesRead} = await handle.read(data, 0, data.length, offset);
    const newline = data.subarray(0, bytesRead).indexOf(0x0a);
    if (newline === -1) return {lines: [], complete: true};
    return {lines: [{text: data.subarray(0, newline).toString('utf8'), bytes: newline, end: offset + newline + 1}], complete: false};
  } finally {
    await handle.close();
  }
}
