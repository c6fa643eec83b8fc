import {Args} from '@oclif/core';

import {BaseCommand} from '../../../cli/base-command.js';
import {adminFlags, adminTargetOptions} from '../../../server/command-flags.js';
import type {IssuedKey} from '../../../server/tenants.js';

export default class ServerTenantCreate extends BaseCommand<IssuedKey> {
  static override summary = 'Create a tenant on a running thoth server and print its endpoint API key (once).';
  static override description = [
    'The key is printed this once; the server keeps only its SHA-256. Endpoints use it as their API key (thoth api-key set) and the name as THOTH_TENANT_ID.',
    'Exit codes: 0 created, 3 invalid name, 4 no running server found, 5 the tenant exists, 6 the admin token is refused, 7 the server cannot be reached.',
  ].join('\n');
  static override examples = ['<%= config.bin %> server tenant create acme', '<%= config.bin %> server tenant create acme --json'];
  static override args = {
    name: Args.string({description: 'Tenant name: lower-case letters, digits and inner hyphens (at most 63).', required: true}),
  };
  static override flags = adminFlags;

  async run(): Promise<IssuedKey> {
    const {args, flags} = await this.parse(ServerTenantCreate);
    const {adminTarget, adminCall} = await import('../../../server/admin-client.js');
    const issued = await adminCall<IssuedKey>(await adminTarget(adminTargetOptions(flags)), 'POST', '/tenants', {name: args.name});
    if (!this.jsonEnabled()) {
      this.log(`tenant ${issued.tenant} created; its endpoint API key (shown this once, ${issued.fingerprint}, ${issued.keyId}):`);
      this.log(issued.apiKey);
    }
    return issued;
  }
}
