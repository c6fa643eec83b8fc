import {ThothError, errorMessage} from '../core/errors.js';
import {ExitCode} from '../core/exit-codes.js';
import type {DecisionContext} from '../core/decision.js';
import {chainWriterFor, type ChainWriter} from './chain-writer.js';
import {EventIdGenerator} from './event-id.js';
import {genericEvent, serialiseEvent} from './events.js';
import {loadOrCreateKey, type AuditKey} from './key.js';
import type {AuditSettings} from './settings.js';

export interface StandaloneEvent {
  type: string;
  /** Its sessionId is replaced by the chain's id when `who` names no session. */
  context: DecisionContext;
  fields: Record<string, unknown>;
}

/** Where the events went: their chain, its one segment file (in the audit directory) and their ids, in order. */
export interface StandaloneEntry {
  chain: string;
  file: string;
  eventIds: string[];
}

export interface StandaloneIo {
  key?: AuditKey;
  clock?: () => number;
  warn?: (message: string) => void;
}

/**
 * Writes a decision made outside any session (`thoth approve`, `thoth deny`, `thoth pins accept`)
 * as a chain of its own in the audit directory: the session concerned may be long gone, and only
 * the process that opened a chain may append to it. The chain holds these events and no
 * SESSION_START/END (a command is not a session); the registry records its opening and its seal
 * like any other chain's, so `thoth audit verify` checks it and notices it missing.
 *
 * Resolves only once the chain is sealed and synced; any failure rejects with AUDIT_WRITE_FAILED
 * ("`what` could not be recorded ...; it was not applied"), so that the caller does not apply a
 * decision the trail does not hold.
 */
export async function writeStandaloneChain(
  settings: AuditSettings,
  who: {agentId: string; sessionId?: string},
  events: readonly StandaloneEvent[],
  what: {description: string; suggestion: string},
  io: StandaloneIo = {},
): Promise<StandaloneEntry> {
  const clock = io.clock ?? Date.now;
  const ids = new EventIdGenerator(clock);
  const chain = ids.next();
  const eventIds = events.map(() => ids.next());
  let writer: ChainWriter | undefined;
  let file: string | undefined;
  try {
    const key = io.key ?? (await loadOrCreateKey(settings.keyFile, io.warn));
    // Without a session, the chain is its own session: `thoth audit show --session-id <chain>` finds it.
    const sessionId = who.sessionId ?? chain;
    writer = chainWriterFor(settings, key, {chain, agentId: who.agentId, sessionId}, clock, (message) => io.warn?.(message));
    for (const [index, event] of events.entries()) {
      const context = who.sessionId === undefined ? {...event.context, sessionId} : event.context;
      await writer.append(serialiseEvent(genericEvent(event.type, context, event.fields, eventIds[index]!, clock())));
    }
    file = writer.currentFile;
    // close() seals the segment, fdatasyncs it and records the seal in the registry.
    await writer.close();
  } catch (error) {
    // Best effort: release the file handle; the unsealed chain is what verify will report.
    await writer?.close().catch(() => undefined);
    throw new ThothError(
      'AUDIT_WRITE_FAILED',
      `${what.description} could not be recorded in the audit trail (${settings.dir}): ${errorMessage(error)}; it was not applied`,
      {
        exitCode: ExitCode.UNEXPECTED,
        suggestions: [
          `Check that ${settings.dir} and the key file ${settings.keyFile} are writable (thoth health), then run the command again.`,
          what.suggestion,
        ],
      },
    );
  }
  if (file === undefined) throw new Error('a standalone audit chain needs at least one event');
  return {chain, file, eventIds};
}
