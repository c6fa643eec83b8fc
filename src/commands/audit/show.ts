import {Flags} from '@oclif/core';

import {filterOf, showAudit} from '../../audit/api.js';
import {filterFlagValues, filterFlags, locationFlags, resolveAuditLocation} from '../../audit/command-flags.js';
import type {AuditEvent} from '../../audit/events.js';
import {formatEventLine} from '../../audit/format.js';
import {BaseCommand} from '../../cli/base-command.js';

export interface AuditShowResult {
  /** The matching events, oldest first (the newest `limit` when there are more). */
  events: AuditEvent[];
  count: number;
  /** How many events matched before --limit. */
  total: number;
}

export default class AuditShow extends BaseCommand<AuditShowResult> {
  static override summary = 'Show audit events, filtered by agent, session, tool, decision and time.';
  static override examples = [
    '<%= config.bin %> audit show --agent-id filesystem --since 2h',
    '<%= config.bin %> audit show --decision block --json',
    '<%= config.bin %> audit show --session-id 0192… --type TOOL_CALL_POST',
  ];
  static override flags = {
    ...locationFlags,
    ...filterFlags,
    limit: Flags.integer({description: 'Show at most this many (the newest).', min: 1}),
  };

  async run(): Promise<AuditShowResult> {
    const {flags} = await this.parse(AuditShow);
    const {location, warnings} = await resolveAuditLocation(flags);
    for (const warning of warnings) this.note(warning);
    const {events, total} = await showAudit(location, filterOf(filterFlagValues(flags)), flags.limit);
    if (!this.jsonEnabled()) {
      for (const stored of events) this.log(formatEventLine(stored));
      if (events.length === 0) this.note('no audit event matches');
    }
    return {events: events.map((stored) => stored.event), count: events.length, total};
  }
}
