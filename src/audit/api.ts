import {createWriteStream} from 'node:fs';
import {once} from 'node:events';
import {setTimeout as sleep} from 'node:timers/promises';

import {ThothError, errnoCode} from '../core/errors.js';
import {ExitCode} from '../core/exit-codes.js';
import {jsonTerminalSafe} from '../util/terminal-text.js';
import {readKeyFile, type AuditKey} from './key.js';
import {toOcsf} from './ocsf.js';
import {EventFollower, parseTimeBound, readEvents, type EventFilter, type StoredEvent} from './reader.js';
import {isDirectory, verifyAuditDir, verifyAuditFile, type VerifyOptions, type VerifyReport, type VerifyStatus} from './verify.js';

/** Where the trail is: resolved by the caller from the settings (command-flags.ts resolveAuditLocation). */
export interface AuditLocation {
  dir: string;
  keyFile: string;
}

export interface FilterFlags {
  agentId?: string | undefined;
  sessionId?: string | undefined;
  tool?: string | undefined;
  decision?: string | undefined;
  type?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
}

export function auditDirOf(location: AuditLocation): string {
  return location.dir;
}

export function filterOf(flags: FilterFlags, now: number = Date.now()): EventFilter {
  const filter: EventFilter = {};
  if (flags.agentId !== undefined) filter.agentId = flags.agentId;
  if (flags.sessionId !== undefined) filter.sessionId = flags.sessionId;
  if (flags.tool !== undefined) filter.toolName = flags.tool;
  if (flags.decision !== undefined) filter.decision = flags.decision;
  if (flags.type !== undefined) filter.type = flags.type;
  if (flags.since !== undefined) filter.since = parseTimeBound(flags.since, 'since', now);
  if (flags.until !== undefined) filter.until = parseTimeBound(flags.until, 'until', now);
  return filter;
}

export const EXIT_FOR_STATUS: Record<VerifyStatus, number> = {
  intact: ExitCode.OK,
  'torn-tail': ExitCode.AUDIT_TORN_TAIL,
  tampered: ExitCode.AUDIT_TAMPERED,
};

/** `thoth audit verify [PATH]`: a directory (everything, unless `options.onlyChains`) or one file. */
export async function verifyAudit(path: string | undefined, location: AuditLocation, options: VerifyOptions = {}): Promise<VerifyReport> {
  const target = path ?? auditDirOf(location);
  let directory: boolean;
  try {
    directory = await isDirectory(target);
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') throw error;
    throw new ThothError('AUDIT_NOT_FOUND', `${target} does not exist`, {
      exitCode: ExitCode.NOT_FOUND,
      suggestions: ['Give the audit directory or a file in it, or set THOTH_AUDIT_DIR.'],
    });
  }
  const key = await requireKey(location);
  return directory ? verifyAuditDir(target, key, options) : verifyAuditFile(target, key);
}

async function requireKey(location: AuditLocation): Promise<AuditKey> {
  const {keyFile} = location;
  const key = await readKeyFile(keyFile);
  if (!key) {
    throw new ThothError('AUDIT_KEY_NOT_FOUND', `audit key file ${keyFile} does not exist, so no record can be authenticated`, {
      exitCode: ExitCode.NOT_FOUND,
      suggestions: ['Pass --key-file with the key of the machine that wrote the trail (or set THOTH_AUDIT_KEY_FILE).'],
    });
  }
  return key;
}

export async function showAudit(
  location: AuditLocation,
  filter: EventFilter,
  limit: number | undefined,
): Promise<{events: StoredEvent[]; total: number}> {
  const events = await readEvents(auditDirOf(location), filter);
  const kept = limit !== undefined && events.length > limit ? events.slice(events.length - limit) : events;
  return {events: kept, total: events.length};
}

/**
 * `tail --follow`: prints the last `lines` matching events, then new ones as they are appended,
 * until `signal` aborts.
 */
export async function followAudit(
  location: AuditLocation,
  filter: EventFilter,
  lines: number,
  print: (event: StoredEvent) => void,
  options: {intervalMs: number; signal: AbortSignal; untilCreated?: boolean},
): Promise<number> {
  const follower = new EventFollower(auditDirOf(location), filter, options.untilCreated === true);
  const initial = await follower.poll();
  const shown = initial.slice(Math.max(0, initial.length - lines));
  for (const event of shown) print(event);
  let count = shown.length;
  while (!options.signal.aborted) {
    await sleep(options.intervalMs, undefined, {signal: options.signal}).catch(() => undefined);
    if (options.signal.aborted) break;
    for (const event of await follower.poll()) {
      print(event);
      count++;
    }
  }
  return count;
}

export type ExportFormat = 'jsonl' | 'ocsf';

export interface ExportResult {
  format: ExportFormat;
  output: string;
  count: number;
  firstEventId?: string;
  lastEventId?: string;
}

/**
 * One JSON object per line: the event with its chain position, or its OCSF 1.3.0 form. DEL, C1
 * and invisible characters as \u escapes (the same JSON to any parser): the lines go to stdout too.
 */
export function exportLine(stored: StoredEvent, format: ExportFormat, productVersion: string): string {
  if (format === 'ocsf') return jsonTerminalSafe(JSON.stringify(toOcsf(stored, {productVersion})));
  return jsonTerminalSafe(JSON.stringify({...stored.event, audit: {chain: stored.chain, seq: stored.seq, file: stored.file}}));
}

export async function exportAudit(
  location: AuditLocation,
  filter: EventFilter,
  format: ExportFormat,
  output: {path?: string | undefined; stdout?: NodeJS.WritableStream},
  productVersion: string,
): Promise<ExportResult> {
  const events = await readEvents(auditDirOf(location), filter);
  const stream: NodeJS.WritableStream = output.path ? createWriteStream(output.path, {mode: 0o600}) : (output.stdout ?? process.stdout);
  // A reader that stops early (`| head`) closes the pipe: stop writing, it is not an error.
  let failure: unknown;
  const onError = (error: unknown): void => {
    failure = error;
  };
  stream.on('error', onError);
  let written = 0;
  for (const stored of events) {
    if (failure !== undefined) break;
    let ok: boolean;
    try {
      ok = stream.write(`${exportLine(stored, format, productVersion)}\n`);
    } catch (error) {
      // stdout on a file or a pipe may be synchronous and throw instead of emitting.
      failure = error;
      break;
    }
    written++;
    // once() rejects when 'error' comes first; the listener above has recorded it.
    if (!ok && failure === undefined) await once(stream, 'drain').catch(() => undefined);
  }
  if (output.path && failure === undefined) {
    stream.end();
    await once(stream, 'finish').catch(() => undefined);
  }
  // stdout keeps the listener: an EPIPE may still arrive after the last write.
  if (output.path) stream.off('error', onError);
  if (failure !== undefined && errnoCode(failure) !== 'EPIPE') throw failure;
  const exported = events.slice(0, written);
  const result: ExportResult = {format, output: output.path ?? '-', count: exported.length};
  if (exported[0]) result.firstEventId = exported[0].event.eventId;
  if (exported.length > 0) result.lastEventId = exported[exported.length - 1]!.event.eventId;
  return result;
}
