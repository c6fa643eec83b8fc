import type {SignedPinDecision} from '../control-plane/signed-records.js';
import {PIN_DECISION_DOMAIN, verifyRecord, type PinnedServerKey} from '../control-plane/signed-records.js';
import {writeFleetDecisions, type FleetPinDecision} from '../pins/fleet-decisions.js';

export interface ReceivedPinDecisions {
  /** Decisions kept (signature valid, this tenant's). */
  kept: number;
  /** Decisions dropped, with why (forged, another tenant's, no key pinned). */
  dropped: Array<{reviewId: string; problem: string}>;
  /** The stored decisions changed. */
  changed: boolean;
}

/**
 * The fleet's pin decisions from a check-in answer: each is kept only if the control plane whose
 * key this endpoint pinned (by managed preference or at enrollment) signed it, and it is for this
 * endpoint's tenant (when one is configured). Without a pinned key none is kept: an unsigned
 * "approve" must not unblock a tool an attacker changed. The kept ones replace the stored set,
 * which every session of this profile reads (see pins/fleet-decisions.ts).
 */
export async function receivePinDecisions(input: {
  profileDir: string;
  decisions: readonly SignedPinDecision[];
  key: PinnedServerKey | undefined;
  tenantId: string | undefined;
}): Promise<ReceivedPinDecisions> {
  const kept: FleetPinDecision[] = [];
  const dropped: ReceivedPinDecisions['dropped'] = [];
  for (const decision of input.decisions) {
    const problem = problemWith(decision, input.key, input.tenantId);
    if (problem === undefined) kept.push(decision);
    else dropped.push({reviewId: decision.reviewId, problem});
  }
  // No key pinned: keep what was stored (verified earlier) rather than forget it.
  const changed = input.key === undefined ? false : await writeFleetDecisions(input.profileDir, kept);
  return {kept: kept.length, dropped, changed};
}

function problemWith(decision: SignedPinDecision, key: PinnedServerKey | undefined, tenantId: string | undefined): string | undefined {
  if (key === undefined) return 'no control-plane key is pinned (enrollment or THOTH_CONTROL_PLANE_PUBLIC_KEY)';
  if (!verifyRecord(key.publicKey, PIN_DECISION_DOMAIN, decision as unknown as {signature: string} & Record<string, unknown>))
    return `its signature does not verify with the pinned control-plane key (${key.source})`;
  if (tenantId !== undefined && decision.tenantId !== tenantId) return `it is for tenant "${decision.tenantId}", not "${tenantId}"`;
  return undefined;
}
