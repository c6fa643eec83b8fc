import {createHash} from 'node:crypto';
import {mkdir} from 'node:fs/promises';
import {dirname, join, resolve} from 'node:path';

import {writeFileAtomic} from '../util/atomic-write.js';

/**
 * What thoth keeps about the control plane, under `<profile>/control-plane/` (mode 0700, files
 * 0600). The audit events themselves are never copied here: the hash-chained log is the spool.
 *
 *   enrollment.json          this endpoint's registration (schemas/fleet/enrollment.schema.json)
 *   heartbeat.json           the last check-ins and the back-off (schemas/fleet/heartbeat-state.schema.json)
 *   heartbeat.lease          which thoth run process sends heartbeats now
 *   ship-<key>/cursors.json  per audit directory: what the control plane acknowledged
 *   ship-<key>/lease         which thoth run process ships that directory now
 */
export const CONTROL_PLANE_DIR = 'control-plane';

export function controlPlaneDir(profileDir: string): string {
  return join(profileDir, CONTROL_PLANE_DIR);
}

export const stateFiles = {
  enrollment: (profileDir: string) => join(controlPlaneDir(profileDir), 'enrollment.json'),
  heartbeat: (profileDir: string) => join(controlPlaneDir(profileDir), 'heartbeat.json'),
  heartbeatLease: (profileDir: string) => join(controlPlaneDir(profileDir), 'heartbeat.lease'),
  shipDir: (profileDir: string, auditDir: string) =>
    join(controlPlaneDir(profileDir), `ship-${createHash('sha256').update(resolve(auditDir)).digest('hex').slice(0, 16)}`),
};

export interface EnrollmentRecord {
  endpointId: string;
  tenantId: string | null;
  fleetId: string | null;
  govapiUrl: string;
  enrolledAt: string;
  registeredAt: string;
  checkinIntervalSeconds?: number;
  /** The control plane's signing key, pinned at the first registration with this GovAPI URL. */
  serverKey?: {publicKey: string; keyId: string; pinnedAt: string};
}

export interface HeartbeatState {
  endpointId: string;
  govapiUrl: string;
  sequence: number;
  lastAttemptAt: string | null;
  lastSuccessAt: string | null;
  consecutiveFailures: number;
  lastError: string | null;
  lastErrorKind?: 'network' | 'timeout' | 'tls' | 'http' | 'invalid-response' | 'aborted' | 'auth' | null;
  nextAttemptAt: string | null;
}

export interface ChainCursor {
  seq: number;
  file: string;
  offset: number;
  done: boolean;
}

export interface ShipCursors {
  version: 1;
  auditDir: string;
  chains: Record<string, ChainCursor>;
  rejected?: number;
}

/** Atomic, owner-only; `durable` false for files rewritten every few seconds (a lost update is only re-sent). */
export async function writeState(path: string, value: unknown, durable = true): Promise<void> {
  await mkdir(dirname(path), {recursive: true, mode: 0o700});
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`, {mode: 0o600, durable});
}
