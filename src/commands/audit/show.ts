import {Flags} from '@oclif/core';

import {filterOf, showAudit} from '../../audit/api.js';
import {
  bookkeepingFlags,
  filterFlagValues,
  filterFlags,
  locationFlags,
  filtering,
  noEventsYet,
  resolveAuditLocation,
  unlessTrailMissing,
} from '../../audit/command-flags.js';
import type {AuditEvent} from '../../audit/events.js';
import {BOOKKEEPING_EVENT_TYPES, formatEventTable} from '../../audit/format.js';
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
  static override description = [
    'One row per event: time, event, agent, tool, decision (→ outcome), rule, the first 8 characters of the session id (--session-id takes them), and the detail: why, who approved, how long.',
    'Pin bookkeeping (PIN_RECORDED, one per tool a server lists) is left out unless --pins or --type asks for it. A trail not written yet shows "no events yet" and exits 0.',
  ].join('\n');
  static override examples = [
    '<%= config.bin %> audit show --agent-id filesystem --since 2h',
    '<%= config.bin %> audit show --decision block --json',
    '<%= config.bin %> audit show --session-id 3150ee7f --type TOOL_CALL_POST',
  ];
  static override flags = {
    ...locationFlags,
    ...filterFlags,
    ...bookkeepingFlags,
    limit: Flags.integer({description: 'Show at most this many (the newest).', min: 1}),
  };

  async run(): Promise<AuditShowResult> {
    const {flags} = await this.parse(AuditShow);
    const {location, warnings, explicitDir} = await resolveAuditLocation(flags);
    for (const warning of warnings) this.note(warning);
    const filter = {...filterOf(filterFlagValues(flags)), ...(flags.pins ? {} : {excludeTypes: BOOKKEEPING_EVENT_TYPES})};
    const {value, missing} = await unlessTrailMissing(() => showAudit(location, filter, flags.limit), {events: [], total: 0}, explicitDir);
    const {events, total} = value;
    if (!this.jsonEnabled()) {
      if (events.length > 0) for (const line of formatEventTable(events)) this.log(line);
      else if (missing || !filtering(flags)) this.log(noEventsYet(location.dir));
      else this.note('no audit event matches');
    }
    return {events: events.map((stored) => stored.event), count: events.length, total};
  }
}
