import {Args, Command, Flags} from '@oclif/core';

import {RUN_FLAGS} from '../core/run-flags.js';

type FlagSpec = {type: 'string' | 'boolean'; description: string};

/**
 * Only renders `thoth run --help`: bin/run.js sends real `thoth run` invocations straight to
 * src/proxy/main.ts without loading oclif, for start-up time.
 */
export default class Run extends Command {
  static override summary = 'Run an MCP server behind thoth: relay stdio and govern every tools/call.';
  static override description =
    'MCP clients start `thoth run` instead of the server. Everything after `--` is the server command, passed unchanged. ' +
    'stdout carries the MCP protocol only; thoth writes its diagnostics to stderr.';
  static override examples = [
    '<%= config.bin %> run --agent-id filesystem --enforcement-mode block -- npx -y @modelcontextprotocol/server-filesystem /Users/me',
    '<%= config.bin %> run --agent-id phi --session-intent phi_eligibility_check -- /usr/local/bin/phi-server',
  ];
  static override strict = false;
  static override args = {command: Args.string({description: 'the server command and its arguments, after --'})};
  static override flags = Object.fromEntries(
    Object.entries(RUN_FLAGS as Record<string, FlagSpec>).map(([name, spec]) => [
      name,
      spec.type === 'boolean' ? Flags.boolean({description: spec.description}) : Flags.string({description: spec.description}),
    ]),
  );

  async run(): Promise<void> {
    const {runMain} = await import('../run/main.js');
    await runMain(this.argv);
  }
}
