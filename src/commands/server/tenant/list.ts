import {BaseCommand} from '../../../cli/base-command.js';
import {adminFlags, adminTargetOptions} from '../../../server/command-flags.js';
import type {TenantListing} from '../../../server/tenants.js';
import {terminalSafe} from '../../../util/terminal-text.js';

export default class ServerTenantList extends BaseCommand<{tenants: TenantListing[]}> {
  static override summary = 'List the tenants of a running thoth server, their endpoints and key states (never a key).';
  static override examples = ['<%= config.bin %> server tenant list --json'];
  static override flags = adminFlags;

  async run(): Promise<{tenants: TenantListing[]}> {
    const {flags} = await this.parse(ServerTenantList);
    const {adminTarget, adminCall} = await import('../../../server/admin-client.js');
    const result = await adminCall<{tenants: TenantListing[]}>(await adminTarget(adminTargetOptions(flags)), 'GET', '/tenants');
    if (!this.jsonEnabled()) {
      for (const tenant of result.tenants) {
        this.log(`${terminalSafe(tenant.name)}: ${tenant.endpoints} endpoint(s), since ${tenant.createdAt}`);
        for (const key of tenant.keys) this.log(`  ${key.keyId} ${key.state}${key.expiresAt ? ` until ${key.expiresAt}` : ''}`);
      }
      if (result.tenants.length === 0) this.log('no tenants yet: thoth server tenant create NAME');
    }
    return result;
  }
}
