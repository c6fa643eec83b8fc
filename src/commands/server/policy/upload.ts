import {readFile} from 'node:fs/promises';
import {basename} from 'node:path';

import {Args} from '@oclif/core';

import {BaseCommand} from '../../../cli/base-command.js';
import {ThothError, errnoCode} from '../../../core/errors.js';
import {ExitCode} from '../../../core/exit-codes.js';
import type {PolicyUpload} from '../../../server/central-policy.js';
import {adminFlags, adminTargetOptions} from '../../../server/command-flags.js';

export default class ServerPolicyUpload extends BaseCommand<PolicyUpload & {tenant: string}> {
  static override summary = "Upload a tenant's central policy: the remote enforcer decides with it from the next call.";
  static override description = [
    'Validated by the server with the schema and compiler of `thoth policy validate` (the same errors); an invalid policy changes nothing (exit 3).',
    'Endpoints learn the new version with their next check-in.',
  ].join('\n');
  static override examples = ['<%= config.bin %> server policy upload acme central-policy.json'];
  static override args = {
    tenant: Args.string({description: 'Tenant name.', required: true}),
    file: Args.string({description: 'The policy (JSON with comments).', required: true}),
  };
  static override flags = adminFlags;

  async run(): Promise<PolicyUpload & {tenant: string}> {
    const {args, flags} = await this.parse(ServerPolicyUpload);
    let source: string;
    try {
      source = await readFile(args.file, 'utf8');
    } catch (error) {
      throw new ThothError('POLICY_NOT_FOUND', `${args.file} cannot be read (${errnoCode(error) ?? 'error'})`, {
        exitCode: ExitCode.NOT_FOUND,
      });
    }
    const {adminTarget, adminCall} = await import('../../../server/admin-client.js');
    const target = await adminTarget(adminTargetOptions(flags));
    const result = await adminCall<PolicyUpload & {tenant: string}>(target, 'PUT', `/tenants/${encodeURIComponent(args.tenant)}/policy`, {
      source,
      name: basename(args.file),
    });
    if (!this.jsonEnabled()) this.log(`central policy of ${result.tenant} is now ${result.version} (${result.rules} rules)`);
    return result;
  }
}
