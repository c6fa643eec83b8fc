import {userInfo} from 'node:os';

import {Args, Flags} from '@oclif/core';

import {decideAndRecord, type DecisionResult} from '../approvals/decide.js';
import {auditDirFlag} from '../audit/command-flags.js';
import {BaseCommand} from '../cli/base-command.js';
import {thothHome} from '../profile/paths.js';
import {terminalSafe} from '../util/terminal-text.js';

export type ApproveResult = DecisionResult;

/** --audit-dir of approve / deny: where the session that asked keeps its trail (the command printed for the operator names it). */
export const decisionAuditDirFlag = auditDirFlag(
  'Audit directory of the session that asked, when it is not the default one (the approve command it printed names it).',
);

export default class Approve extends BaseCommand<ApproveResult> {
  static override summary = 'Approve a pending tool call: the identical call may then run once.';
  static override description =
    'The grant is bound to the agent, the tool, the exact arguments and the policy version; it is used by the first identical retry and expires ' +
    '(10 minutes by default, approvals.ttl_seconds in the policy). It is sealed in the audit trail first (APPROVAL_GRANTED), and a session honours it only ' +
    'with that record. Run it in your own terminal: it refuses to run inside a session that thoth governs.';
  static override examples = ['<%= config.bin %> approve k3m9x2q7ta'];
  static override args = {
    id: Args.string({description: "the approval id from `thoth approvals list` or the session's log", required: true}),
  };
  static override flags = {note: Flags.string({description: 'why (kept with the approval)'}), 'audit-dir': decisionAuditDirFlag};

  async run(): Promise<ApproveResult> {
    const {args, flags} = await this.parse(Approve);
    const record = await decideAndRecord(
      flags['thoth-home'] ?? thothHome(process.env),
      args.id,
      'approved',
      {by: approver(), note: flags.note, auditDir: flags['audit-dir']},
      {warn: (message) => this.note(message)},
    );
    this.log(
      `Approved ${terminalSafe(record.id)}: ${terminalSafe(record.agentId)} may call ${terminalSafe(record.tool)} with these arguments once, until ${terminalSafe(record.expiresAt)}. Retry the call now.`,
    );
    return record;
  }
}

export function approver(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown user';
  }
}
