import {Args, Flags} from '@oclif/core';

import {BaseCommand} from '../cli/base-command.js';
import {CLIENT_IDS, type ClientId} from '../client-config/clients/index.js';
import {changeConfigs, type ChangeResult} from '../client-config/engine.js';
import {createConfigHost} from '../client-config/host.js';
import {reportChange} from '../client-config/report.js';

export type UnwrapConfigResult = ChangeResult;

export default class UnwrapConfig extends BaseCommand<UnwrapConfigResult> {
  static override summary = 'Restore every wrapped MCP server entry to its original command, args and env.';
  static override description = [
    'The inverse of wrap-config: unwrapping a file that was wrapped and not changed since gives back its original bytes. Entries wrapped more than once are fully unwrapped.',
    'Exit codes: 0 done (or nothing to do), 10 with --dry-run when something would change, 3 invalid config, 4 no config found, 5 the file changed while editing or is locked.',
  ].join('\n');

  static override examples = ['<%= config.bin %> unwrap-config', '<%= config.bin %> unwrap-config --all --dry-run --json'];

  static override args = {
    file: Args.string({description: "Config file to unwrap (default: the client's standard location).", required: false}),
  };

  static override flags = {
    client: Flags.string({
      options: [...CLIENT_IDS],
      description: 'Client whose config to unwrap (default claude-desktop; inferred from FILE when given).',
    }),
    all: Flags.boolean({description: 'Unwrap the configs of every client found.', exclusive: ['client']}),
    output: Flags.string({description: 'Write the result here instead of changing the input file.'}),
    'dry-run': Flags.boolean({
      description: 'Show what would change, per file and server (with --json, the RFC 6902 JSON Patch), and write nothing.',
    }),
  };

  async run(): Promise<UnwrapConfigResult> {
    const {args, flags} = await this.parse(UnwrapConfig);
    const result = await changeConfigs({
      action: 'unwrap',
      host: createConfigHost(),
      ...(args.file === undefined ? {} : {file: args.file}),
      ...(flags.client === undefined ? {} : {client: flags.client as ClientId}),
      all: flags.all,
      ...(flags.output === undefined ? {} : {output: flags.output}),
      dryRun: flags['dry-run'],
    });
    reportChange(
      {
        log: (line) => this.log(line),
        note: (message) => this.note(message),
        setExitCode: (code) => this.setExitCode(code),
        json: this.jsonEnabled(),
      },
      result,
    );
    return result;
  }
}
