import {Flags} from '@oclif/core';

import {approvalCommandFor} from '../../approvals/step-up.js';
import {listApprovals, type ApprovalView} from '../../approvals/store.js';
import {BaseCommand} from '../../cli/base-command.js';
import {thothHome} from '../../profile/paths.js';

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
      approval.state === 'pending' ? {...approval, approveCommand: approvalCommandFor('approve', approval.id, {home, auditDir: approval.auditDir})} : approval,
    );
    if (approvals.length === 0) this.log(flags.all ? 'No approvals.' : 'No pending approvals.');
    for (const approval of approvals) {
      this.log(`${approval.id}  ${approval.state.padEnd(8)}  ${approval.agentId} → ${approval.tool}  until ${approval.expiresAt}`);
      this.log(`    why:  ${approval.reason}`);
      this.log(`    args: ${approval.argumentsPreview}`);
      if (approval.approveCommand !== undefined) this.log(`    approve: ${approval.approveCommand}`);
    }
    return {approvals};
  }
}
