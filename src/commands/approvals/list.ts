import {Flags} from '@oclif/core';

import {approvalCommandFor} from '../../approvals/step-up.js';
import {listApprovals, type ApprovalView} from '../../approvals/store.js';
import {BaseCommand} from '../../cli/base-command.js';
import {thothHome} from '../../profile/paths.js';
import {terminalSafe} from '../../util/terminal-text.js';

export interface ListedApproval extends ApprovalView {
  /** Pending requests: the exact command that approves it (run it in your own terminal, not in an agent's session). */
  approveCommand?: string;
}

export interface ApprovalsListResult {
  approvals: ListedApproval[];
}

export default class ApprovalsList extends BaseCommand<ApprovalsListResult> {
  static override summary = 'List tool calls waiting for approval (step-up).';
  static override description =
    'Approve one with `thoth approve ID` (the identical call may then run once within the time limit) or refuse it with `thoth deny ID`, in your own terminal: ' +
    'both refuse to run inside a session that thoth governs.';
  static override examples = ['<%= config.bin %> approvals list', '<%= config.bin %> approvals list --all --json'];
  static override flags = {
    all: Flags.boolean({description: 'also show approved, denied, used and expired approvals of the last day'}),
  };

  async run(): Promise<ApprovalsListResult> {
    const {flags} = await this.parse(ApprovalsList);
    const home = flags['thoth-home'] ?? thothHome(process.env);
    const approvals: ListedApproval[] = (await listApprovals(home, {all: flags.all})).map((approval) =>
      approval.state === 'pending'
        ? {...approval, approveCommand: approvalCommandFor('approve', approval.id, {home, auditDir: approval.auditDir})}
        : approval,
    );
    if (approvals.length === 0) this.log(flags.all ? 'No approvals.' : 'No pending approvals.');
    // The tool name is the server's, the arguments the agent's, and approvals.json is a user file:
    // each value is escaped, so none can rewrite what the approver reads (src/util/terminal-text.ts).
    for (const approval of approvals) {
      const safe = (value: unknown) => terminalSafe(String(value));
      this.log(
        `${safe(approval.id)}  ${safe(approval.state).padEnd(8)}  ${safe(approval.agentId)} → ${safe(approval.tool)}  until ${safe(approval.expiresAt)}`,
      );
      this.log(`    why:  ${safe(approval.reason)}`);
      this.log(`    args: ${safe(approval.argumentsPreview)}`);
      if (approval.approveCommand !== undefined) this.log(`    approve: ${safe(approval.approveCommand)}`);
    }
    return {approvals};
  }
}
