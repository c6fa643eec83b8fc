import {Flags} from '@oclif/core';

import {followAudit, showAudit, filterOf} from '../../audit/api.js';
import {filterFlagValues, filterFlags, locationFlags, resolveAuditLocation} from '../../audit/command-flags.js';
import type {AuditEvent} from '../../audit/events.js';
import {formatEventLine} from '../../audit/format.js';
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
    'With --follow the command runs until interrupted and picks up every session writing meanwhile; with --json it then prints one event per line (JSON Lines) instead of an envelope.';
  static override examples = [
    '<%= config.bin %> audit tail -n 20',
    '<%= config.bin %> audit tail --follow --decision block',
    '<%= config.bin %> audit tail -f --json | jq .toolName',
  ];
  static override flags = {
    ...locationFlags,
    ...filterFlags,
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
    const {location, warnings} = await resolveAuditLocation(flags);
    for (const warning of warnings) this.note(warning);
    const filter = filterOf(filterFlagValues(flags));
    if (!flags.follow) {
      const {events} = await showAudit(location, filter, flags.lines);
      const kept = flags.lines === 0 ? [] : events;
      if (!this.jsonEnabled()) for (const stored of kept) this.log(formatEventLine(stored));
      return {events: kept.map((stored) => stored.event), count: kept.length};
    }
    this.following = true;
    const controller = new AbortController();
    const stop = (): void => controller.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const json = this.jsonEnabled();
    const print = (stored: StoredEvent): void => {
      // Straight to stdout (not this.log): both forms escape what could drive a terminal.
      process.stdout.write(`${json ? jsonTerminalSafe(JSON.stringify(stored.event)) : formatEventLine(stored)}\n`);
    };
    const count = await followAudit(location, filter, flags.lines, print, {intervalMs: flags.interval, signal: controller.signal});
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    return {events: [], count};
  }
}
