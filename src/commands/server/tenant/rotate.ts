import {Args, Flags} from '@oclif/core';

import {BaseCommand} from '../../../cli/base-command.js';
import {adminFlags, adminTargetOptions} from '../../../server/command-flags.js';
import type {IssuedKey} from '../../../server/tenants.js';

export type RotateResult = IssuedKey & {retired: number};

export default class ServerTenantRotate extends BaseCommand<RotateResult> {
  static override summary = 'Issue a new endpoint API key for a tenant; its other keys stop working after --grace-seconds.';
  static override description =
    'The new key is printed this once. Exit codes as for `thoth server tenant create` (4 also: no such tenant).';
  static override examples = ['<%= config.bin %> server tenant rotate acme --grace-seconds 86400'];
  static override args = {name: Args.string({description: 'Tenant name.', required: true})};
  static override flags = {
    ...adminFlags,
    'grace-seconds': Flags.integer({
      description: 'How long the previous keys keep working (0: refused from the next call).',
      min: 0,
      max: 2_592_000,
      default: 0,
    }),
  };

  async run(): Promise<RotateResult> {
    const {args, flags} = await this.parse(ServerTenantRotate);
    const {adminTarget, adminCall} = await import('../../../server/admin-client.js');
    const target = await adminTarget(adminTargetOptions(flags));
    const issued = await adminCall<RotateResult>(target, 'POST', `/tenants/${encodeURIComponent(args.name)}/keys/rotate`, {
      graceSeconds: flags['grace-seconds'],
    });
    if (!this.jsonEnabled()) {
      this.log(
        `new key for ${issued.tenant} (shown this once, ${issued.fingerprint}, ${issued.keyId}); ${issued.retired} previous key(s) stop working in ${flags['grace-seconds']} s:`,
      );
      this.log(issued.apiKey);
    }
    return issued;
  }
}
