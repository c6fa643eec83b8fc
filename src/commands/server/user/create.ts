import {Args, Flags} from '@oclif/core';

import {BaseCommand} from '../../../cli/base-command.js';
import {readSecret} from '../../../profile/secret-input.js';
import {adminFlags, adminTargetOptions} from '../../../server/command-flags.js';
import type {UserView} from '../../../server/users.js';

export default class ServerUserCreate extends BaseCommand<UserView> {
  static override summary = 'Create an admin account (viewer, approver or admin) on a running thoth server.';
  static override description = [
    'The password is read from stdin or a prompt without echo, never from the command line (at least 12 characters; stored as a scrypt hash).',
    'viewer: sees the queue, the fleet and the events; approver: also approves and denies held calls; admin: also tenants, keys, policy, fleet pins and accounts.',
  ].join('\n');
  static override examples = ['<%= config.bin %> server user create grace --role approver < password.txt'];
  static override args = {username: Args.string({description: 'Login name.', required: true})};
  static override flags = {
    ...adminFlags,
    role: Flags.string({options: ['viewer', 'approver', 'admin'], required: true, description: 'The role.'}),
  };

  async run(): Promise<UserView> {
    const {args, flags} = await this.parse(ServerUserCreate);
    const password = (await readSecret('password (input hidden): ')).replace(/\r?\n$/, '');
    const {adminTarget, adminCall} = await import('../../../server/admin-client.js');
    const user = await adminCall<UserView>(await adminTarget(adminTargetOptions(flags)), 'POST', '/users', {
      username: args.username,
      password,
      role: flags.role,
    });
    if (!this.jsonEnabled()) this.log(`user ${user.username} created (${user.role})`);
    return user;
  }
}
