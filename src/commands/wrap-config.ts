import {Args, Flags} from '@oclif/core';

import {BaseCommand} from '../cli/base-command.js';
import {ENFORCEMENT_MODES} from '../core/decision.js';
import {CLIENT_IDS, type ClientId} from '../client-config/clients/index.js';
import {changeConfigs, type ChangeResult} from '../client-config/engine.js';
import {createConfigHost} from '../client-config/host.js';
import {reportChange} from '../client-config/report.js';
import {resolveWrapSettings} from '../client-config/settings.js';

export type WrapConfigResult = ChangeResult;

export default class WrapConfig extends BaseCommand<WrapConfigResult> {
  static override summary = 'Put every stdio MCP server of a client config behind `thoth run` (idempotent).';
  static override description = [
    'Each server entry becomes `command: <node>`, `args: [<thoth bin/run.js>, "run", "--agent-id", <name>, ...flags, "--", <original command>, ...<original args>]`, keeping its env and every other key; the file keeps its formatting, key order and comments.',
    'Running it again changes nothing; an already-wrapped entry is rewritten only when a selected value changes. Remote (url) and disabled entries are left as they are.',
    "Without FILE: Claude Desktop's config (--client for another client, --all for every client found). Writes atomically, keeps the file's mode and owner and a timestamped backup beside it, and refuses when the file changed meanwhile.",
    'Exit codes: 0 done (or nothing to do), 10 with --dry-run when something would change, 3 invalid config, 4 no config found, 5 the file changed while editing or is locked.',
  ].join('\n');

  static override examples = [
    '<%= config.bin %> wrap-config --tenant-id acme --enforcement-mode progressive',
    '<%= config.bin %> wrap-config --dry-run --json',
    '<%= config.bin %> wrap-config --all --env THOTH_USER_ID=jane@acme.com',
    '<%= config.bin %> wrap-config ~/Library/Application\\ Support/Claude/claude_desktop_config.json --output /tmp/wrapped.json',
  ];

  static override args = {
    file: Args.string({description: "Config file to wrap (default: the client's standard location).", required: false}),
  };

  static override flags = {
    client: Flags.string({
      options: [...CLIENT_IDS],
      description: 'Client whose config to wrap (default claude-desktop; inferred from FILE when given).',
    }),
    all: Flags.boolean({description: 'Wrap the configs of every client found.', exclusive: ['client']}),
    'tenant-id': Flags.string({
      description:
        'Tenant written as --tenant-id into each entry (default: THOTH_TENANT_ID from the environment, managed preferences or settings.json).',
    }),
    'enforcement-mode': Flags.string({
      options: [...ENFORCEMENT_MODES],
      description: 'Enforcement mode written into each entry (default: THOTH_ENFORCEMENT_MODE, likewise).',
    }),
    env: Flags.string({
      multiple: true,
      description: "KEY=VALUE set in each entry's env (repeatable); unwrap-config restores the previous env.",
    }),
    intent: Flags.string({description: 'Session intent for every server (default: per server from intent_map.json).'}),
    output: Flags.string({description: 'Write the result here instead of changing the input file.'}),
    'dry-run': Flags.boolean({
      description: 'Show what would change, per file and server (with --json, the RFC 6902 JSON Patch), and write nothing.',
    }),
    'embed-api-key': Flags.boolean({
      description: 'Break-glass: write the API key into each entry (readable in the config and the process list).',
    }),
    'thoth-bin': Flags.string({
      description: "Absolute path of a thoth executable to write as the command (default: this node and this thoth's bin/run.js).",
    }),
  };

  async run(): Promise<WrapConfigResult> {
    const {args, flags} = await this.parse(WrapConfig);
    const host = createConfigHost();
    const {settings, apiKeySource, warnings} = await resolveWrapSettings(
      {
        ...(flags['tenant-id'] === undefined ? {} : {tenantId: flags['tenant-id']}),
        ...(flags['enforcement-mode'] === undefined ? {} : {enforcementMode: flags['enforcement-mode']}),
        ...(flags.intent === undefined ? {} : {intent: flags.intent}),
        ...(flags['thoth-bin'] === undefined ? {} : {thothBin: flags['thoth-bin']}),
        ...(flags['thoth-home'] === undefined ? {} : {profileDir: flags['thoth-home']}),
        env: flags.env ?? [],
        embedApiKey: flags['embed-api-key'],
      },
      host,
    );
    for (const warning of warnings) this.note(warning);
    if (apiKeySource !== undefined) {
      this.note(
        `--embed-api-key: the API key from ${apiKeySource} is written in clear text into the config and onto every governed server's command line, where any local user can read it in the process list. Use THOTH_API_KEY_FILE instead unless this is a break-glass setup.`,
      );
    }
    if (flags['thoth-bin'] !== undefined && /[/\\]/.test(flags['thoth-bin']) && !(await host.fs.stat(settings.launcher.command))?.isFile) {
      this.note(`--thoth-bin ${settings.launcher.command} does not exist (yet); the client will fail to start the servers until it does`);
    } else if (flags['thoth-bin'] !== undefined && !/[/\\]/.test(flags['thoth-bin'])) {
      this.note(`--thoth-bin ${flags['thoth-bin']} is not an absolute path: clients start servers with a minimal PATH and may not find it`);
    }
    const result = await changeConfigs({
      action: 'wrap',
      host,
      settings,
      ...(args.file === undefined ? {} : {file: args.file}),
      ...(flags.client === undefined ? {} : {client: flags.client as ClientId}),
      all: flags.all,
      ...(flags.output === undefined ? {} : {output: flags.output}),
      dryRun: flags['dry-run'],
    });
    reportChange(this.reporter(), result);
    return result;
  }

  private reporter() {
    return {
      log: (line: string) => this.log(line),
      note: (message: string) => this.note(message),
      setExitCode: (code: number) => this.setExitCode(code),
      json: this.jsonEnabled(),
    };
  }
}
