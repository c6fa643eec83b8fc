import {mkdir, readFile} from 'node:fs/promises';
import {join} from 'node:path';

import {errnoCode} from '../core/errors.js';
import {sha256Digits} from '../core/canonical-json.js';
import {writeFileAtomic} from '../util/atomic-write.js';

/**
 * The fleet's decisions on changed tool definitions, as the control plane signed them. Only the
 * heartbeat writes this file, and only with records whose signature it verified against the
 * pinned server key; it lives in the profile beside the pin files it settles, with the same
 * protection (a governed agent's file tools are refused the profile), so sessions read it as they
 * read the pins. A decision is bound to a tool name and to one change (from one definition hash to
 * another): a server that changes the tool again needs a new review.
 */
export interface FleetPinDecision {
  reviewId: string;
  tenantId: string;
  tool: string;
  fromSha256: string;
  toSha256: string;
  decision: 'approved' | 'rejected';
  decidedBy: string;
  decidedAt: string;
  keyId: string;
  signature: string;
}

export function fleetDecisionsFile(home: string): string {
  // Inside pins/ but not a pin file: `thoth pins list` reads only pins/*.json.
  return join(home, 'pins', 'fleet', 'decisions.json');
}

/** The stored decisions; none when the file is missing or unreadable (nothing is then settled by the fleet). */
export async function readFleetDecisions(home: string): Promise<FleetPinDecision[]> {
  let text: string;
  try {
    text = await readFile(fleetDecisionsFile(home), 'utf8');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return [];
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as {decisions?: unknown};
    return Array.isArray(parsed.decisions) ? parsed.decisions.filter(isDecision) : [];
  } catch {
    // A damaged file settles nothing: the changed tools stay refused, as without a fleet.
    return [];
  }
}

/** Replaces the stored decisions (verified by the caller); true when the file changed. */
export async function writeFleetDecisions(home: string, decisions: readonly FleetPinDecision[]): Promise<boolean> {
  const text = `${JSON.stringify({version: 1, decisions}, null, 2)}\n`;
  const file = fleetDecisionsFile(home);
  const previous = await readFile(file, 'utf8').catch(() => undefined);
  if (previous === text) return false;
  await mkdir(join(home, 'pins', 'fleet'), {recursive: true, mode: 0o700});
  await writeFileAtomic(file, text, {mode: 0o600});
  return true;
}

/** The fleet's decision on this change of `tool` (pin hashes as in the pin file), if any. */
export function fleetDecisionFor(
  decisions: readonly FleetPinDecision[],
  tool: string,
  fromHash: string,
  toHash: string,
): FleetPinDecision | undefined {
  const from = sha256Digits(fromHash);
  const to = sha256Digits(toHash);
  return decisions.find((decision) => decision.tool === tool && decision.fromSha256 === from && decision.toSha256 === to);
}

function isDecision(value: unknown): value is FleetPinDecision {
  if (value === null || typeof value !== 'object') return false;
  const record = value as Record<string, unknown>;
  return (
    typeof record['tool'] === 'string' &&
    typeof record['fromSha256'] === 'string' &&
    typeof record['toSha256'] === 'string' &&
    typeof record['reviewId'] === 'string' &&
    typeof record['decidedBy'] === 'string' &&
    (record['decision'] === 'approved' || record['decision'] === 'rejected')
  );
}
