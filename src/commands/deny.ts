import {Args, Flags} from '@oclif/core';

import {decideApproval, type ApprovalRecord} from '../approvals/store.js';
import {BaseCommand} from '../cli/base-command.js';
import {thothHome} from '../profile/paths.js';
import {approver} from './approve.js';

export type DenyResult = ApprovalRecord;

export default class Deny extends BaseCommand<DenyResult> {
  static override summary = 'Refuse a pending tool call: retries of the identical call are blocked until it expires.';
  static override examples = ['<%= config.bin %> deny k3m9x2q7ta --note "not during the audit"'];
  static override args = {id: Args.string({description: 'the approval id', required: true})};
  static override flags = {note: Flags.string({description: 'why (shown to the client when the call is retried)'})};

  async run(): Promise<DenyResult> {
    const {args, flags} = await this.parse(Deny);
    const record = await decideApproval(flags['thoth-home'] ?? thothHome(process.env), args.id, 'denied', {by: approver(), ...(flags.note ? {note: flags.note} : {})});
    this.log(`Denied ${record.id}: ${record.agentId} → ${record.tool} is refused until ${record.expiresAt}.`);
    return record;
  }
}
