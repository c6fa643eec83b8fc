import {Args, Flags} from '@oclif/core';

import {BaseCommand} from '../../../cli/base-command.js';
import {readSecret} from '../../../profile/secret-input.js';
import {adminFlags, adminTargetOptions} from '../../../server/command-flags.js';
import type {UserView} from '../../../server/users.js';

export default class ServerUserUpdate extends BaseCommand<UserView> {
  static override summary = "Change an admin account's role, password (--password-stdin) or state (--disable / --enable).";
  static override description = "A new password or --disable ends the account's sessions.";
  static override examples = [
    '<%= config.bin %> server user update grace --role viewer',
    '<%= config.bin %> server user update grace --disable',
  ];
  static override args = {username: Args.string({description: 'Login name.', required: true})};
  static override flags = {
    ...adminFlags,
    role: Flags.string({options: ['viewer', 'approver', 'admin'], description: 'The new role.'}),
    'password-stdin': Flags.boolean({description: 'Read a new password from stdin (or a prompt).'}),
    disable: Flags.boolean({description: 'Disable the account.', exclusive: ['enable']}),
    enable: Flags.boolean({description: 'Enable the account again.'}),
  };

  async run(): Promise<UserView> {
    const {args, flags} = await this.parse(ServerUserUpdate);
    const change: Record<string, unknown> = {};
    if (flags.role !== undefined) change['role'] = flags.role;
    if (flags.disable) change['disabled'] = true;
    if (flags.enable) change['disabled'] = false;
    if (flags['password-stdin']) change['password'] = (await readSecret('new password (input hidden): ')).replace(/\r?\n$/, '');
    const {adminTarget, adminCall} = await import('../../../server/admin-client.js');
    const user = await adminCall<UserView>(
      await adminTarget(adminTargetOptions(flags)),
      'PATCH',
      `/users/${encodeURIComponent(args.username)}`,
      change,
    );
    if (!this.jsonEnabled()) this.log(`user ${user.username}: ${user.role}${user.disabled ? ', disabled' : ''}`);
    return user;
  }
}
