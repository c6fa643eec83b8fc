import {Args, Flags} from '@oclif/core';

import {BaseCommand} from '../cli/base-command.js';
import {ExitCode} from '../core/exit-codes.js';
import {ENFORCEMENT_MODES} from '../core/decision.js';
import {ADAPTERS, CLIENT_IDS, type ClientId} from '../client-config/clients/index.js';
import {notFound} from '../client-config/targets.js';
import {ThothError} from '../core/errors.js';
import {formatStatus} from '../client-config/format.js';
import {statusWithSettings, type StatusReport} from '../client-config/status.js';

export type StatusResult = StatusReport;

export default class Status extends BaseCommand<StatusResult> {
  static override summary = 'Show, for every MCP client and server on this machine, whether thoth governs it.';
  static override description = [
    'One line per server: ✓ governed (with the mode thoth run resolves for it and where from, the tenant, the intent), ✗ not governed, ! drift (wrapped with other settings than expected, thoth missing at the written path, a launcher that is not this installation of thoth, THOTH_* variables or thoth flags wrap-config did not write) or remote (a url server thoth cannot sit in front of), - disabled in the client or an allowed remote server.',
    'Remote servers are counted apart and count against "all governed" unless --allow-remote-servers or THOTH_ALLOW_REMOTE_SERVERS=true (managed preferences, for a fleet) accepts them.',
    'Exit codes: 0 when every enabled server is governed, 11 otherwise, 4 when the config FILE (or the --client config) does not exist.',
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
    'allow-remote-servers': Flags.boolean({
      allowNo: true,
      description:
        'Remote (url) servers do not count against "all governed" (default: THOTH_ALLOW_REMOTE_SERVERS from the environment, managed preferences or settings.json, else they count).',
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
        allowRemoteServers: flags['allow-remote-servers'],
      },
      ...(args.file === undefined ? {} : {files: [args.file]}),
      ...(flags.client === undefined ? {} : {client: flags.client as ClientId}),
    });
    for (const warning of warnings) this.note(warning);
    assertConfigsFound(report, args.file !== undefined || flags.client !== undefined);
    this.setExitCode(report.allGoverned ? ExitCode.OK : ExitCode.NOT_GOVERNED);
    for (const line of formatStatus(report)) this.log(line);
    return report;
  }
}

/**
 * A config that was asked for (FILE, or --client) and does not exist is an error (exit 4), as for
 * wrap-config: never "exit 0, all governed" about a file that is not there. Without either, a
 * machine with no MCP client has nothing to govern.
 */
function assertConfigsFound(report: StatusReport, named: boolean): void {
  if (!named || report.clients.some((client) => client.found || client.error !== undefined)) return;
  const [first] = report.clients;
  if (first !== undefined && first.scope === 'file') throw notFound(first.file);
  const labels = [...new Set(report.clients.map((client) => ADAPTERS[client.client].label))].join(', ');
  throw new ThothError(
    'CONFIG_NOT_FOUND',
    `no ${labels} config found (looked in ${report.clients.map((client) => client.file).join(', ')})`,
    {
      exitCode: ExitCode.NOT_FOUND,
      suggestions: ['Pass the config file, or run `thoth status` without --client to look at every client.'],
    },
  );
}
