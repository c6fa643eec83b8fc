import {Flags} from '@oclif/core';

import {resolveSettings} from '../settings/resolve.js';
import type {AuditLocation, FilterFlags} from './api.js';

/** Flags shared by the `thoth audit` commands (kept out of src/commands: oclif loads every file there). */
export const locationFlags = {
  dir: Flags.directory({
    description:
      'Audit directory (default: THOTH_AUDIT_DIR from the environment, managed preferences or settings.json, else ~/.thoth/audit).',
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
 * Where the audit commands look, from the one settings resolver: --dir / --key-file, then
 * THOTH_AUDIT_DIR / THOTH_AUDIT_KEY_FILE from the environment, managed preferences or
 * settings.json, then the profile (`--thoth-home`). An invalid value is a warning and the next
 * layer is used, as `thoth health` does.
 */
export async function resolveAuditLocation(flags: {
  dir?: string | undefined;
  'key-file'?: string | undefined;
  'thoth-home'?: string | undefined;
}): Promise<{location: AuditLocation; warnings: string[]}> {
  const settings = await resolveSettings(flags['thoth-home'] ? {profileDir: flags['thoth-home']} : {});
  const location: AuditLocation = {dir: flags.dir ?? settings.values.auditDir, keyFile: flags['key-file'] ?? settings.values.auditKeyFile};
  const warnings = settings.problems
    .filter((problem) => /^THOTH_AUDIT_(DIR|KEY_FILE) from /.test(problem))
    .map((problem) => `invalid setting ignored: ${problem}`);
  return {location, warnings};
}
