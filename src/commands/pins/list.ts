import {Flags} from '@oclif/core';

import {BaseCommand} from '../../cli/base-command.js';
import {listPins, type PinListing} from '../../pins/store.js';
import {thothHome} from '../../profile/paths.js';
import {terminalSafe} from '../../util/terminal-text.js';

export interface PinsListResult {
  agents: PinListing[];
}

export default class PinsList extends BaseCommand<PinsListResult> {
  static override summary = 'Show the pinned tool definitions, and which ones changed since.';
  static override description = 'A tool marked `changed` is refused until its new definition is accepted with `thoth pins accept`.';
  static override examples = ['<%= config.bin %> pins list', '<%= config.bin %> pins list --agent-id filesystem --json'];
  static override flags = {'agent-id': Flags.string({description: 'only this agent (server name)'})};

  async run(): Promise<PinsListResult> {
    const {flags} = await this.parse(PinsList);
    const agents = await listPins(flags['thoth-home'] ?? thothHome(process.env), flags['agent-id']);
    if (agents.length === 0) this.log('No tools pinned yet (pins are recorded the first time a session lists its tools).');
    // Tool names are whatever the servers announced: escaped (src/util/terminal-text.ts).
    for (const agent of agents) {
      const changed = agent.tools.filter((tool) => tool.status === 'changed').length;
      this.log(`${terminalSafe(agent.agentId)}: ${agent.tools.length} tools${changed > 0 ? `, ${changed} CHANGED` : ''}`);
      for (const tool of agent.tools) {
        const seen = tool.changedAt ? ` (new definition seen ${terminalSafe(String(tool.changedAt))})` : '';
        this.log(`  ${tool.status === 'changed' ? '!' : ' '} ${terminalSafe(tool.name)}  ${terminalSafe(tool.status)}${seen}`);
      }
    }
    return {agents};
  }
}
