import type {GovernedServers} from '../control-plane/contract.js';
import {ControlPlaneClient, userAgent, type ControlPlaneSender} from '../control-plane/client.js';
import {isUsable, planControlPlane, type ControlPlaneEndpoint, type ControlPlanePlan} from '../control-plane/config.js';
import {ControlPlaneError} from '../control-plane/errors.js';
import {thothVersion} from '../control-plane/version.js';
import {LocalThenRemoteEnforcer, RemoteAwareStepUp} from '../control-plane/local-then-remote.js';
import {RemoteEnforcer} from '../control-plane/remote-enforcer.js';
import type {Enforcer} from '../core/decision.js';
import type {StepUpHandler} from '../governance/types.js';
import {stateFiles} from '../fleet/control-plane-state.js';
import {governedServersSummary} from '../fleet/enroll.js';
import {HeartbeatLoop} from '../fleet/heartbeat.js';
import {Lease} from '../fleet/lease.js';
import {receivePinDecisions} from '../fleet/pin-decisions.js';
import {pinnedServerKey} from '../fleet/server-key.js';
import {EventShipper} from '../fleet/shipper.js';
import type {ResolvedSettings} from '../settings/resolve.js';
import {errorMessage} from '../core/errors.js';

export interface RunControlPlaneInput {
  settings: ResolvedSettings;
  env: NodeJS.ProcessEnv;
  /** This session's endpoint id (already resolved by compose). */
  endpointId: string;
  /** The audit directory to ship; undefined when the audit trail is off (nothing to ship). */
  auditDir: string | undefined;
  warn(message: string): void;
  /** Lease timing (tests): renew every renewMs, expire after 3 × renewMs. */
  leaseRenewMs?: number;
}

export interface RunControlPlane {
  plan: ControlPlanePlan;
  /**
   * The session's enforcer and step-up handler with the remote enforcer consulted after the
   * embedded one (see LocalThenRemoteEnforcer); unchanged when no usable enforcer is configured.
   * `holdBudgetMs`: how long a remote step-up may hold a call (the policy's elicitation timeout).
   * Called for each policy generation (a reload builds a new embedded enforcer).
   */
  govern(
    local: {enforcer: Enforcer; stepUp: StepUpHandler | undefined},
    holdBudgetMs: number,
  ): {enforcer: Enforcer; stepUp: StepUpHandler | undefined};
  /** Stops heartbeats and shipping (with a last, short attempt to ship what is left), frees the leases, closes connections. */
  close(): Promise<void>;
}

const GOVAPI_TIMEOUT_MS = 10_000;
const SUMMARY_TTL_MS = 10 * 60_000;

/**
 * Everything `thoth run` does with the control plane, started once per session by compose when a
 * tenant or a URL is configured (the module, and undici with it, is loaded only then):
 * - the remote enforcer (built once the policy's hold budget is known);
 * - heartbeats, by whichever `thoth run` process holds the heartbeat lease;
 * - event shipping of this session's audit directory, by whichever process holds its lease.
 * A host without a credential is not called (a warning says so); a TLS setting that cannot be
 * honoured (unreadable CA bundle, AWS-backed requirement without its CA) blocks every remote
 * decision rather than falling back to weaker TLS.
 */
export async function startRunControlPlane(input: RunControlPlaneInput): Promise<RunControlPlane> {
  const plan = planControlPlane(input.settings.values);
  const {warn} = input;
  for (const endpoint of [plan.enforcer, plan.govapi]) {
    if (endpoint && !isUsable(endpoint)) {
      warn(
        `control plane: ${endpoint.host === 'enforcer' ? 'the remote enforcer' : 'GovAPI'} at ${endpoint.url} is configured but ${endpoint.problem}; ${endpoint.host === 'enforcer' ? 'tool calls are decided by the local policy only' : 'no heartbeats and no event shipping'}`,
      );
    }
  }
  const usable = isUsable(plan.enforcer) || isUsable(plan.govapi);
  if (!usable) return {plan, govern: (local) => local, close: async () => undefined};

  const version = thothVersion();
  let client: ControlPlaneClient | undefined;
  let sender: ControlPlaneSender;
  try {
    client = await ControlPlaneClient.create({
      tls: plan.tls,
      userAgent: userAgent(version),
      onWarning: (warning, host) => warn(`control plane ${host}: ${warning.code}: ${warning.message}`),
    });
    sender = client;
  } catch (error) {
    const message = errorMessage(error);
    warn(`control plane: ${message}; remote decisions are blocked and nothing is sent until it is fixed`);
    sender = failingSender(message);
  }

  const profileDir = input.settings.profileDir;
  // The contract's limit; every request of this session uses the same id.
  input = {...input, endpointId: input.endpointId.slice(0, 256)};
  const renewMs = input.leaseRenewMs ?? 10_000;
  const stops: Array<() => Promise<void>> = [];
  if (client && isUsable(plan.govapi)) {
    const govapi = plan.govapi;
    const summary = cachedSummary(() => governedServersSummary({env: input.env, profileDir}));
    const warnedPinProblems = new Set<string>();
    const heartbeatLease = new Lease({path: stateFiles.heartbeatLease(profileDir), renewMs, ttlMs: 3 * renewMs, warn});
    const heartbeat = new HeartbeatLoop({
      sender,
      endpoint: govapi,
      lease: heartbeatLease,
      profileDir,
      endpointId: input.endpointId,
      values: input.settings.values,
      version,
      intervalMs: plan.heartbeatIntervalMs,
      timeoutMs: GOVAPI_TIMEOUT_MS,
      identity: async () => {
        const {resolveEndpointIdentity} = await import('../fleet/identity.js');
        return resolveEndpointIdentity({settings: input.settings, env: input.env});
      },
      governedServers: summary,
      warn: (message) => warn(`control plane: ${message}`),
      onCheckin: async (answer) => {
        if (answer.pinDecisions === undefined) return;
        const received = await receivePinDecisions({
          profileDir,
          decisions: answer.pinDecisions,
          key: await pinnedServerKey(input.settings),
          tenantId: input.settings.values.tenantId,
        });
        const problems = new Set(received.dropped.map((drop) => drop.problem));
        for (const problem of problems) {
          if (warnedPinProblems.has(problem)) continue;
          warnedPinProblems.add(problem);
          warn(`control plane: fleet pin decisions ignored: ${problem}`);
        }
      },
    });
    heartbeat.start();
    heartbeatLease.start();
    stops.push(async () => {
      await heartbeat.stop();
      await heartbeatLease.stop();
    });
    if (input.auditDir !== undefined) stops.push(startShipping(sender, govapi, input, plan, renewMs));
  }

  let remote: {holdBudgetMs: number; enforcer: RemoteEnforcer} | undefined;
  return {
    plan,
    govern(local, holdBudgetMs) {
      if (!isUsable(plan.enforcer)) return local;
      const endpoint = plan.enforcer;
      // Called again after each policy reload: the same remote enforcer (and its backoff while the
      // enforcer is down) unless the new policy changed the hold budget.
      if (remote?.holdBudgetMs !== holdBudgetMs) {
        remote = {
          holdBudgetMs,
          enforcer: new RemoteEnforcer({
            sender,
            endpoint,
            timeoutMs: plan.enforcerTimeoutMs,
            failureDecision: plan.failureDecision,
            env: plan.env,
            holdBudgetMs,
            warn: (message) => warn(`control plane: ${message}`),
            pinnedKey: () => pinnedServerKey(input.settings),
          }),
        };
      }
      return {
        enforcer: new LocalThenRemoteEnforcer(local.enforcer, remote.enforcer),
        stepUp: new RemoteAwareStepUp(remote.enforcer, local.stepUp),
      };
    },
    async close() {
      await Promise.allSettled(stops.map((stop) => stop()));
      await client?.close();
    },
  };
}

function startShipping(
  sender: ControlPlaneSender,
  govapi: ControlPlaneEndpoint,
  input: RunControlPlaneInput,
  plan: ControlPlanePlan,
  renewMs: number,
): () => Promise<void> {
  const stateDir = stateFiles.shipDir(input.settings.profileDir, input.auditDir!);
  const lease = new Lease({path: `${stateDir}/lease`, renewMs, ttlMs: 3 * renewMs, warn: input.warn});
  const shipper = new EventShipper({
    sender,
    endpoint: govapi,
    auditDir: input.auditDir!,
    stateDir,
    lease,
    endpointId: input.endpointId,
    tenantId: plan.tenantId,
    timeoutMs: GOVAPI_TIMEOUT_MS,
    warn: (message) => input.warn(`control plane: ${message}`),
  });
  shipper.start();
  lease.start();
  return async () => {
    // This session's SESSION_END is already in the log: one last, short attempt to ship it.
    await shipper.stop(1000);
    await lease.stop();
  };
}

function cachedSummary(compute: () => Promise<GovernedServers | null>): () => Promise<GovernedServers | null> {
  let value: {at: number; summary: Promise<GovernedServers | null>} | undefined;
  return () => {
    if (!value || Date.now() - value.at > SUMMARY_TTL_MS) value = {at: Date.now(), summary: compute()};
    return value.summary;
  };
}

/** When the TLS settings cannot be honoured: every request fails as a TLS failure (remote decisions block). */
function failingSender(message: string): ControlPlaneSender {
  return {
    send: async () => {
      throw new ControlPlaneError('tls', message);
    },
  };
}
