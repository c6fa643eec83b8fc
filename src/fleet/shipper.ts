import {randomUUID} from 'node:crypto';
import {mkdir} from 'node:fs/promises';
import {join} from 'node:path';

import type {ControlPlaneEndpoint} from '../control-plane/config.js';
import type {ControlPlaneSender} from '../control-plane/client.js';
import {ControlPlaneError} from '../control-plane/errors.js';
import {withFileLock} from '../util/file-lock.js';
import {LeaseGatedLoop} from './lease-gated-loop.js';
import {readPending, type PendingBatch, type SpoolLimits} from './audit-spool.js';
import {retryDelayMs} from './backoff.js';
import {writeState, type ShipCursors} from './control-plane-state.js';
import {readStateFile} from '../util/state-file.js';
import type {Lease} from './lease.js';
import {errorMessage} from '../core/errors.js';

export interface ShipperOptions {
  sender: ControlPlaneSender;
  endpoint: ControlPlaneEndpoint;
  auditDir: string;
  /** `<profile>/control-plane/ship-<key>/`: cursors.json and the lease. */
  stateDir: string;
  /** Only the holder ships this audit directory. */
  lease: Lease;
  endpointId: string;
  tenantId: string | undefined;
  timeoutMs: number;
  /** How often to look for new events when everything was shipped (default 2 s). */
  pollMs?: number;
  /** First retry after a failure (default 2 s), doubling up to maxBackoffMs (default 5 min). */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  limits?: Partial<SpoolLimits>;
  random?: () => number;
  now?: () => number;
  warn(message: string): void;
  /** Every batch sent and its outcome (tests, diagnostics). */
  onBatch?: (outcome: BatchOutcome) => void;
}

export interface BatchOutcome {
  ok: boolean;
  events: number;
  failures: number;
  nextDelayMs: number;
  error?: string;
}

const DEFAULT_LIMITS: SpoolLimits = {maxEvents: 500, maxBytes: 1024 * 1024};

/**
 * Ships audit events to the control plane: batches read from the audit log at the cursors,
 * POSTed to /v1/events/batch, and the cursors advanced (atomically, on disk) only after the
 * control plane acknowledged the whole batch. A batch that fails is read and sent again after a
 * back-off, for as long as it takes (days offline lose nothing: the events are in the log). A
 * batch whose acknowledgement was lost is sent again and deduplicated by the control plane on
 * eventId; an acknowledged event is never sent again.
 */
export class EventShipper {
  private readonly options: ShipperOptions;
  private readonly now: () => number;
  private readonly random: () => number;
  private limits: SpoolLimits;
  private failures = 0;
  private readonly loop: LeaseGatedLoop;
  private warnedFailure = false;

  constructor(options: ShipperOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.limits = {...DEFAULT_LIMITS, ...options.limits};
    this.loop = new LeaseGatedLoop({
      lease: options.lease,
      step: async () => (await this.shipOnce()).nextDelayMs,
      onError: (error) => {
        this.options.warn(`event shipping: ${errorMessage(error)}`);
        return this.options.pollMs ?? 2000;
      },
      firstDelay: () => 0,
    });
  }

  get cursorsPath(): string {
    return join(this.options.stateDir, 'cursors.json');
  }

  start(): void {
    this.loop.start();
  }

  /** Stops the loop; when this process ships, makes a last attempt to ship what is left (bounded by `deadlineMs`). */
  async stop(deadlineMs = 0): Promise<void> {
    await this.loop.stop();
    if (deadlineMs <= 0 || !this.options.lease.isHeld || this.failures > 0) return;
    const until = this.now() + deadlineMs;
    while (this.now() < until) {
      const outcome = await this.shipOnce(Math.max(100, until - this.now())).catch(() => undefined);
      if (!outcome?.ok || outcome.events === 0 || !outcome.more) return;
    }
  }

  /**
   * One batch: read, send, acknowledge. `events` 0 means nothing was pending (cursors past
   * control records are still saved).
   */
  async shipOnce(timeoutMs: number = this.options.timeoutMs): Promise<BatchOutcome & {more: boolean}> {
    const state = await this.readCursors();
    const batch = await readPending(this.options.auditDir, state, this.limits);
    if (batch.events.length === 0) {
      if (batch.cursors.size > 0) await this.commit(batch);
      return {ok: true, events: 0, failures: this.failures, nextDelayMs: this.options.pollMs ?? 2000, more: false};
    }
    const batchId = randomUUID();
    try {
      const answer = await this.options.sender.send(
        'eventBatch',
        this.options.endpoint,
        {
          batchId,
          endpointId: this.options.endpointId,
          tenantId: this.options.tenantId ?? null,
          sentAt: new Date(this.now()).toISOString(),
          events: batch.events,
          ...(batch.links.length > 0 ? {links: batch.links} : {}),
        },
        {timeoutMs},
      );
      const accounted = answer.accepted + answer.duplicates + answer.rejected.length;
      if (answer.batchId !== batchId || answer.received !== batch.events.length || accounted !== batch.events.length) {
        throw new ControlPlaneError(
          'invalid-response',
          `event batch ${batchId}: the acknowledgement does not account for the ${batch.events.length} events sent (received ${answer.received}, accepted ${answer.accepted}, duplicates ${answer.duplicates}, rejected ${answer.rejected.length})`,
        );
      }
      for (const rejected of answer.rejected) {
        this.options.warn(
          `the control plane rejected audit event ${rejected.eventId} (${rejected.code}: ${rejected.message}); it stays in the local audit log`,
        );
      }
      await this.commit(batch, answer.rejected.length);
      if (this.failures > 0) this.options.warn(`event shipping works again (${this.options.endpoint.url})`);
      this.failures = 0;
      this.warnedFailure = false;
      return this.report(
        {ok: true, events: batch.events.length, failures: 0, nextDelayMs: batch.more ? 0 : (this.options.pollMs ?? 2000)},
        batch.more,
      );
    } catch (error) {
      const problem = error instanceof ControlPlaneError ? error : undefined;
      if (problem?.code === 'PAYLOAD_TOO_LARGE' && this.limits.maxEvents > 1) {
        // Smaller batches, at once: not an outage.
        this.limits = {
          maxEvents: Math.max(1, Math.floor(Math.min(this.limits.maxEvents, batch.events.length) / 2)),
          maxBytes: Math.max(16 * 1024, Math.floor(this.limits.maxBytes / 2)),
        };
        return this.report({ok: false, events: batch.events.length, failures: this.failures, nextDelayMs: 0, error: problem.message}, true);
      }
      this.failures++;
      const cap = this.options.maxBackoffMs ?? 5 * 60_000;
      let delay = retryDelayMs(this.failures, this.options.baseBackoffMs ?? 2000, cap, this.random);
      if (problem?.retryAfterMs !== undefined) delay = Math.max(delay, Math.min(problem.retryAfterMs, cap));
      const message = errorMessage(error);
      if (!this.warnedFailure) {
        this.options.warn(`event shipping failed (${message}); the events stay in the audit log and are retried with back-off`);
        this.warnedFailure = true;
      }
      return this.report({ok: false, events: batch.events.length, failures: this.failures, nextDelayMs: delay, error: message}, true);
    }
  }

  private async readCursors(): Promise<ShipCursors> {
    const read = await readStateFile<ShipCursors>(this.cursorsPath, 'fleet/ship-cursors');
    if (read.state === 'invalid') {
      // Shipping again from the start duplicates nothing at the control plane (eventId), loses nothing.
      this.options.warn(`${read.message}; shipping resumes from the start of the audit log`);
    }
    return read.state === 'ok' ? read.value : {version: 1, auditDir: this.options.auditDir, chains: {}};
  }

  /** Saves the new cursors, under a lock and never moving one backwards (a holder that lost its lease may still finish a batch). */
  private async commit(batch: PendingBatch, rejected = 0): Promise<void> {
    await mkdir(this.options.stateDir, {recursive: true, mode: 0o700});
    await withFileLock(
      join(this.options.stateDir, 'cursors.lock'),
      async () => {
        const state = await this.readCursors();
        for (const [chain, cursor] of batch.cursors) {
          const known = state.chains[chain];
          if (!known || cursor.seq > known.seq || (cursor.seq === known.seq && cursor.done && !known.done)) state.chains[chain] = cursor;
        }
        if (rejected > 0) state.rejected = (state.rejected ?? 0) + rejected;
        await writeState(this.cursorsPath, state, true);
      },
      {timeoutMs: 5000},
    );
  }

  private report<T extends BatchOutcome>(outcome: T, more: boolean): T & {more: boolean} {
    this.options.onBatch?.(outcome);
    return {...outcome, more};
  }
}
