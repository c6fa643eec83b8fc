import {Flags} from '@oclif/core';

import {exportAudit, filterOf, type ExportFormat, type ExportResult} from '../../audit/api.js';
import {filterFlagValues, filterFlags, locationFlags, resolveAuditLocation, unlessTrailMissing} from '../../audit/command-flags.js';
import {BaseCommand} from '../../cli/base-command.js';
import {ThothError} from '../../core/errors.js';
import {ExitCode} from '../../core/exit-codes.js';
import {terminalSafe} from '../../util/terminal-text.js';

export type AuditExportResult = ExportResult;

export default class AuditExport extends BaseCommand<AuditExportResult> {
  static override summary = 'Export audit events for a SIEM, as JSON Lines or OCSF 1.3.0.';
  static override description =
    'Writes one JSON object per line to --output (or stdout); a trail not written yet exports nothing. `jsonl` is each event as thoth records it plus its chain position; `ocsf` maps each event to its OCSF class (API Activity, Application Lifecycle, Entity Management, Detection Finding) for Amazon Security Lake, Splunk and others. Run `thoth audit verify` first: export reads, it does not authenticate.';
  static override examples = [
    '<%= config.bin %> audit export --format ocsf --output thoth-ocsf.jsonl',
    '<%= config.bin %> audit export --format jsonl --since 24h > last-day.jsonl',
  ];
  static override flags = {
    ...locationFlags,
    ...filterFlags,
    format: Flags.string({description: 'Output format.', options: ['jsonl', 'ocsf'], default: 'jsonl'}),
    output: Flags.file({char: 'o', description: 'Write to this file (mode 0600) instead of stdout.'}),
  };

  async run(): Promise<AuditExportResult> {
    const {flags} = await this.parse(AuditExport);
    if (this.jsonEnabled() && !flags.output) {
      throw new ThothError('USAGE', 'audit export --json needs --output: stdout carries the JSON envelope', {
        exitCode: ExitCode.USAGE,
        suggestions: ['Add --output FILE, or drop --json to stream the events to stdout.'],
      });
    }
    const {location, warnings, explicitDir} = await resolveAuditLocation(flags);
    for (const warning of warnings) this.note(warning);
    const format = flags.format as ExportFormat;
    const {value: result} = await unlessTrailMissing(
      () => exportAudit(location, filterOf(filterFlagValues(flags)), format, {path: flags.output}, this.config.version),
      {format, output: flags.output ?? '-', count: 0},
      explicitDir,
    );
    if (!this.jsonEnabled() && flags.output)
      this.log(`exported ${result.count} event(s) as ${result.format} to ${terminalSafe(String(result.output))}`);
    return result;
  }
}
