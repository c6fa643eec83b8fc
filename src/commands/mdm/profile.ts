import {Flags} from '@oclif/core';
import {resolve} from 'node:path';

import {BaseCommand} from '../../cli/base-command.js';
import {ThothError} from '../../core/errors.js';
import {ExitCode} from '../../core/exit-codes.js';
import {buildMobileconfig, DEFAULT_PROFILE_IDENTIFIER, type ManagedValue} from '../../settings/mobileconfig.js';
import {writeFileAtomic} from '../../util/atomic-write.js';
import {terminalSafe} from '../../util/terminal-text.js';

export interface MdmProfileResult {
  output: string | null;
  domain: string;
  payloadIdentifier: string;
  payloadUuid: string;
  values: Record<string, ManagedValue>;
  /** The profile itself when it was not written to --output. */
  xml: string | null;
}

const NAMED_FLAGS = {
  'tenant-id': 'THOTH_TENANT_ID',
  'fleet-id': 'THOTH_FLEET_ID',
  env: 'THOTH_ENV',
  'enforcement-mode': 'THOTH_ENFORCEMENT_MODE',
  'min-version': 'THOTH_MIN_VERSION',
  'apex-domain': 'THOTH_APEX_DOMAIN',
  'enrollment-source': 'THOTH_ENROLLMENT_SOURCE',
} as const;

export default class MdmProfile extends BaseCommand<MdmProfileResult> {
  static override summary = 'Generate a macOS configuration profile (.mobileconfig) for thoth’s managed preferences.';
  static override description = [
    'One com.apple.ManagedClient.preferences payload for the domain io.thoth.agent (never another vendor’s domain), with jssID = $JSSID so that Jamf Pro delivers the computer ID.',
    'Unsigned XML, ready to sign or to upload to Jamf Pro (which signs it). Secrets are refused: managed preferences are readable by every local user.',
  ].join('\n');

  static override examples = [
    '<%= config.bin %> mdm profile --tenant-id acme --enforcement-mode progressive --min-version 0.1.0 --output thoth.mobileconfig',
    '<%= config.bin %> mdm profile --tenant-id acme --set THOTH_FLEET_ID=laptops --set THOTH_REQUIRE_NON_ROOT=true',
  ];

  static override flags = {
    'tenant-id': Flags.string({description: 'THOTH_TENANT_ID.'}),
    'fleet-id': Flags.string({description: 'THOTH_FLEET_ID.'}),
    env: Flags.string({description: 'THOTH_ENV (dev, staging, prod).'}),
    'enforcement-mode': Flags.string({description: 'THOTH_ENFORCEMENT_MODE (progressive, step_up, block, observe).'}),
    'min-version': Flags.string({description: 'THOTH_MIN_VERSION, the minimum version `thoth health` accepts.'}),
    'apex-domain': Flags.string({description: 'THOTH_APEX_DOMAIN.'}),
    'enrollment-source': Flags.string({description: 'THOTH_ENROLLMENT_SOURCE.', default: 'jamf'}),
    set: Flags.string({description: 'Any other setting, KEY=VALUE with a THOTH_* name (repeatable).', multiple: true}),
    jssid: Flags.boolean({description: 'Include jssID = $JSSID (Jamf Pro substitutes the computer ID).', default: true, allowNo: true}),
    identifier: Flags.string({description: 'PayloadIdentifier of the profile.', default: DEFAULT_PROFILE_IDENTIFIER}),
    organization: Flags.string({description: 'PayloadOrganization.'}),
    'display-name': Flags.string({description: 'PayloadDisplayName.', default: 'thoth settings'}),
    scope: Flags.string({description: 'PayloadScope.', options: ['System', 'User'], default: 'System'}),
    output: Flags.string({char: 'o', description: 'Write the profile here instead of stdout.'}),
  };

  async run(): Promise<MdmProfileResult> {
    const {flags} = await this.parse(MdmProfile);
    const pairs: [string, string][] = [];
    for (const [flag, name] of Object.entries(NAMED_FLAGS)) {
      const value = flags[flag as keyof typeof NAMED_FLAGS];
      if (value !== undefined) pairs.push([name, value]);
    }
    for (const assignment of flags.set ?? []) {
      const separator = assignment.indexOf('=');
      if (separator <= 0) {
        throw new ThothError('USAGE', `--set expects KEY=VALUE (got "${assignment.split('=')[0] ?? ''}")`, {exitCode: ExitCode.USAGE});
      }
      pairs.push([assignment.slice(0, separator), assignment.slice(separator + 1)]);
    }
    const profile = await buildMobileconfig({
      values: pairs,
      includeJssId: flags.jssid,
      identifier: flags.identifier,
      displayName: flags['display-name'],
      scope: flags.scope as 'System' | 'User',
      ...(flags.organization === undefined ? {} : {organization: flags.organization}),
    });
    const output = flags.output === undefined ? null : resolve(flags.output);
    if (output !== null) {
      await writeFileAtomic(output, profile.xml, {mode: 0o644});
      if (!this.jsonEnabled()) this.log(`wrote ${terminalSafe(output)} (${terminalSafe(profile.payloadIdentifier)}, domain ${profile.domain}, ${Object.keys(profile.values).length} keys)`);
    } else if (!this.jsonEnabled()) {
      process.stdout.write(profile.xml);
    }
    return {
      output,
      domain: profile.domain,
      payloadIdentifier: profile.payloadIdentifier,
      payloadUuid: profile.payloadUuid,
      values: profile.values,
      xml: output === null ? profile.xml : null,
    };
  }
}
