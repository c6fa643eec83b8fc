import {createHash} from 'node:crypto';
import {mkdir, readFile} from 'node:fs/promises';
import {dirname, join, resolve} from 'node:path';

import {errnoCode, errorMessage} from '../core/errors.js';
import {writeFileAtomic} from '../util/atomic-write.js';
import {loadValidator} from '../util/validators.js';

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

export type StateRead<T> = {state: 'ok'; value: T} | {state: 'missing'} | {state: 'invalid'; message: string};

/** Reads one state file and validates it against its schema (a damaged file is reported, not trusted). */
export async function readState<T>(path: string, schema: string): Promise<StateRead<T>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return {state: 'missing'};
    return {state: 'invalid', message: `${path}: cannot be read (${errnoCode(error) ?? errorMessage(error)})`};
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return {state: 'invalid', message: `${path}: not valid JSON`};
  }
  const validate = await loadValidator(schema);
  if (!validate(value)) {
    const first = validate.errors?.[0];
    return {state: 'invalid', message: `${path} at ${first?.instancePath || '/'}: ${first?.message ?? 'does not match its schema'}`};
  }
  return {state: 'ok', value: value as T};
}

/** Atomic, owner-only; `durable` false for files rewritten every few seconds (a lost update is only re-sent). */
export async function writeState(path: string, value: unknown, durable = true): Promise<void> {
  await mkdir(dirname(path), {recursive: true, mode: 0o700});
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`, {mode: 0o600, durable});
}
