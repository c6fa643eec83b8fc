import {Flags} from '@oclif/core';

import {listApprovals, type ApprovalView} from '../../approvals/store.js';
import {BaseCommand} from '../../cli/base-command.js';
import {thothHome} from '../../profile/paths.js';

export interface ApprovalsListResult {
  approvals: ApprovalView[];
}

export default class ApprovalsList extends BaseCommand<ApprovalsListResult> {
  static override summary = 'List tool calls waiting for approval (step-up).';
  static override description =
    'Approve one with `thoth approve ID` (the identical call may then run once within the time limit) or refuse it with `thoth deny ID`.';
  static override examples = ['<%= config.bin %> approvals list', '<%= config.bin %> approvals list --all --json'];
  static override flags = {
    all: Flags.boolean({description: 'also show approved, denied, used and expired approvals of the last day'}),
  };

  async run(): Promise<ApprovalsListResult> {
    const {flags} = await this.parse(ApprovalsList);
    const approvals = await listApprovals(flags['thoth-home'] ?? thothHome(process.env), {all: flags.all});
    if (approvals.length === 0) this.log(flags.all ? 'No approvals.' : 'No pending approvals.');
    for (const approval of approvals) {
      this.log(`${approval.id}  ${approval.state.padEnd(8)}  ${approval.agentId} → ${approval.tool}  until ${approval.expiresAt}`);
      this.log(`    why:  ${approval.reason}`);
      this.log(`    args: ${approval.argumentsPreview}`);
    }
    return {approvals};
  }
}
