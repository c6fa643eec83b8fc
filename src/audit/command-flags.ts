import {Flags} from '@oclif/core';

import {ThothError} from '../core/errors.js';
import {resolveSettings} from '../settings/resolve.js';
import {terminalSafe} from '../util/terminal-text.js';
import type {AuditLocation, FilterFlags} from './api.js';

/**
 * The one name for the audit directory, as `thoth run --audit-dir` and `thoth approve --audit-dir`
 * spell it. `--dir`, its old name in the audit commands, still works and is not shown.
 */
export function auditDirFlag(description: string) {
  return Flags.directory({description, aliases: ['dir']});
}

/** Flags shared by the `thoth audit` commands (kept out of src/commands: oclif loads every file there). */
export const locationFlags = {
  'audit-dir': auditDirFlag(
    'Audit directory (default: THOTH_AUDIT_DIR from the environment, managed preferences or settings.json, else ~/.thoth/audit).',
  ),
};

/** `audit show` and `audit tail`: pin bookkeeping only on request. */
export const bookkeepingFlags = {
  pins: Flags.boolean({
    description:
      'Also show PIN_RECORDED events (one per tool a server lists, the first time thoth sees it); --type PIN_RECORDED shows only those.',
    helpGroup: 'FILTER',
  }),
};

export const keyFlags = {
  'key-file': Flags.file({description: 'HMAC key file (default: THOTH_AUDIT_KEY_FILE, likewise, else ~/.thoth/audit_hmac_key.json).'}),
};

export const filterFlags = {
  'agent-id': Flags.string({description: 'Only events of this agent (the --agent-id of thoth run).', helpGroup: 'FILTER'}),
  'session-id': Flags.string({description: 'Only events of this session.', helpGroup: 'FILTER'}),
  tool: Flags.string({description: 'Only events about this tool.', helpGroup: 'FILTER'}),
  decision: Flags.string({description: 'Only events with this decision.', options: ['allow', 'block', 'step_up'], helpGroup: 'FILTER'}),
  type: Flags.string({description: 'Only events of this type (TOOL_CALL_PRE, SESSION_START...).', helpGroup: 'FILTER'}),
  since: Flags.string({description: 'From this time: ISO 8601, or a duration before now (15m, 2h, 7d).', helpGroup: 'FILTER'}),
  until: Flags.string({description: 'Before this time: ISO 8601, or a duration before now.', helpGroup: 'FILTER'}),
};

export function filterFlagValues(flags: {
  'agent-id'?: string | undefined;
  'session-id'?: string | undefined;
  tool?: string | undefined;
  decision?: string | undefined;
  type?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
}): FilterFlags {
  return {
    agentId: flags['agent-id'],
    sessionId: flags['session-id'],
    tool: flags.tool,
    decision: flags.decision,
    type: flags.type,
    since: flags.since,
    until: flags.until,
  };
}

/**
 * Where the audit commands look, from the one settings resolver: --audit-dir / --key-file, then
 * THOTH_AUDIT_DIR / THOTH_AUDIT_KEY_FILE from the environment, managed preferences or
 * settings.json, then the profile (`--thoth-home`). An invalid value is a warning and the next
 * layer is used, as `thoth health` does.
 */
export async function resolveAuditLocation(flags: {
  'audit-dir'?: string | undefined;
  'key-file'?: string | undefined;
  'thoth-home'?: string | undefined;
}): Promise<{location: AuditLocation; warnings: string[]; explicitDir: boolean}> {
  const settings = await resolveSettings(flags['thoth-home'] ? {profileDir: flags['thoth-home']} : {});
  const dir = flags['audit-dir'];
  const location: AuditLocation = {dir: dir ?? settings.values.auditDir, keyFile: flags['key-file'] ?? settings.values.auditKeyFile};
  const warnings = settings.problems
    .filter((problem) => /^THOTH_AUDIT_(DIR|KEY_FILE) from /.test(problem))
    .map((problem) => `invalid setting ignored: ${problem}`);
  return {location, warnings, explicitDir: dir !== undefined};
}

/**
 * The audit directory does not exist yet: `thoth run` creates it with the first session, so a
 * trail that was never written has no events (not an error). A directory named with --audit-dir
 * that does not exist is still one: a typo must not read as "nothing happened".
 */
export async function unlessTrailMissing<T>(read: () => Promise<T>, empty: T, explicitDir: boolean): Promise<{value: T; missing: boolean}> {
  try {
    return {value: await read(), missing: false};
  } catch (error) {
    if (!explicitDir && error instanceof ThothError && error.code === 'AUDIT_DIR_NOT_FOUND') return {value: empty, missing: true};
    throw error;
  }
}

/** Whether any filter flag narrows the events (then "nothing matches" is not "nothing yet"). */
export function filtering(flags: Parameters<typeof filterFlagValues>[0]): boolean {
  return Object.values(filterFlagValues(flags)).some((value) => value !== undefined);
}

/** What `audit show` and `audit tail` print for a trail without events: a fact, not an error (exit 0). */
export function noEventsYet(dir: string): string {
  return `no events yet in the audit trail (${terminalSafe(dir)}): thoth run records every tool call, from the first session on`;
}
