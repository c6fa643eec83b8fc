import {hostname} from 'node:os';
import {mkdir, open, type FileHandle} from 'node:fs/promises';
import {join} from 'node:path';

import {syncDirectory, writeFully} from './file-io.js';
import type {AuditKey} from './key.js';
import {APPEND_FLAGS, segmentFileName} from './layout.js';
import {genesisHash, sealLine, sha256Hex, type PayloadKind} from './record.js';
import type {Registry} from './registry.js';
import type {FsyncMode} from './settings.js';

export interface ChainWriterOptions {
  dir: string;
  key: AuditKey;
  chain: string;
  registry: Registry;
  agentId: string;
  sessionId: string;
  fsync: FsyncMode;
  fsyncWindowMs: number;
  rotateBytes: number;
  rotateAgeMs: number;
  clock?: () => number;
  /** Failures that no caller is waiting for (a batched fsync). */
  onBackgroundError?: (error: unknown) => void;
}

interface Pending {
  json: string;
  resolve: () => void;
  reject: (error: unknown) => void;
}


interface Segment {
  handle: FileHandle;
  name: string;
  index: number;
  openedAt: number;
  bytes: number;
}

const MAX_BATCH = 256;

/**
 * Appends the records of one chain (one `thoth run` session) to its own segment files. Only this
 * process writes these files, so lines never interleave and no lock is needed on the hot path.
 *
 * Group commit: records queue while a write is in flight and go out together in the next write
 * (one write(2) per batch), in the order `append` was called. `append` resolves once its line
 * has been handed to the OS; with fsync `always` only after fdatasync. A failed or short write
 * rejects the records that did not make it (the governor then fails closed); a partial line left
 * behind is acknowledged by a `torn` record before anything else is written.
 */
export class ChainWriter {
  private readonly clock: () => number;
  private readonly queue: Pending[] = [];
  private draining: Promise<void> | undefined;
  private segment: Segment | undefined;
  /** Set once a segment was sealed for rotation but its successor could not be created yet. */
  private nextSegment: {name: string; index: number} | undefined;
  private nextSeq = 0;
  private lastHash: string;
  /** Bytes after the last committed line, left by a short write (acknowledged before anything else). */
  private garbage: Buffer | undefined;
  private registered = false;
  private closed = false;
  private fsyncTimer: NodeJS.Timeout | undefined;
  private syncFailure: unknown;
  private readonly host = hostname();

  constructor(private readonly options: ChainWriterOptions) {
    this.clock = options.clock ?? Date.now;
    this.lastHash = genesisHash(options.chain);
  }

  get chain(): string {
    return this.options.chain;
  }

  /** Name of the segment being written (undefined before the first append). */
  get currentFile(): string | undefined {
    return this.segment?.name;
  }

  append(json: string): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the audit chain is closed'));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({json, resolve, reject});
      this.kick();
    });
  }

  /** Writes what is queued, seals the chain, records the seal in the registry. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.idle();
    if (this.fsyncTimer) clearTimeout(this.fsyncTimer);
    const segment = this.segment;
    if (!segment) return;
    await this.settleTail(segment);
    const seal = await this.writeControl(segment, {kind: 'seal', reason: 'close', sealedAt: new Date(this.clock()).toISOString()});
    await segment.handle.datasync();
    await segment.handle.close();
    this.segment = undefined;
    if (this.registered) {
      await this.options.registry.append({
        kind: 'chain-seal',
        chain: this.options.chain,
        file: segment.name,
        seq: seal.seq,
        hash: seal.hash,
        reason: 'close',
        sealedAt: new Date(this.clock()).toISOString(),
      });
    }
  }

  /** Resolves when nothing is queued or being written. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private kick(): void {
    if (this.draining) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.queue.length > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      let segment: Segment;
      try {
        segment = await this.prepare();
      } catch (error) {
        for (const pending of batch) pending.reject(error);
        continue;
      }
      await this.writeBatch(segment, batch);
    }
  }

  /** Everything that must hold before events can be written: an open, registered, healthy segment. */
  private async prepare(): Promise<Segment> {
    let segment = this.segment ?? (await this.openSegment());
    if (!this.registered) {
      await this.options.registry.append({
        kind: 'chain-open',
        chain: this.options.chain,
        file: segment.name,
        keyId: this.options.key.keyId,
        pid: process.pid,
        host: this.host,
        agentId: this.options.agentId,
        sessionId: this.options.sessionId,
        openedAt: new Date(segment.openedAt).toISOString(),
      });
      this.registered = true;
    }
    await this.settleTail(segment);
    if (this.syncFailure !== undefined) {
      await segment.handle.datasync();
      this.syncFailure = undefined;
    }
    if (segment.bytes >= this.options.rotateBytes || this.clock() - segment.openedAt >= this.options.rotateAgeMs) {
      segment = await this.rotate(segment);
    }
    return segment;
  }

  private async openSegment(): Promise<Segment> {
    const pending = this.nextSegment;
    const openedAt = this.clock();
    const index = pending?.index ?? 0;
    const name = pending?.name ?? segmentFileName(this.options.chain, 0, openedAt);
    await mkdir(this.options.dir, {recursive: true, mode: 0o700});
    const handle = await open(join(this.options.dir, name), APPEND_FLAGS, 0o600);
    try {
      // A retry after a failed start: the file holds no event yet, only a partial open record.
      const {size} = await handle.stat();
      if (size > 0) await handle.truncate(0);
      const segment: Segment = {handle, name, index, openedAt, bytes: 0};
      const control: Record<string, unknown> = {
        kind: 'open',
        file: name,
        segment: index,
        keyId: this.options.key.keyId,
        pid: process.pid,
        host: this.host,
        agentId: this.options.agentId,
        sessionId: this.options.sessionId,
        openedAt: new Date(openedAt).toISOString(),
      };
      const line = sealLine(this.options.key, this.options.chain, this.nextSeq, this.lastHash, 'ctl', JSON.stringify(control));
      const buffer = Buffer.from(`${line.text}\n`);
      const {written, error} = await writeFully(handle, buffer);
      if (error) throw error;
      await handle.datasync();
      await syncDirectory(this.options.dir);
      segment.bytes = written;
      this.nextSeq++;
      this.lastHash = line.hash;
      this.segment = segment;
      this.nextSegment = undefined;
      return segment;
    } catch (error) {
      await handle.truncate(0).catch(() => undefined);
      await handle.close().catch(() => undefined);
      throw error;
    }
  }

  /** Seals the current segment pointing at its successor, then opens the successor. */
  private async rotate(segment: Segment): Promise<Segment> {
    const next = {index: segment.index + 1, name: segmentFileName(this.options.chain, segment.index + 1, this.clock())};
    await this.writeControl(segment, {kind: 'seal', reason: 'rotate', next: next.name, sealedAt: new Date(this.clock()).toISOString()});
    await segment.handle.datasync();
    await segment.handle.close();
    this.segment = undefined;
    this.nextSegment = next;
    return this.openSegment();
  }

  /**
   * After a short write: a `torn` record with the length and SHA-256 of the fragment, chained to
   * the last committed line, so that verify can tell an interrupted write from an edit.
   */
  private async settleTail(segment: Segment): Promise<void> {
    const garbage = this.garbage;
    if (!garbage) return;
    const control = {kind: 'torn', bytes: garbage.length, sha256: sha256Hex(garbage)};
    const line = sealLine(this.options.key, this.options.chain, this.nextSeq, this.lastHash, 'ctl', JSON.stringify(control));
    const buffer = Buffer.from(`\n${line.text}\n`);
    const {written, error} = await writeFully(segment.handle, buffer);
    segment.bytes += written;
    if (!error) {
      this.nextSeq++;
      this.lastHash = line.hash;
      this.garbage = undefined;
      return;
    }
    // The acknowledgement itself was cut short: the next one covers both.
    if (written > 0) this.garbage = Buffer.concat([garbage, buffer.subarray(0, written)]);
    throw error;
  }

  private async writeControl(segment: Segment, control: Record<string, unknown>): Promise<{seq: number; hash: string}> {
    const seq = this.nextSeq;
    const line = sealLine(this.options.key, this.options.chain, seq, this.lastHash, 'ctl', JSON.stringify(control));
    const {written, error} = await writeFully(segment.handle, Buffer.from(`${line.text}\n`));
    segment.bytes += written;
    if (error) {
      this.recordShortWrite(Buffer.from(`${line.text}\n`), written, [{end: line.text.length + 1, hash: line.hash}]);
      throw error;
    }
    this.nextSeq++;
    this.lastHash = line.hash;
    return {seq, hash: line.hash};
  }

  private async writeBatch(segment: Segment, batch: Pending[]): Promise<void> {
    const parts: Buffer[] = [];
    const lines: Array<{end: number; hash: string}> = [];
    let seq = this.nextSeq;
    let prev = this.lastHash;
    let total = 0;
    for (const pending of batch) {
      const line = sealLine(this.options.key, this.options.chain, seq, prev, 'event' as PayloadKind, pending.json);
      const buf = Buffer.from(`${line.text}\n`);
      parts.push(buf);
      total += buf.length;
      lines.push({end: total, hash: line.hash});
      seq++;
      prev = line.hash;
    }
    const buffer = parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
    const {written, error} = await writeFully(segment.handle, buffer);
    segment.bytes += written;
    if (error) {
      const complete = this.recordShortWrite(buffer, written, lines);
      // Lines that reached the file whole are in the log: their callers may proceed.
      batch.forEach((pending, index) => (index < complete ? pending.resolve() : pending.reject(error)));
      return;
    }
    this.nextSeq = seq;
    this.lastHash = prev;
    if (this.options.fsync === 'always') {
      try {
        await segment.handle.datasync();
      } catch (syncError) {
        this.syncFailure = syncError;
        for (const pending of batch) pending.reject(syncError);
        return;
      }
    } else {
      this.scheduleFsync(segment);
    }
    for (const pending of batch) pending.resolve();
  }

  /** Commits the lines that were written whole and keeps the fragment; returns how many were whole. */
  private recordShortWrite(buffer: Buffer, written: number, lines: Array<{end: number; hash: string}>): number {
    let complete = 0;
    while (complete < lines.length && lines[complete]!.end <= written) complete++;
    if (complete > 0) {
      this.nextSeq += complete;
      this.lastHash = lines[complete - 1]!.hash;
    }
    const start = complete > 0 ? lines[complete - 1]!.end : 0;
    // Even a record that lacks only its newline counts as torn: its caller was told it failed.
    if (written > start) this.garbage = Buffer.from(buffer.subarray(start, written));
    return complete;
  }

  private scheduleFsync(segment: Segment): void {
    if (this.fsyncTimer) return;
    const run = (): void => {
      this.fsyncTimer = undefined;
      if (this.segment !== segment) return;
      segment.handle.datasync().catch((error: unknown) => {
        this.syncFailure = error;
        this.options.onBackgroundError?.(error);
      });
    };
    if (this.options.fsyncWindowMs === 0) {
      run();
      return;
    }
    this.fsyncTimer = setTimeout(run, this.options.fsyncWindowMs);
    this.fsyncTimer.unref();
  }
}
