import {Args, Flags} from '@oclif/core';

import {decideAndRecord, type DecisionResult} from '../approvals/decide.js';
import {BaseCommand} from '../cli/base-command.js';
import {thothHome} from '../profile/paths.js';
import {terminalSafe} from '../util/terminal-text.js';
import {approver, decisionAuditDirFlag} from './approve.js';

export type DenyResult = DecisionResult;

export default class Deny extends BaseCommand<DenyResult> {
  static override summary = 'Refuse a pending tool call: retries of the identical call are blocked until it expires.';
  static override description = 'Run it in your own terminal: it refuses to run inside a session that thoth governs.';
  static override examples = ['<%= config.bin %> deny k3m9x2q7ta --note "not during the audit"'];
  static override args = {id: Args.string({description: 'the approval id', required: true})};
  static override flags = {
    note: Flags.string({description: 'why (shown to the client when the call is retried)'}),
    'audit-dir': decisionAuditDirFlag,
  };

  async run(): Promise<DenyResult> {
    const {args, flags} = await this.parse(Deny);
    const record = await decideAndRecord(
      flags['thoth-home'] ?? thothHome(process.env),
      args.id,
      'denied',
      {by: approver(), note: flags.note, auditDir: flags['audit-dir']},
      {warn: (message) => this.note(message)},
    );
    this.log(
      `Denied ${terminalSafe(record.id)}: ${terminalSafe(record.agentId)} → ${terminalSafe(record.tool)} is refused until ${terminalSafe(record.expiresAt)}.`,
    );
    return record;
  }
}
