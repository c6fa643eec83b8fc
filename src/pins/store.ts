import {mkdir, readdir} from 'node:fs/promises';
import {join} from 'node:path';

import {ThothError, errnoCode} from '../core/errors.js';
import {ExitCode} from '../core/exit-codes.js';
import {agentFile} from '../core/agent-files.js';
import {canonicalHash} from '../core/canonical-json.js';
import {writeFileAtomic} from '../util/atomic-write.js';
import {withFileLock} from '../util/file-lock.js';
import {readStateFile} from '../util/state-file.js';
import {fleetDecisionFor, readFleetDecisions, type FleetPinDecision} from './fleet-decisions.js';

/**
 * Tool pinning (rug-pull defence): the first definition seen of each tool is trusted and
 * recorded; a later, different definition is kept aside as `changed` until a person accepts
 * it. One file per agent under `<home>/pins/`, shared by every thoth process, changed only
 * under a lock and written atomically.
 */

/** The parts of a tool definition the model reads or relies on: what a rug pull would change. */
export const PINNED_FIELDS = ['name', 'title', 'description', 'inputSchema', 'outputSchema', 'annotations'] as const;

export type ToolDefinition = Record<string, unknown> & {name: string};

export interface PinnedTool {
  hash: string;
  definition: ToolDefinition;
  pinnedAt: string;
  /** Set when a person accepted a change (`thoth pins accept`), or the fleet did. */
  acceptedAt?: string;
  /** Set when the change was accepted by a fleet decision: its review and the admin who approved it. */
  fleetReviewId?: string;
  acceptedBy?: string;
  /** A definition seen later that differs from the pinned one, awaiting review. */
  changed?: {hash: string; definition: ToolDefinition; seenAt: string};
}

export interface PinFile {
  version: 1;
  agentId: string;
  tools: Record<string, PinnedTool>;
}

export interface PinCheck {
  /** Tools seen for the first time and pinned now. */
  pinned: string[];
  /** Tools whose definition differs from the pinned one (newly or still). */
  changed: Array<{
    name: string;
    pinnedHash: string;
    seenHash: string;
    newlyChanged: boolean;
    pinnedDefinition: ToolDefinition;
    seenDefinition: ToolDefinition;
    /** The fleet rejected this change: it stays refused, and `thoth pins accept` cannot accept it. */
    rejectedByFleet?: FleetPinDecision;
  }>;
  /** Changes the fleet had approved already: pinned now, without asking anyone. */
  fleetAccepted: Array<{
    name: string;
    pinnedHash: string;
    seenHash: string;
    decision: FleetPinDecision;
    pinnedDefinition: ToolDefinition;
    seenDefinition: ToolDefinition;
  }>;
  /** The pinned definition of each changed tool (what the client should keep seeing). */
  pinnedDefinitions: Map<string, ToolDefinition>;
  /** The hash of every tool in the list, as seen. */
  seen: Map<string, string>;
}

export function pinsDirectory(home: string): string {
  return join(home, 'pins');
}

export function pinFilePath(home: string, agentId: string): string {
  return agentFile(pinsDirectory(home), agentId);
}

/** The pinned subset of a tool definition and its hash. */
export function pinDefinition(tool: Record<string, unknown>): {definition: ToolDefinition; hash: string} {
  const definition: Record<string, unknown> = {};
  for (const field of PINNED_FIELDS) if (tool[field] !== undefined) definition[field] = tool[field];
  return {definition: definition as ToolDefinition, hash: canonicalHash(definition)};
}

export async function readPinFile(home: string, agentId: string): Promise<PinFile> {
  const file = pinFilePath(home, agentId);
  return (await readPins(file, agentId)) ?? {version: 1, agentId, tools: {}};
}

/** Compares a tools/list page with the pins, pinning new tools and recording changes. */
export async function checkTools(
  home: string,
  agentId: string,
  tools: readonly ToolDefinition[],
  now: Date = new Date(),
): Promise<PinCheck> {
  const result: PinCheck = {pinned: [], changed: [], fleetAccepted: [], pinnedDefinitions: new Map(), seen: new Map()};
  const file = pinFilePath(home, agentId);
  await mkdir(pinsDirectory(home), {recursive: true, mode: 0o700});
  const fleet = await readFleetDecisions(home);
  await withFileLock(`${file}.lock`, async () => {
    const pins = await readPinFile(home, agentId);
    let dirty = false;
    for (const tool of tools) {
      const {definition, hash} = pinDefinition(tool);
      result.seen.set(tool.name, hash);
      const pinned = Object.hasOwn(pins.tools, tool.name) ? pins.tools[tool.name] : undefined;
      if (pinned === undefined) {
        setOwn(pins.tools, tool.name, {hash, definition, pinnedAt: now.toISOString()});
        result.pinned.push(tool.name);
        dirty = true;
      } else if (pinned.hash !== hash) {
        const decision = fleetDecisionFor(fleet, tool.name, pinned.hash, hash);
        if (decision?.decision === 'approved') {
          // Reviewed once for the fleet: this change becomes the pin here without asking the user.
          result.fleetAccepted.push({
            name: tool.name,
            pinnedHash: pinned.hash,
            seenHash: hash,
            decision,
            pinnedDefinition: pinned.definition,
            seenDefinition: definition,
          });
          setOwn(pins.tools, tool.name, fleetAccepted(pinned, {hash, definition}, decision, now));
          dirty = true;
          continue;
        }
        const newlyChanged = pinned.changed?.hash !== hash;
        if (newlyChanged) {
          pinned.changed = {hash, definition, seenAt: now.toISOString()};
          dirty = true;
        }
        result.changed.push({
          name: tool.name,
          pinnedHash: pinned.hash,
          seenHash: hash,
          newlyChanged,
          pinnedDefinition: pinned.definition,
          seenDefinition: definition,
          ...(decision?.decision === 'rejected' ? {rejectedByFleet: decision} : {}),
        });
        result.pinnedDefinitions.set(tool.name, pinned.definition);
      } else if (pinned.changed !== undefined) {
        // The server went back to the approved definition.
        delete pinned.changed;
        dirty = true;
      }
    }
    if (dirty) await writeFileAtomic(file, `${JSON.stringify(pins, null, 2)}\n`, {mode: 0o600});
  });
  return result;
}

function fleetAccepted(
  pinned: PinnedTool,
  seen: {hash: string; definition: ToolDefinition},
  decision: FleetPinDecision,
  now: Date,
): PinnedTool {
  return {
    hash: seen.hash,
    definition: seen.definition,
    pinnedAt: pinned.pinnedAt,
    acceptedAt: now.toISOString(),
    fleetReviewId: decision.reviewId,
    acceptedBy: decision.decidedBy,
  };
}

/**
 * A session's re-check of a refused tool: when the fleet has approved the change the session saw
 * (pinned hash → `seenHash`), it becomes the pin now. Returns the decision applied, if any.
 */
export async function applyFleetApproval(
  home: string,
  agentId: string,
  tool: string,
  seenHash: string,
  now: Date = new Date(),
): Promise<FleetPinDecision | undefined> {
  const fleet = await readFleetDecisions(home);
  if (fleet.length === 0) return undefined;
  const file = pinFilePath(home, agentId);
  return withFileLock(`${file}.lock`, async () => {
    const pins = await readPinFile(home, agentId);
    const pinned = Object.hasOwn(pins.tools, tool) ? pins.tools[tool] : undefined;
    if (pinned?.changed?.hash !== seenHash) return undefined;
    const decision = fleetDecisionFor(fleet, tool, pinned.hash, seenHash);
    if (decision?.decision !== 'approved') return undefined;
    setOwn(pins.tools, tool, fleetAccepted(pinned, pinned.changed, decision, now));
    await writeFileAtomic(file, `${JSON.stringify(pins, null, 2)}\n`, {mode: 0o600});
    return decision;
  });
}

export interface AcceptResult {
  agentId: string;
  accepted: Array<{name: string; from: string; to: string}>;
}

export interface AcceptOptions {
  /**
   * Called under the pin file's lock with what is about to be accepted (never with nothing),
   * before the file changes (the audit trail): if it throws, nothing is applied.
   */
  beforeApply?: (accepted: AcceptResult['accepted'], acceptedAt: string) => Promise<void>;
}

/** Makes the changed definitions of `tools` (all changed tools when undefined) the pinned ones. */
export async function acceptChanges(
  home: string,
  agentId: string,
  tools: readonly string[] | undefined,
  now: Date = new Date(),
  options: AcceptOptions = {},
): Promise<AcceptResult> {
  const file = pinFilePath(home, agentId);
  await mkdir(pinsDirectory(home), {recursive: true, mode: 0o700});
  const fleet = await readFleetDecisions(home);
  return withFileLock(`${file}.lock`, async () => {
    const pins = await readPinFile(home, agentId);
    const names = tools ?? Object.keys(pins.tools).filter((name) => pins.tools[name]?.changed !== undefined);
    const accepted: AcceptResult['accepted'] = [];
    for (const name of names) {
      const pinned = Object.hasOwn(pins.tools, name) ? pins.tools[name] : undefined;
      if (pinned === undefined) {
        throw new ThothError('PIN_NOT_FOUND', `agent "${agentId}" has no pinned tool "${name}"`, {
          exitCode: ExitCode.NOT_FOUND,
          suggestions: [`List the pins with: thoth pins list --agent-id ${agentId}`],
        });
      }
      if (pinned.changed === undefined) {
        if (tools !== undefined) {
          throw new ThothError('PIN_UNCHANGED', `tool "${name}" of agent "${agentId}" has no changed definition to accept`, {
            exitCode: ExitCode.NOT_FOUND,
            suggestions: ['A change is recorded when a session sees the new definition in tools/list.'],
          });
        }
        continue;
      }
      const rejected = fleetDecisionFor(fleet, name, pinned.hash, pinned.changed.hash);
      if (rejected?.decision === 'rejected') {
        // The fleet's admins reviewed this exact change and refused it: one user cannot overrule them.
        throw new ThothError(
          'PIN_REJECTED_BY_FLEET',
          `the change of tool "${name}" of agent "${agentId}" was rejected for the fleet by ${rejected.decidedBy} (review ${rejected.reviewId})`,
          {exitCode: ExitCode.SECURITY, suggestions: ['Ask the control plane admins to review the tool again.']},
        );
      }
      accepted.push({name, from: pinned.hash, to: pinned.changed.hash});
      setOwn(pins.tools, name, {
        hash: pinned.changed.hash,
        definition: pinned.changed.definition,
        pinnedAt: pinned.pinnedAt,
        acceptedAt: now.toISOString(),
      });
    }
    if (accepted.length > 0) {
      await options.beforeApply?.(
        accepted.map((tool) => ({...tool})),
        now.toISOString(),
      );
      await writeFileAtomic(file, `${JSON.stringify(pins, null, 2)}\n`, {mode: 0o600});
    }
    return {agentId, accepted};
  });
}

export interface PinListing {
  agentId: string;
  file: string;
  tools: Array<{
    name: string;
    hash: string;
    pinnedAt: string;
    acceptedAt?: string;
    status: 'pinned' | 'changed';
    changedHash?: string;
    changedAt?: string;
  }>;
}

/** Every agent's pins (or one agent's). */
export async function listPins(home: string, agentId?: string): Promise<PinListing[]> {
  const files: string[] = [];
  if (agentId !== undefined) files.push(pinFilePath(home, agentId));
  else {
    const entries = await readdir(pinsDirectory(home)).catch((error: unknown) => {
      if (errnoCode(error) === 'ENOENT') return [] as string[];
      throw error;
    });
    for (const entry of entries.sort()) if (entry.endsWith('.json')) files.push(join(pinsDirectory(home), entry));
  }
  const listings: PinListing[] = [];
  for (const file of files) {
    const pins = await readPins(file, agentId);
    if (pins === undefined) continue;
    listings.push({
      agentId: pins.agentId,
      file,
      tools: Object.entries(pins.tools)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, tool]) => ({
          name,
          hash: tool.hash,
          pinnedAt: tool.pinnedAt,
          ...(tool.acceptedAt === undefined ? {} : {acceptedAt: tool.acceptedAt}),
          status: tool.changed === undefined ? 'pinned' : 'changed',
          ...(tool.changed === undefined ? {} : {changedHash: tool.changed.hash, changedAt: tool.changed.seenAt}),
        })),
    });
  }
  return listings;
}

/** The pins of `file`; undefined when there is no such file. */
async function readPins(file: string, agentId: string | undefined): Promise<PinFile | undefined> {
  const read = await readStateFile<PinFile>(file, 'pins');
  if (read.state === 'missing') return undefined;
  if (read.state === 'invalid') throw damaged(file, read.message);
  const pins = read.value;
  if (agentId !== undefined && pins.agentId !== agentId)
    throw damaged(file, `${file}: it belongs to agent "${pins.agentId}", not "${agentId}"`);
  return pins;
}

function damaged(file: string, message: string): ThothError {
  // Fail closed: a pin file nobody can read must not silently re-pin whatever the server says now.
  return new ThothError('PINS_INVALID', message, {
    exitCode: ExitCode.INVALID_INPUT,
    suggestions: [`Inspect ${file}; delete it to pin the tools again from the next session (trust on first use).`],
  });
}

function setOwn<T>(record: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(record, key, {value, enumerable: true, writable: true, configurable: true});
}
