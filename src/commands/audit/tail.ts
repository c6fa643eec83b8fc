import {Flags} from '@oclif/core';

import {followAudit, showAudit, filterOf} from '../../audit/api.js';
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
import {BOOKKEEPING_EVENT_TYPES, formatEventHeader, formatEventLine, formatEventTable} from '../../audit/format.js';
import type {StoredEvent} from '../../audit/reader.js';
import {BaseCommand} from '../../cli/base-command.js';
import {jsonTerminalSafe} from '../../util/terminal-text.js';

export interface AuditTailResult {
  events: AuditEvent[];
  count: number;
}

export default class AuditTail extends BaseCommand<AuditTailResult> {
  static override summary = 'Show the latest audit events; with --follow, keep printing new ones.';
  static override description =
    'The columns of `audit show`. With --follow the command runs until interrupted and picks up every session writing meanwhile (also a trail that does not exist yet); with --json it then prints one event per line (JSON Lines) instead of an envelope.';
  static override examples = [
    '<%= config.bin %> audit tail -n 20',
    '<%= config.bin %> audit tail --follow --decision block',
    '<%= config.bin %> audit tail -f --json | jq .toolName',
  ];
  static override flags = {
    ...locationFlags,
    ...filterFlags,
    ...bookkeepingFlags,
    lines: Flags.integer({char: 'n', description: 'How many of the latest events to show first.', default: 10, min: 0}),
    follow: Flags.boolean({char: 'f', description: 'Keep running and print events as they are written.'}),
    interval: Flags.integer({description: 'Polling interval in milliseconds with --follow.', default: 250, min: 10, hidden: true}),
  };

  /** With --follow the events went out one per line as they came: no envelope at the end. */
  private following = false;

  protected override logJson(json: unknown): void {
    if (!this.following) super.logJson(json);
  }

  async run(): Promise<AuditTailResult> {
    const {flags} = await this.parse(AuditTail);
    const {location, warnings, explicitDir} = await resolveAuditLocation(flags);
    for (const warning of warnings) this.note(warning);
    const filter = {...filterOf(filterFlagValues(flags)), ...(flags.pins ? {} : {excludeTypes: BOOKKEEPING_EVENT_TYPES})};
    if (!flags.follow) {
      const {value, missing} = await unlessTrailMissing(
        () => showAudit(location, filter, flags.lines),
        {events: [], total: 0},
        explicitDir,
      );
      const kept = flags.lines === 0 ? [] : value.events;
      if (!this.jsonEnabled()) {
        if (kept.length > 0) for (const line of formatEventTable(kept)) this.log(line);
        else if (missing || (!filtering(flags) && flags.lines > 0)) this.log(noEventsYet(location.dir));
      }
      return {events: kept.map((stored) => stored.event), count: kept.length};
    }
    this.following = true;
    const controller = new AbortController();
    const stop = (): void => controller.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const json = this.jsonEnabled();
    if (!json) process.stdout.write(`${formatEventHeader()}\n`);
    const print = (stored: StoredEvent): void => {
      // Straight to stdout (not this.log): both forms escape what could drive a terminal.
      process.stdout.write(`${json ? jsonTerminalSafe(JSON.stringify(stored.event)) : formatEventLine(stored)}\n`);
    };
    const count = await followAudit(location, filter, flags.lines, print, {
      intervalMs: flags.interval,
      signal: controller.signal,
      untilCreated: !explicitDir,
    });
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    return {events: [], count};
  }
}
