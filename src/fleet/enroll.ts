import {hostname as osHostname, release, arch} from 'node:os';

import type {ControlPlaneEndpoint} from '../control-plane/config.js';
import type {ControlPlaneSender} from '../control-plane/client.js';
import type {GovernedServers, RegisterRequest, RegisterResponse} from '../control-plane/contract.js';
import type {Settings} from '../settings/definitions.js';
import {stateFiles, writeState, type EnrollmentRecord} from './control-plane-state.js';
import {readStateFile} from '../util/state-file.js';
import type {EndpointIdentity} from './identity.js';

export interface RegistrationInput {
  identity: Pick<EndpointIdentity, 'endpointId' | 'source'>;
  values: Pick<Settings, 'tenantId' | 'fleetId' | 'userId' | 'enrollmentSource'>;
  version: string;
  governedServers: GovernedServers | null;
  now?: () => Date;
  platform?: NodeJS.Platform;
  hostname?: () => string;
}

/** The registration body of `/v1/endpoints/register`: identity, host, OS, version, fleet, source, governed servers. */
export function registerRequest(input: RegistrationInput): RegisterRequest {
  const now = input.now ?? (() => new Date());
  return {
    endpointId: input.identity.endpointId.slice(0, 256),
    identitySource: input.identity.source,
    tenantId: input.values.tenantId ?? null,
    fleetId: input.values.fleetId?.slice(0, 256) ?? null,
    hostname: ((input.hostname ?? osHostname)().trim() || 'unknown-host').slice(0, 255),
    os: {platform: input.platform ?? process.platform, release: release().slice(0, 128), arch: arch()},
    thothVersion: input.version,
    enrollmentSource: input.values.enrollmentSource,
    userId: input.values.userId?.slice(0, 320) ?? null,
    governedServers: input.governedServers,
    sentAt: now().toISOString(),
  };
}

export interface RegisterResult {
  response: RegisterResponse;
  record: EnrollmentRecord;
}

/**
 * Registers the endpoint and records it in `enrollment.json`. Idempotent on both sides: the
 * control plane keys the endpoint by (tenant, endpointId) and answers created=false when it knew
 * it; locally the record is rewritten with the same enrolledAt.
 */
export async function registerEndpoint(options: {
  sender: ControlPlaneSender;
  endpoint: ControlPlaneEndpoint;
  request: RegisterRequest;
  profileDir: string;
  timeoutMs: number;
  now?: () => Date;
}): Promise<RegisterResult> {
  const response = await options.sender.send('register', options.endpoint, options.request, {timeoutMs: options.timeoutMs});
  const now = options.now ?? (() => new Date());
  const record: EnrollmentRecord = {
    endpointId: options.request.endpointId,
    tenantId: options.request.tenantId,
    fleetId: response.fleetId !== undefined ? response.fleetId : options.request.fleetId,
    govapiUrl: options.endpoint.url,
    enrolledAt: response.enrolledAt,
    registeredAt: now().toISOString(),
  };
  if (response.checkinIntervalSeconds !== undefined) record.checkinIntervalSeconds = response.checkinIntervalSeconds;
  // Trust on first use: the key pinned at the first registration with this control plane stays
  // pinned; a later answer naming another key cannot replace it (only a new URL, or removing the record).
  const previous = await readEnrollment(options.profileDir);
  if (previous?.serverKey !== undefined && previous.govapiUrl === options.endpoint.url) record.serverKey = previous.serverKey;
  else if (response.serverKey !== undefined)
    record.serverKey = {publicKey: response.serverKey.publicKey, keyId: response.serverKey.keyId, pinnedAt: now().toISOString()};
  await writeState(stateFiles.enrollment(options.profileDir), record);
  return {response, record};
}

export async function readEnrollment(profileDir: string): Promise<EnrollmentRecord | undefined> {
  const read = await readStateFile<EnrollmentRecord>(stateFiles.enrollment(profileDir), 'fleet/enrollment');
  return read.state === 'ok' ? read.value : undefined;
}

/** True when the record is this endpoint's registration with the current tenant, fleet and GovAPI. */
export function enrollmentMatches(
  record: EnrollmentRecord | undefined,
  current: {endpointId: string; tenantId: string | undefined; fleetId: string | undefined; govapiUrl: string},
): record is EnrollmentRecord {
  return (
    record !== undefined &&
    record.endpointId === current.endpointId &&
    record.tenantId === (current.tenantId ?? null) &&
    // A fleet the control plane assigned counts when none is configured.
    (current.fleetId === undefined || record.fleetId === current.fleetId) &&
    record.govapiUrl === current.govapiUrl
  );
}

/** `thoth status`'s counts, for registration and check-ins; null when they cannot be established. */
export async function governedServersSummary(options: {env: NodeJS.ProcessEnv; profileDir: string}): Promise<GovernedServers | null> {
  try {
    const {collectStatus} = await import('../client-config/status.js');
    const report = await collectStatus({env: options.env, profileDir: options.profileDir});
    // The control plane's contract has these four counts (remote and disabled are part of ungovernable).
    const {governed, notGoverned, drift, ungovernable} = report.counts;
    return {governed, notGoverned, drift, ungovernable, clients: report.clients.filter((client) => client.found).length};
  } catch {
    return null;
  }
}
