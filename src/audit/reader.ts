import {open, readdir, stat} from 'node:fs/promises';
import {join} from 'node:path';

import {ThothError, errnoCode} from '../core/errors.js';
import {ExitCode} from '../core/exit-codes.js';
import type {AuditEvent} from './events.js';
import {parseSegmentFileName} from './layout.js';
import {checkLine} from './record.js';

/**
 * Reading events back for `show`, `tail` and `export`. Reading does not verify (that is
 * `thoth audit verify`, which needs the key); lines that are not records are skipped.
 */
export interface StoredEvent {
  event: AuditEvent;
  chain: string;
  seq: number;
  file: string;
}

export interface EventFilter {
  agentId?: string;
  sessionId?: string;
  toolName?: string;
  decision?: string;
  type?: string;
  /** Types left out (pin bookkeeping in `audit show`), unless `type` names one. */
  excludeTypes?: readonly string[];
  /** Unix milliseconds, inclusive. */
  since?: number;
  /** Unix milliseconds, exclusive. */
  until?: number;
}

export function matches(event: AuditEvent, filter: EventFilter): boolean {
  if (filter.agentId !== undefined && event.agentId !== filter.agentId) return false;
  // A prefix is enough: `audit show` prints the first 8 characters of a session id.
  if (filter.sessionId !== undefined && !String(event.sessionId).startsWith(filter.sessionId)) return false;
  if (filter.toolName !== undefined && event['toolName'] !== filter.toolName) return false;
  if (filter.decision !== undefined && event['decision'] !== filter.decision) return false;
  if (filter.type !== undefined && event.type !== filter.type.toUpperCase()) return false;
  if (filter.type === undefined && filter.excludeTypes?.includes(event.type) === true) return false;
  if (filter.since !== undefined || filter.until !== undefined) {
    const time = Date.parse(event.timestamp);
    if (filter.since !== undefined && !(time >= filter.since)) return false;
    if (filter.until !== undefined && !(time < filter.until)) return false;
  }
  return true;
}

export function compareEvents(a: StoredEvent, b: StoredEvent): number {
  if (a.event.timestamp !== b.event.timestamp) return a.event.timestamp < b.event.timestamp ? -1 : 1;
  return a.event.eventId < b.event.eventId ? -1 : a.event.eventId > b.event.eventId ? 1 : 0;
}

/** `2026-11-22T10:00:00Z`, `2026-11-22`, or a duration before now: `90s`, `15m`, `2h`, `7d`. */
export function parseTimeBound(text: string, flag: string, now: number = Date.now()): number {
  const relative = /^(\d+)\s*(s|m|h|d|w)$/.exec(text.trim());
  if (relative) {
    const unit = {s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000}[relative[2] as 's' | 'm' | 'h' | 'd' | 'w'];
    return now - Number(relative[1]) * unit;
  }
  const time = Date.parse(text);
  if (Number.isNaN(time)) {
    throw new ThothError('USAGE', `--${flag} "${text}" is neither a date-time nor a duration`, {
      exitCode: ExitCode.USAGE,
      suggestions: [`Use an ISO 8601 time (2026-11-22T10:00:00Z) or a duration before now (30s, 15m, 2h, 7d).`],
    });
  }
  return time;
}

/** Segment file names in `dir`, oldest first. */
export async function segmentFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') {
      throw new ThothError('AUDIT_DIR_NOT_FOUND', `audit directory ${dir} does not exist`, {
        exitCode: ExitCode.NOT_FOUND,
        suggestions: ['Pass --audit-dir, or set THOTH_AUDIT_DIR to where `thoth run` writes its audit trail.'],
      });
    }
    throw error;
  }
  return names.filter((name) => parseSegmentFileName(name) !== undefined).sort();
}

/** Parses the complete lines of `data` into events (control records and broken lines are skipped). */
export function eventsIn(data: Buffer, file: string): StoredEvent[] {
  const out: StoredEvent[] = [];
  let start = 0;
  while (start < data.length) {
    const newline = data.indexOf(0x0a, start);
    if (newline === -1) break;
    const checked = checkLine(undefined, data.subarray(start, newline).toString('utf8'));
    start = newline + 1;
    if (checked.ok && checked.record.kind === 'event') {
      out.push({event: checked.record.payload as AuditEvent, chain: checked.record.chain, seq: checked.record.seq, file});
    }
  }
  return out;
}

/** Every matching event in the directory, in time order. */
export async function readEvents(dir: string, filter: EventFilter = {}): Promise<StoredEvent[]> {
  const all: StoredEvent[] = [];
  for (const name of await segmentFiles(dir)) {
    const path = join(dir, name);
    // A segment last written before the window cannot hold an event in it.
    if (filter.since !== undefined && (await stat(path)).mtimeMs < filter.since - 1000) continue;
    const handle = await open(path, 'r');
    try {
      const data = await handle.readFile();
      for (const stored of eventsIn(data, name)) if (matches(stored.event, filter)) all.push(stored);
    } finally {
      await handle.close();
    }
  }
  return all.sort(compareEvents);
}

/**
 * Follows the directory as `tail -f` does: each poll returns the events appended since the last
 * one, across every chain, including chains and segments created meanwhile. Partial lines wait
 * for their newline.
 */
export class EventFollower {
  private readonly files = new Map<string, {offset: number; partial: Buffer}>();

  constructor(
    private readonly dir: string,
    private readonly filter: EventFilter = {},
    /** A directory that does not exist yet is a trail without events (thoth run creates it): keep polling. */
    private readonly untilCreated = false,
  ) {}

  async poll(): Promise<StoredEvent[]> {
    const found: StoredEvent[] = [];
    let names: string[];
    try {
      names = await segmentFiles(this.dir);
    } catch (error) {
      if (this.untilCreated && error instanceof ThothError && error.code === 'AUDIT_DIR_NOT_FOUND') return found;
      throw error;
    }
    for (const name of names) {
      const state = this.files.get(name) ?? {offset: 0, partial: Buffer.alloc(0)};
      this.files.set(name, state);
      let size: number;
      try {
        size = (await stat(join(this.dir, name))).size;
      } catch {
        continue;
      }
      if (size <= state.offset) continue;
      const handle = await open(join(this.dir, name), 'r');
      let chunk: Buffer;
      try {
        chunk = Buffer.alloc(size - state.offset);
        const {bytesRead} = await handle.read(chunk, 0, chunk.length, state.offset);
        chunk = chunk.subarray(0, bytesRead);
      } finally {
        await handle.close();
      }
      state.offset += chunk.length;
      const data = state.partial.length > 0 ? Buffer.concat([state.partial, chunk]) : chunk;
      const lastNewline = data.lastIndexOf(0x0a);
      state.partial = Buffer.from(data.subarray(lastNewline + 1));
      for (const stored of eventsIn(data.subarray(0, lastNewline + 1), name)) if (matches(stored.event, this.filter)) found.push(stored);
    }
    return found.sort(compareEvents);
  }
}
