import {Flags} from '@oclif/core';

import {BaseCommand} from '../../cli/base-command.js';
import {ThothError} from '../../core/errors.js';
import {ExitCode} from '../../core/exit-codes.js';
import {acceptAndRecord, type RecordedAcceptResult} from '../../pins/accept.js';
import {thothHome} from '../../profile/paths.js';
import {approver} from '../approve.js';
import {terminalSafe} from '../../util/terminal-text.js';

export type PinsAcceptResult = RecordedAcceptResult;

export default class PinsAccept extends BaseCommand<PinsAcceptResult> {
  static override summary = 'Accept the changed definition of a pinned tool, so calls to it are allowed again.';
  static override description =
    'Review the new definition first (it is in the pin file shown by `thoth pins list --json`). Running sessions pick the change up on the next call. ' +
    'The acceptance is recorded in the audit trail (PIN_ACCEPTED, via cli) before the pin file changes; if it cannot be recorded, nothing is accepted.';
  static override examples = [
    '<%= config.bin %> pins accept --agent-id filesystem --tool read_file',
    '<%= config.bin %> pins accept --agent-id filesystem --all',
  ];
  static override flags = {
    'agent-id': Flags.string({description: 'the agent (server name)', required: true}),
    tool: Flags.string({description: 'the tool to accept (repeatable)', multiple: true}),
    all: Flags.boolean({description: 'accept every changed tool of the agent'}),
  };

  async run(): Promise<PinsAcceptResult> {
    const {flags} = await this.parse(PinsAccept);
    if ((flags.tool === undefined || flags.tool.length === 0) === !flags.all) {
      throw new ThothError('USAGE', 'pins accept needs either --tool NAME (repeatable) or --all', {
        exitCode: ExitCode.USAGE,
        suggestions: ['See the changed tools with: thoth pins list'],
      });
    }
    const result = await acceptAndRecord(
      flags['thoth-home'] ?? thothHome(process.env),
      flags['agent-id'],
      flags.all ? undefined : flags.tool,
      {by: approver()},
      {
        warn: (message) => this.note(message),
      },
    );
    if (result.accepted.length === 0) this.log(`Agent "${terminalSafe(result.agentId)}" has no changed tools.`);
    for (const tool of result.accepted)
      this.log(`Accepted the new definition of ${terminalSafe(tool.name)} (${terminalSafe(tool.to.slice(0, 19))}…).`);
    return result;
  }
}
