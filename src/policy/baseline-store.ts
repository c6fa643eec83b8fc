import {mkdir, rename} from 'node:fs/promises';
import {join} from 'node:path';

import {errorMessage} from '../core/errors.js';
import type {ToolCall} from '../core/decision.js';
import {writeFileAtomic} from '../util/atomic-write.js';
import {withFileLock} from '../util/file-lock.js';
import {readStateFile} from '../util/state-file.js';
import {agentFile} from '../core/agent-files.js';
import {emptyBaseline, learnCall, mergeBaseline, type BaselineData, type BaselineView} from './progressive.js';

export interface BaselineStoreOptions {
  /** The profile directory; the baseline lives in `<home>/baselines/`. */
  home: string;
  agentId: string;
  now?: () => Date;
  warn?: (message: string) => void;
  /** How long learned calls wait before being merged into the shared file (default 2 s). */
  flushDelayMs?: number;
  /** Never change the file, not even to move a damaged one aside (`policy explain`). */
  readOnly?: boolean;
}

/**
 * The per-agent baseline, shared by every thoth process that runs the same agent. Each process
 * keeps the calls it learned since its last save and merges them into the file under a lock
 * (read, add, write atomically), so concurrent sessions never lose each other's learning. The
 * in-memory view is what decisions read: no file I/O on the decision path.
 */
export class BaselineStore {
  readonly file: string;
  private readonly agentId: string;
  private readonly now: () => Date;
  private readonly warn: (message: string) => void;
  private readonly flushDelayMs: number;
  private readonly readOnly: boolean;
  private data: BaselineData;
  private counted = false;
  /** What this session learned since its last save (merged into the file, never replayed). */
  private pending: BaselineData;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  private constructor(options: BaselineStoreOptions, data: BaselineData) {
    this.file = agentFile(join(options.home, 'baselines'), options.agentId);
    this.agentId = options.agentId;
    this.now = options.now ?? (() => new Date());
    this.warn = options.warn ?? (() => undefined);
    this.flushDelayMs = options.flushDelayMs ?? 2000;
    this.readOnly = options.readOnly ?? false;
    this.data = data;
    this.pending = emptyBaseline(options.agentId, this.now());
  }

  static async open(options: BaselineStoreOptions): Promise<BaselineStore> {
    const store = new BaselineStore(options, emptyBaseline(options.agentId, (options.now ?? (() => new Date()))()));
    store.data = await store.readFile();
    return store;
  }

  view(): BaselineView {
    return {data: this.data, sessionCounted: this.counted};
  }

  /** Learns an allowed (or approved) call; saved shortly after, and on close. */
  record(call: ToolCall, callsInWindow: number): void {
    // learnCall keeps only the tool and argument names, never the arguments' values.
    const at = this.now();
    learnCall(this.data, call, at, callsInWindow);
    if (this.readOnly) return;
    learnCall(this.pending, call, at, callsInWindow);
    this.schedule();
  }

  /** Merges what this session learned into the shared file. */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.flushing) await this.flushing;
    if (this.pending.calls === 0) return;
    this.flushing = this.save().finally(() => (this.flushing = undefined));
    await this.flushing;
  }

  async close(): Promise<void> {
    await this.flush();
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush().catch((error: unknown) => this.warn(`could not save the progressive baseline ${this.file}: ${describe(error)}`));
    }, this.flushDelayMs);
    this.timer.unref();
  }

  private async save(): Promise<void> {
    const batch = this.pending;
    this.pending = emptyBaseline(this.agentId, this.now());
    try {
      await mkdir(join(this.file, '..'), {recursive: true, mode: 0o700});
      await withFileLock(`${this.file}.lock`, async () => {
        const current = await this.readFile();
        mergeBaseline(current, batch);
        if (!this.counted) current.sessions += 1;
        await writeFileAtomic(this.file, `${JSON.stringify(current, null, 2)}\n`, {mode: 0o600});
        this.counted = true;
        // Pick up what other sessions learned, plus anything learned while saving.
        mergeBaseline(current, this.pending);
        this.data = current;
      });
    } catch (error) {
      mergeBaseline(batch, this.pending);
      this.pending = batch;
      throw error;
    }
  }

  private async readFile(): Promise<BaselineData> {
    const read = await readStateFile<BaselineData>(this.file, 'baseline');
    if (read.state === 'missing') return emptyBaseline(this.agentId, this.now());
    if (read.state === 'ok' && read.value.agentId === this.agentId) return read.value;
    if (this.readOnly) {
      this.warn(`the progressive baseline ${this.file} is unreadable; judging from an empty one`);
      return emptyBaseline(this.agentId, this.now());
    }
    // A damaged baseline is kept for inspection and learning starts again (stderr says so).
    const aside = `${this.file}.corrupt-${Date.now()}`;
    await rename(this.file, aside).catch(() => undefined);
    this.warn(`the progressive baseline ${this.file} was unreadable; moved it to ${aside} and started a new one`);
    return emptyBaseline(this.agentId, this.now());
  }
}

function describe(error: unknown): string {
  return errorMessage(error);
}
