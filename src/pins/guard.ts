import {errorMessage} from '../core/errors.js';
import {sha256Digits} from '../core/canonical-json.js';
import {shellWord} from '../core/shell-word.js';
import {redactValue} from '../audit/redact.js';
import {applyFleetApproval, checkTools, readPinFile, type ToolDefinition} from './store.js';
import type {FleetPinDecision} from './fleet-decisions.js';

/** A definition larger than this is left out of PIN_CHANGED (its hash is still there). */
const MAX_DEFINITION_BYTES = 64 * 1024;

export interface PinGuardOptions {
  home: string;
  agentId: string;
  now?: () => Date;
  /** PIN_RECORDED / PIN_CHANGED / PIN_ACCEPTED for the audit trail (fields as in schemas/audit/events/pin-*). */
  event?: (type: string, fields: Record<string, unknown>) => void;
  warn?: (message: string) => void;
}

/**
 * One session's view of the pins: which tools showed a definition that differs from the pinned
 * one. The enforcer asks it before every call; a refused tool is re-checked against the file so
 * that `thoth pins accept` takes effect without restarting the session.
 */
export class PinGuard {
  private readonly options: PinGuardOptions;
  /**
   * Tool → the hash seen in this session and the pinned one it differs from, for tools whose pin
   * does not match (PIN_ACCEPTED names both).
   */
  private readonly mismatched = new Map<string, {seenHash: string; pinnedHash: string}>();
  private damaged: string | undefined;

  constructor(options: PinGuardOptions) {
    this.options = options;
  }

  private now(): Date {
    return (this.options.now ?? (() => new Date()))();
  }

  /** Why a call to `tool` must be refused, or undefined. */
  problem(tool: string): string | undefined {
    if (this.damaged !== undefined) return this.damaged;
    return this.mismatched.has(tool) ? 'changed' : undefined;
  }

  /** Re-reads the pin file for a refused tool: accepted since? */
  async recheck(tool: string): Promise<void> {
    const mismatch = this.mismatched.get(tool);
    if (mismatch === undefined) return;
    try {
      // Approved for the fleet since this session saw the change (the heartbeat brought the decision)?
      const fleet = await applyFleetApproval(this.options.home, this.options.agentId, tool, mismatch.seenHash, this.now());
      if (fleet !== undefined) {
        this.mismatched.delete(tool);
        this.options.event?.('PIN_ACCEPTED', fleetAcceptance(tool, mismatch.seenHash, mismatch.pinnedHash, fleet, this.now()));
        return;
      }
      const pins = await readPinFile(this.options.home, this.options.agentId);
      const pinned = Object.hasOwn(pins.tools, tool) ? pins.tools[tool] : undefined;
      if (pinned?.hash === mismatch.seenHash) {
        this.mismatched.delete(tool);
        // The decision itself is recorded by `thoth pins accept` (via cli) when it is made; this
        // records when this session noticed it and started allowing the tool again.
        this.options.event?.('PIN_ACCEPTED', {
          via: 'session',
          toolName: tool,
          pinSha256: sha256Digits(mismatch.seenHash),
          previousSha256: sha256Digits(mismatch.pinnedHash),
          acceptedAt: pinned.acceptedAt,
        });
      }
    } catch (error) {
      this.options.warn?.(`tool pins could not be re-read: ${errorMessage(error)}`);
    }
  }

  /**
   * Checks a tools/list page against the pins. Returns the pinned definitions to show instead
   * of changed ones: the model keeps seeing what was approved, not a swapped-in description.
   */
  async observe(tools: readonly ToolDefinition[]): Promise<Map<string, ToolDefinition>> {
    let check;
    try {
      check = await checkTools(this.options.home, this.options.agentId, tools, this.now());
    } catch (error) {
      // Without readable pins nothing can be verified: refuse every call until it is repaired.
      this.damaged = `the tool pins of agent "${this.options.agentId}" cannot be checked (${errorMessage(error)})`;
      this.options.warn?.(`${this.damaged}; every tool call is refused until the pin file is repaired or removed`);
      return new Map();
    }
    this.damaged = undefined;
    const alreadyKnown = new Set(this.mismatched.keys());
    for (const name of check.seen.keys()) {
      if (!check.changed.some((change) => change.name === name)) this.mismatched.delete(name);
    }
    for (const change of check.changed) this.mismatched.set(change.name, {seenHash: change.seenHash, pinnedHash: change.pinnedHash});
    // One event per tool: the trail (and `thoth audit show --tool`) can then say when each was pinned, and to what.
    for (const name of check.pinned) {
      const hash = check.seen.get(name);
      this.options.event?.('PIN_RECORDED', {toolName: name, pinSha256: hash === undefined ? undefined : sha256Digits(hash)});
    }
    for (const change of check.fleetAccepted) {
      this.mismatched.delete(change.name);
      this.options.event?.('PIN_CHANGED', changedFields(change));
      this.options.event?.('PIN_ACCEPTED', fleetAcceptance(change.name, change.seenHash, change.pinnedHash, change.decision, this.now()));
    }
    for (const change of check.changed) {
      if (change.newlyChanged) this.options.event?.('PIN_CHANGED', changedFields(change));
      if (alreadyKnown.has(change.name) && !change.newlyChanged) continue;
      if (change.rejectedByFleet !== undefined) {
        this.options.warn?.(
          `the definition of tool "${change.name}" changed since it was pinned, and the fleet's admins rejected this change (${change.rejectedByFleet.decidedBy}, review ${change.rejectedByFleet.reviewId}); calls to it are refused`,
        );
        continue;
      }
      this.options.warn?.(
        `the definition of tool "${change.name}" changed since it was pinned; calls to it are refused until someone reviews it and runs: thoth pins accept --agent-id ${shellWord(this.options.agentId)} --tool ${shellWord(change.name)}`,
      );
    }
    return check.pinnedDefinitions;
  }
}

/**
 * PIN_CHANGED with what a reviewer needs to see the diff (the control plane shows it to the
 * fleet's admins): both definitions, redacted as the audit trail redacts arguments, unless one is
 * too large for an audit record (the hashes always identify the change).
 */
function changedFields(change: {
  name: string;
  pinnedHash: string;
  seenHash: string;
  pinnedDefinition: ToolDefinition;
  seenDefinition: ToolDefinition;
}): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    toolName: change.name,
    pinSha256: sha256Digits(change.seenHash),
    previousSha256: sha256Digits(change.pinnedHash),
  };
  const definition = boundedDefinition(change.seenDefinition);
  const previous = boundedDefinition(change.pinnedDefinition);
  if (definition !== undefined && previous !== undefined) {
    fields['definition'] = definition;
    fields['previousDefinition'] = previous;
  } else {
    fields['definitionsOmitted'] = 'too-large';
  }
  return fields;
}

function boundedDefinition(definition: ToolDefinition): unknown {
  const redacted = redactValue(definition).value;
  return Buffer.byteLength(JSON.stringify(redacted) ?? '') <= MAX_DEFINITION_BYTES ? redacted : undefined;
}

function fleetAcceptance(
  tool: string,
  seenHash: string,
  pinnedHash: string,
  decision: FleetPinDecision,
  now: Date,
): Record<string, unknown> {
  return {
    via: 'fleet',
    toolName: tool,
    pinSha256: sha256Digits(seenHash),
    previousSha256: sha256Digits(pinnedHash),
    acceptedBy: decision.decidedBy,
    acceptedAt: now.toISOString(),
    reviewId: decision.reviewId,
  };
}
