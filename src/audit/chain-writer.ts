import {writeSync} from 'node:fs';
import {hostname} from 'node:os';
import {mkdir, open, type FileHandle} from 'node:fs/promises';
import {join} from 'node:path';

import {syncDirectory, writeFully} from './file-io.js';
import type {AuditKey} from './key.js';
import {APPEND_FLAGS, segmentFileName} from './layout.js';
import {genesisHash, RecordSealer, sealLine, sha256Hex, type SealedRange} from './record.js';
import {errorMessage} from '../core/errors.js';
import {Registry} from './registry.js';
import type {FsyncMode} from '../settings/audit-defaults.js';
import type {AuditSettings} from './settings.js';

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

/** A chain of `agentId`'s session `sessionId` in the audit directory of `settings`, with its registry. */
export function chainWriterFor(
  settings: AuditSettings,
  key: AuditKey,
  who: {chain: string; agentId: string; sessionId: string},
  clock: () => number,
  warn: (message: string) => void,
): ChainWriter {
  return new ChainWriter({
    dir: settings.dir,
    key,
    chain: who.chain,
    registry: new Registry(settings.dir, key),
    agentId: who.agentId,
    sessionId: who.sessionId,
    fsync: settings.fsync,
    fsyncWindowMs: settings.fsyncWindowMs,
    rotateBytes: settings.rotateBytes,
    rotateAgeMs: settings.rotateAgeMs,
    clock,
    onBackgroundError: (error) => warn(`audit: fsync failed: ${errorMessage(error)}`),
  });
}

interface Pending {
  /** The event's JSON text, whole or in consecutive parts. */
  json: string | readonly string[];
  /** Absent for records nobody waits for (appendDetached). */
  resolve: (() => void) | undefined;
  reject: (error: unknown) => void;
}

const RESOLVED = Promise.resolve();

/** The batch buffer is kept between writes up to this size; a larger batch gets its own. */
const KEPT_BATCH_BUFFER = 1024 * 1024;

interface Segment {
  handle: FileHandle;
  name: string;
  index: number;
  openedAt: number;
  bytes: number;
}

/**
 * Appends the records of one chain (one `thoth run` session) to its own segment files. Only this
 * process writes these files, so lines never interleave and no lock is needed on the hot path.
 *
 * Records appended during one turn of the event loop are sealed into one reused buffer and go
 * out with one synchronous write(2) at its end (a microtask later): a few microseconds into the
 * page cache, far less than a round trip through libuv's thread pool, and it keeps records in
 * call order without a queue. `append` resolves once its line has been handed to the OS; with
 * fsync `always` only after an fdatasync that started after the write (one fdatasync covers
 * every record written before it: group commit). Records nobody waits for (`appendDetached`,
 * TOOL_CALL_POST) ride along with the next write, or go out just before the window's fdatasync.
 * Slow paths (opening, registering, rotating, recovering from a short write) run asynchronously
 * while later records wait in the queue. A failed or short write rejects the records that did
 * not make it (the governor then fails closed); a partial line left behind is acknowledged by a
 * `torn` record before anything else is written.
 */
export class ChainWriter {
  private readonly clock: () => number;
  private queue: Pending[] = [];
  private draining: Promise<void> | undefined;
  private scheduled = false;
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
  /** Records written so far, and how many of them an fdatasync has covered. */
  private written = 0;
  private synced = 0;
  private syncInFlight: Promise<void> | undefined;
  /** Batches written whose durability step (fsync always) has not finished. */
  private readonly inFlight = new Set<Promise<void>>();
  private readonly host = hostname();
  private readonly sealer: RecordSealer;
  /** Reused for every batch: write(2) is synchronous, so it is free again once writeRecords returns. */
  private batchBuffer: Buffer = Buffer.allocUnsafe(64 * 1024);

  constructor(private readonly options: ChainWriterOptions) {
    this.clock = options.clock ?? Date.now;
    this.lastHash = genesisHash(options.chain);
    this.sealer = new RecordSealer(options.key, options.chain);
  }

  get chain(): string {
    return this.options.chain;
  }

  /** Name of the segment being written (undefined before the first append). */
  get currentFile(): string | undefined {
    return this.segment?.name;
  }

  append(json: string | readonly string[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the audit chain is closed'));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({json, resolve, reject});
      this.schedule();
    });
  }

  /**
   * `append` without a promise: `written` is called once, with no argument when the line is with
   * the OS (after the fdatasync that covers it with fsync `always`), with the error otherwise.
   */
  appendThen(json: string | readonly string[], written: (error?: unknown) => void): void {
    if (this.closed) {
      written(new Error('the audit chain is closed'));
      return;
    }
    this.queue.push({json, resolve: written as () => void, reject: written});
    this.schedule();
  }

  /**
   * A record nobody waits for (TOOL_CALL_POST): same queue, same order, no promise; `onError`
   * hears of a failure. With batched fsync it is not written at once but with the next record
   * that is awaited (the next TOOL_CALL_PRE), or when the fsync window closes, just before the
   * fdatasync: the same durability as every other record, and usually no write(2) of its own.
   */
  appendDetached(json: string | readonly string[], onError: (error: unknown) => void): void {
    if (this.closed) {
      onError(new Error('the audit chain is closed'));
      return;
    }
    this.queue.push({json, resolve: undefined, reject: onError});
    if (this.options.fsync === 'always' || this.options.fsyncWindowMs === 0 || !this.segment) this.schedule();
    else this.scheduleFsync();
  }

  /**
   * Records appended during one turn of the event loop go out together at its end (a microtask
   * later): one write(2) for all of them, so a burst of calls costs one system call.
   */
  private schedule(): void {
    if (this.scheduled || this.draining) return;
    this.scheduled = true;
    // A plain promise reaction: queueMicrotask would add an AsyncResource per batch.
    void RESOLVED.then(this.flushScheduled);
  }

  private readonly flushScheduled = (): void => {
    this.scheduled = false;
    if (this.draining || this.queue.length === 0) return;
    const segment = this.segment;
    if (segment && this.ready(segment)) {
      void this.writeBatch(segment, this.takeQueue());
      return;
    }
    this.kick();
  };

  /** Everything queued, in order; the queue starts afresh. */
  private takeQueue(): Pending[] {
    const batch = this.queue;
    this.queue = [];
    return batch;
  }

  /** Nothing to settle before the next record: no fragment, no failed sync, no rotation due. */
  private ready(segment: Segment): boolean {
    return !this.garbage && this.syncFailure === undefined && !this.rotationDue(segment);
  }

  private rotationDue(segment: Segment): boolean {
    return segment.bytes >= this.options.rotateBytes || this.clock() - segment.openedAt >= this.options.rotateAgeMs;
  }

  /** Waits for an fdatasync that started after record number `target` was written. */
  private async syncUpTo(segment: Segment, target: number): Promise<void> {
    while (this.synced < target) {
      if (!this.syncInFlight) {
        const covers = this.written;
        this.syncInFlight = segment.handle
          .datasync()
          .then(() => {
            this.synced = Math.max(this.synced, covers);
          })
          .catch((error: unknown) => {
            this.syncFailure = error;
            throw error;
          })
          .finally(() => {
            this.syncInFlight = undefined;
          });
      }
      await this.syncInFlight;
    }
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
    for (;;) {
      if (this.draining) await this.draining;
      else if (this.scheduled || this.queue.length > 0) {
        // Records waiting for the fsync window (appendDetached) go out now.
        this.schedule();
        await new Promise<void>((resolve) => setImmediate(resolve));
      } else if (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
      else return;
    }
  }

  private kick(): void {
    if (this.draining) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.queue.length > 0) this.schedule();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.takeQueue();
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
      this.synced = this.written;
    }
    if (this.rotationDue(segment)) segment = await this.rotate(segment);
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
    await this.syncInFlight?.catch(() => undefined);
    await segment.handle.datasync();
    this.synced = this.written;
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

  /**
   * Seals and writes records with one synchronous write(2) (more if the kernel writes short).
   * Throws on failure after committing the lines that reached the file whole; `complete` on the
   * error says how many.
   */
  private writeRecords(segment: Segment, batch: readonly Pending[]): void {
    let buffer = this.batchBuffer;
    const lines: SealedRange[] = [];
    let seq = this.nextSeq;
    let prev = this.lastHash;
    let end = 0;
    for (const pending of batch) {
      // Room for the record: its UTF-8 is measured only when the quick bound does not fit.
      if (end + this.sealer.maxBytes(maxUtf8Bytes(pending.json)) > buffer.length) {
        const needed = end + this.sealer.maxBytes(utf8Length(pending.json));
        if (needed > buffer.length) buffer = this.grownBatchBuffer(buffer, end, needed);
      }
      const line = this.sealer.seal(buffer, end, seq, prev, pending.json);
      lines.push(line);
      end = line.end;
      seq++;
      prev = line.hash;
    }
    const bytes = buffer.subarray(0, end);
    const {written, error} = writeFullySync(segment.handle.fd, bytes);
    segment.bytes += written;
    if (error) {
      const complete = this.recordShortWrite(bytes, written, lines);
      this.written += complete;
      throw Object.assign(error instanceof Error ? error : new Error(String(error)), {complete});
    }
    this.nextSeq = seq;
    this.lastHash = prev;
    this.written += batch.length;
  }

  /** A larger buffer holding the first `used` bytes of `buffer`; kept for later batches up to KEPT_BATCH_BUFFER. */
  private grownBatchBuffer(buffer: Buffer, used: number, needed: number): Buffer {
    const grown = Buffer.allocUnsafe(Math.max(needed, buffer.length * 2));
    buffer.copy(grown, 0, 0, used);
    if (grown.length <= KEPT_BATCH_BUFFER) this.batchBuffer = grown;
    return grown;
  }

  /**
   * Writes a batch and settles its callers: at once with batched fsync (the line is with the OS),
   * after an fdatasync that covers it with fsync "always" (the promise returned then).
   */
  private writeBatch(segment: Segment, batch: Pending[]): Promise<void> | undefined {
    try {
      this.writeRecords(segment, batch);
    } catch (error) {
      const complete = (error as {complete?: number}).complete ?? 0;
      // Lines that reached the file whole are in the log: their callers may proceed.
      batch.forEach((pending, index) => (index < complete ? pending.resolve?.() : pending.reject(error)));
      return undefined;
    }
    if (this.options.fsync === 'always') {
      const done = this.syncUpTo(segment, this.written).then(
        () => batch.forEach((pending) => pending.resolve?.()),
        (error: unknown) => batch.forEach((pending) => pending.reject(error)),
      );
      this.inFlight.add(done);
      void done.finally(() => this.inFlight.delete(done));
      return done;
    }
    this.scheduleFsync();
    for (const pending of batch) pending.resolve?.();
    return undefined;
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

  /** An fdatasync at the end of the window; records still queued then are written just before it. */
  private scheduleFsync(): void {
    if (this.fsyncTimer) return;
    const run = (): void => {
      const segment = this.segment;
      if (segment && this.queue.length > 0 && !this.scheduled && !this.draining && this.ready(segment)) {
        // Synchronous up to the write, so `written` covers these records when the sync starts
        // (and the timer, still set, keeps that write from arming another one).
        void this.writeBatch(segment, this.takeQueue());
      } else if (this.queue.length > 0) {
        this.schedule();
      }
      this.fsyncTimer = undefined;
      if (!segment || this.synced >= this.written) return;
      const covers = this.written;
      segment.handle.datasync().then(
        () => {
          this.synced = Math.max(this.synced, covers);
        },
        (error: unknown) => {
          this.syncFailure = error;
          this.options.onBackgroundError?.(error);
        },
      );
    };
    if (this.options.fsyncWindowMs === 0) {
      run();
      return;
    }
    this.fsyncTimer = setTimeout(run, this.options.fsyncWindowMs);
    this.fsyncTimer.unref();
  }
}

/**
 * Room the UTF-8 of `json` can take, without reading it: no UTF-16 code unit takes more than 3
 * bytes (a surrogate pair: 4 for 2). Measuring every record exactly would read it once more.
 */
function utf8Length(json: string | readonly string[]): number {
  if (typeof json === 'string') return Buffer.byteLength(json);
  let bytes = 0;
  for (const part of json) bytes += Buffer.byteLength(part);
  return bytes;
}

function maxUtf8Bytes(json: string | readonly string[]): number {
  if (typeof json === 'string') return json.length * 3;
  let units = 0;
  for (const part of json) units += part.length;
  return units * 3;
}

/** write(2) until everything is written; on failure reports how many bytes reached the file. */
function writeFullySync(fd: number, buffer: Buffer): {written: number; error?: unknown} {
  let written = 0;
  while (written < buffer.length) {
    try {
      const n = writeSync(fd, buffer, written, buffer.length - written);
      if (n === 0) return {written, error: Object.assign(new Error('write made no progress'), {code: 'EIO'})};
      written += n;
    } catch (error) {
      return {written, error};
    }
  }
  return {written};
}
