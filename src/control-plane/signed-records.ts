import {createPublicKey, verify} from 'node:crypto';

import {canonicalJson} from '../core/canonical-json.js';
import type {FleetPinDecision} from '../pins/fleet-decisions.js';

/**
 * Records a control plane signs with its Ed25519 key, so that an endpoint honours them only when
 * they come from the server whose public key it pinned (at enrollment or by managed preference):
 * a grant for one held call, and a fleet decision on a changed tool definition. The signature
 * covers a domain line and the canonical JSON of the record's fields (everything but
 * `signature`), so one kind can never be passed off as another.
 */
export const GRANT_DOMAIN = 'thoth-grant-v1';
export const PIN_DECISION_DOMAIN = 'thoth-pin-decision-v1';

export interface SignedGrant {
  approvalId: string;
  decision: 'approved' | 'denied';
  tenantId: string;
  endpointId: string;
  agentId: string;
  tool: string;
  argumentsSha256: string;
  decidedBy: string;
  decidedAt: string;
  expiresAt: string;
  keyId: string;
  signature: string;
}

/** A fleet pin decision as the server signs it: the record the endpoint keeps (pins/fleet-decisions.ts). */
export type SignedPinDecision = FleetPinDecision;

/** A pinned server key: the raw 32-byte Ed25519 public key. */
export interface PinnedServerKey {
  publicKey: string;
  /** Where the pin came from: `managed` (THOTH_CONTROL_PLANE_PUBLIC_KEY) or `enrollment`. */
  source: 'managed' | 'setting' | 'enrollment';
}

export function signedBytes(domain: string, fields: Record<string, unknown>): Buffer {
  return Buffer.from(`${domain}\n${canonicalJson(fields)}`, 'utf8');
}

const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** `ed25519:<base64>` or bare base64 of 32 bytes → the base64; undefined when it is not one. */
export function parsePublicKey(text: string): string | undefined {
  const value = text.trim().replace(/^ed25519:/i, '');
  if (!/^[A-Za-z0-9+/]{43}=$/.test(value)) return undefined;
  return Buffer.from(value, 'base64').length === 32 ? value : undefined;
}

/** True when `signature` is the key's Ed25519 signature of the record's other fields under `domain`. */
export function verifyRecord(publicKey: string, domain: string, record: {signature: string} & Record<string, unknown>): boolean {
  const raw = Buffer.from(publicKey, 'base64');
  if (raw.length !== 32 || typeof record.signature !== 'string') return false;
  const {signature, ...fields} = record;
  try {
    const key = createPublicKey({key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki'});
    return verify(null, signedBytes(domain, fields), key, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}
