import type {ControlPlaneEndpoint} from '../control-plane/config.js';
import type {ControlPlaneSender} from '../control-plane/client.js';
import type {CheckinResponse, GovernedServers} from '../control-plane/contract.js';
import {ControlPlaneError} from '../control-plane/errors.js';
import type {Settings} from '../settings/definitions.js';
import {LeaseGatedLoop} from './lease-gated-loop.js';
import {jittered, retryDelayMs} from './backoff.js';
import {stateFiles, writeState, type HeartbeatState} from './control-plane-state.js';
import {readStateFile} from '../util/state-file.js';
import {enrollmentMatches, readEnrollment, registerEndpoint, registerRequest} from './enroll.js';
import type {EndpointIdentity} from './identity.js';
import type {Lease} from './lease.js';
import {errorMessage} from '../core/errors.js';

export interface HeartbeatOptions {
  sender: ControlPlaneSender;
  endpoint: ControlPlaneEndpoint;
  /** Only the holder of this lease sends heartbeats. */
  lease: Lease;
  profileDir: string;
  endpointId: string;
  values: Pick<Settings, 'tenantId' | 'fleetId' | 'userId' | 'enrollmentSource'>;
  version: string;
  /** THOTH_ENDPOINT_CHECKIN_INTERVAL_SEC (THOTH_HEARTBEAT_INTERVAL_SECONDS). */
  intervalMs: number;
  /** One request. */
  timeoutMs: number;
  /** The endpoint identity, resolved only when a registration is needed. */
  identity: () => Promise<Pick<EndpointIdentity, 'endpointId' | 'source'>>;
  governedServers: () => Promise<GovernedServers | null>;
  /** The longest wait after failures (default: the interval or 30 minutes, whichever is longer). */
  maxBackoffMs?: number;
  random?: () => number;
  now?: () => number;
  warn(message: string): void;
  /** What a successful check-in answered (the fleet's pin decisions): a failure here is warned about, not retried. */
  onCheckin?: (answer: CheckinResponse) => Promise<void>;
  /** Every attempt and the wait planned after it (tests, diagnostics). */
  onAttempt?: (attempt: HeartbeatAttempt) => void;
}

export interface HeartbeatAttempt {
  ok: boolean;
  registered: boolean;
  failures: number;
  nextDelayMs: number;
  error?: string;
}

/**
 * Check-ins of this endpoint, sent by the one `thoth run` process that holds the heartbeat lease:
 * every interval ±10 %; after a failure with exponential back-off and jitter (also honouring
 * Retry-After). The endpoint registers itself first when `enrollment.json` does not match it, and
 * again when the control plane answers ENDPOINT_NOT_REGISTERED. The state (sequence, failures,
 * next attempt) lives in heartbeat.json, so a restart or a new lease holder keeps the cadence and
 * the back-off, and `thoth health` can report the last heartbeat.
 */
export class HeartbeatLoop {
  private readonly options: HeartbeatOptions;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly loop: LeaseGatedLoop;
  private warnedFailure = false;

  constructor(options: HeartbeatOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.loop = new LeaseGatedLoop({
      lease: options.lease,
      step: async () => (await this.beat()).nextDelayMs,
      onError: (error) => {
        this.options.warn(`heartbeat: ${errorMessage(error)}`);
        return this.options.intervalMs;
      },
      firstDelay: () => this.firstDelay(),
    });
  }

  start(): void {
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** One check-in now (registering first if needed); returns what happened. */
  async beat(): Promise<HeartbeatAttempt> {
    const {options} = this;
    const previous = await this.readState();
    const sequence = previous.sequence + 1;
    const attemptAt = new Date(this.now()).toISOString();
    let registered = false;
    let nextMs = options.intervalMs;
    try {
      const enrollment = await readEnrollment(options.profileDir);
      const current = {
        endpointId: options.endpointId,
        tenantId: options.values.tenantId,
        fleetId: options.values.fleetId,
        govapiUrl: options.endpoint.url,
      };
      if (!enrollmentMatches(enrollment, current)) {
        nextMs = Math.max(nextMs, await this.register());
        registered = true;
      } else if (enrollment.checkinIntervalSeconds !== undefined) {
        nextMs = Math.max(nextMs, enrollment.checkinIntervalSeconds * 1000);
      }
      let answer;
      try {
        answer = await this.checkin(sequence);
      } catch (error) {
        if (!(error instanceof ControlPlaneError && error.code === 'ENDPOINT_NOT_REGISTERED') || registered) throw error;
        nextMs = Math.max(nextMs, await this.register());
        registered = true;
        answer = await this.checkin(sequence);
      }
      if (answer.nextCheckinSeconds !== undefined) nextMs = Math.max(nextMs, answer.nextCheckinSeconds * 1000);
      if (options.onCheckin) await options.onCheckin(answer).catch((error: unknown) => options.warn(`heartbeat: ${errorMessage(error)}`));
      const delay = jittered(nextMs, this.random);
      await this.writeState({
        ...previous,
        sequence,
        lastAttemptAt: attemptAt,
        lastSuccessAt: attemptAt,
        consecutiveFailures: 0,
        lastError: null,
        lastErrorKind: null,
        nextAttemptAt: new Date(this.now() + delay).toISOString(),
      });
      if (this.warnedFailure) options.warn(`heartbeat: the control plane answers again (${options.endpoint.url})`);
      this.warnedFailure = false;
      return this.report({ok: true, registered, failures: 0, nextDelayMs: delay});
    } catch (error) {
      const failures = previous.consecutiveFailures + 1;
      const cap = options.maxBackoffMs ?? Math.max(options.intervalMs, 30 * 60_000);
      let delay = retryDelayMs(failures, options.intervalMs, cap, this.random);
      const problem = error instanceof ControlPlaneError ? error : undefined;
      if (problem?.retryAfterMs !== undefined) delay = Math.max(delay, Math.min(problem.retryAfterMs, cap));
      const message = errorMessage(error);
      await this.writeState({
        ...previous,
        sequence,
        lastAttemptAt: attemptAt,
        consecutiveFailures: failures,
        lastError: message,
        lastErrorKind: problem ? (problem.isAuthFailure ? 'auth' : problem.kind) : null,
        nextAttemptAt: new Date(this.now() + delay).toISOString(),
      }).catch(() => undefined);
      if (!this.warnedFailure) {
        options.warn(`heartbeat failed (${message}); retrying with back-off, next in ${Math.round(delay / 1000)} s`);
        this.warnedFailure = true;
      }
      return this.report({ok: false, registered, failures, nextDelayMs: delay, error: message});
    }
  }

  private async firstDelay(): Promise<number> {
    const state = await this.readState();
    const due = state.nextAttemptAt === null ? NaN : Date.parse(state.nextAttemptAt) - this.now();
    const cap = this.options.maxBackoffMs ?? Math.max(this.options.intervalMs, 30 * 60_000);
    // Keep the cadence (or the back-off) of the previous holder; otherwise beat soon after start.
    return Number.isFinite(due) && due > 0 ? Math.min(due, cap) : Math.round(this.random() * Math.min(1000, this.options.intervalMs));
  }

  private async register(): Promise<number> {
    const {options} = this;
    const [identity, governedServers] = await Promise.all([options.identity(), options.governedServers()]);
    const request = registerRequest({
      identity: {...identity, endpointId: options.endpointId},
      values: options.values,
      version: options.version,
      governedServers,
      now: () => new Date(this.now()),
    });
    const {response} = await registerEndpoint({
      sender: options.sender,
      endpoint: options.endpoint,
      request,
      profileDir: options.profileDir,
      timeoutMs: options.timeoutMs,
      now: () => new Date(this.now()),
    });
    return (response.checkinIntervalSeconds ?? 0) * 1000;
  }

  private async checkin(sequence: number) {
    const {options} = this;
    return options.sender.send(
      'checkin',
      options.endpoint,
      {
        endpointId: options.endpointId,
        tenantId: options.values.tenantId ?? null,
        fleetId: options.values.fleetId ?? null,
        thothVersion: options.version,
        sequence,
        sentAt: new Date(this.now()).toISOString(),
        governedServers: await options.governedServers(),
      },
      {timeoutMs: options.timeoutMs},
    );
  }

  private async readState(): Promise<HeartbeatState> {
    const read = await readStateFile<HeartbeatState>(stateFiles.heartbeat(this.options.profileDir), 'fleet/heartbeat-state');
    const fresh: HeartbeatState = {
      endpointId: this.options.endpointId,
      govapiUrl: this.options.endpoint.url,
      sequence: 0,
      lastAttemptAt: null,
      lastSuccessAt: null,
      consecutiveFailures: 0,
      lastError: null,
      lastErrorKind: null,
      nextAttemptAt: null,
    };
    if (read.state !== 'ok') return fresh;
    // Another endpoint id or control plane: its history does not apply.
    if (read.value.endpointId !== this.options.endpointId || read.value.govapiUrl !== this.options.endpoint.url)
      return {...fresh, sequence: read.value.sequence};
    return read.value;
  }

  private async writeState(state: HeartbeatState): Promise<void> {
    await writeState(stateFiles.heartbeat(this.options.profileDir), state, false);
  }

  private report(attempt: HeartbeatAttempt): HeartbeatAttempt {
    this.options.onAttempt?.(attempt);
    return attempt;
  }
}
