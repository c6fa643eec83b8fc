import {Args, Flags} from '@oclif/core';

import {BaseCommand} from '../../../cli/base-command.js';
import {adminFlags, adminTargetOptions} from '../../../server/command-flags.js';

export interface RevokeResult {
  tenant: string;
  revoked: string[];
}

export default class ServerTenantRevoke extends BaseCommand<RevokeResult> {
  static override summary = "Revoke a tenant's endpoint API keys (one with --key-id, else all): refused from the next call on.";
  static override description = 'Exit codes as for `thoth server tenant create` (4 also: no such tenant or key).';
  static override examples = [
    '<%= config.bin %> server tenant revoke acme --key-id key_0123456789abcdef01234567',
    '<%= config.bin %> server tenant revoke acme',
  ];
  static override args = {name: Args.string({description: 'Tenant name.', required: true})};
  static override flags = {
    ...adminFlags,
    'key-id': Flags.string({description: 'The key to revoke (key_…, from `thoth server tenant list`).'}),
  };

  async run(): Promise<RevokeResult> {
    const {args, flags} = await this.parse(ServerTenantRevoke);
    const {adminTarget, adminCall} = await import('../../../server/admin-client.js');
    const target = await adminTarget(adminTargetOptions(flags));
    const result = await adminCall<RevokeResult>(
      target,
      'POST',
      `/tenants/${encodeURIComponent(args.name)}/keys/revoke`,
      flags['key-id'] === undefined ? {} : {keyId: flags['key-id']},
    );
    if (!this.jsonEnabled()) this.log(`revoked ${result.revoked.length} key(s) of ${result.tenant}: ${result.revoked.join(', ') || '-'}`);
    return result;
  }
}
