import {Args, Flags} from '@oclif/core';

import {BaseCommand} from '../cli/base-command.js';
import {ExitCode} from '../core/exit-codes.js';
import {ENFORCEMENT_MODES} from '../core/decision.js';
import {CLIENT_IDS, type ClientId} from '../client-config/clients/index.js';
import {formatStatus} from '../client-config/format.js';
import {statusWithSettings, type StatusReport} from '../client-config/status.js';

export type StatusResult = StatusReport;

export default class Status extends BaseCommand<StatusResult> {
  static override summary = 'Show, for every MCP client and server on this machine, whether thoth governs it.';
  static override description = [
    'One line per server: ✓ governed (with mode and intent), ✗ not governed, ! drift (wrapped with other settings than expected, thoth missing at the written path, a launcher that is not this installation of thoth, THOTH_* variables or thoth flags wrap-config did not write) or not governable (remote), - disabled in the client.',
    'Exit codes: 0 when every enabled server is governed, 11 otherwise.',
  ].join('\n');

  static override examples = [
    '<%= config.bin %> status',
    '<%= config.bin %> status --json',
    '<%= config.bin %> status --tenant-id acme --enforcement-mode block',
  ];

  static override args = {
    file: Args.string({description: 'Only this config file (client inferred unless --client).', required: false}),
  };

  static override flags = {
    client: Flags.string({options: [...CLIENT_IDS], description: 'Only this client.'}),
    'tenant-id': Flags.string({
      description:
        'Expected tenant (default: THOTH_TENANT_ID from the environment, managed preferences or settings.json): a wrapped entry with another tenant is drift.',
    }),
    'enforcement-mode': Flags.string({
      options: [...ENFORCEMENT_MODES],
      description:
        'Expected mode (default: THOTH_ENFORCEMENT_MODE, likewise; a managed mode wins): a wrapped entry with another mode is drift.',
    }),
    'thoth-bin': Flags.string({
      multiple: true,
      description: 'A thoth executable given to `wrap-config --thoth-bin`: entries that run it count as this installation (repeatable).',
    }),
  };

  async run(): Promise<StatusResult> {
    const {args, flags} = await this.parse(Status);
    const {report, warnings} = await statusWithSettings({
      flags: {
        tenantId: flags['tenant-id'],
        enforcementMode: flags['enforcement-mode'],
        profileDir: flags['thoth-home'],
        thothBin: flags['thoth-bin'],
      },
      ...(args.file === undefined ? {} : {files: [args.file]}),
      ...(flags.client === undefined ? {} : {client: flags.client as ClientId}),
    });
    for (const warning of warnings) this.note(warning);
    this.setExitCode(report.allGoverned ? ExitCode.OK : ExitCode.NOT_GOVERNED);
    for (const line of formatStatus(report)) this.log(line);
    return report;
  }
}
