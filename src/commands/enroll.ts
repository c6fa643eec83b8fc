import {Flags} from '@oclif/core';

import {BaseCommand} from '../cli/base-command.js';
import {enrollThisEndpoint, type EnrollResult} from '../fleet/enroll-endpoint.js';
import {terminalSafe} from '../util/terminal-text.js';

export type {EnrollResult} from '../fleet/enroll-endpoint.js';

export default class Enroll extends BaseCommand<EnrollResult> {
  static override summary = 'Register this endpoint with the control plane (idempotent).';
  static override description = [
    'POSTs identity, hostname, OS, thoth version, fleet, enrollment source and the governed-servers summary to <GovAPI>/v1/endpoints/register',
    '(https://grid.<tenant>.<apex> unless THOTH_GOVAPI_URL says otherwise) and records the registration in ~/.thoth/control-plane/enrollment.json.',
    'Safe to run again (MDM may run it at every check-in). Exit codes: 0 enrolled, 2 no control plane configured, 4 no credential, 6 TLS refused, 7 the control plane could not be reached or refused.',
  ].join('\n');

  static override examples = [
    '<%= config.bin %> enroll --tenant-id acme',
    '<%= config.bin %> enroll --fleet-id laptops --enrollment-source jamf --json',
  ];

  static override flags = {
    'tenant-id': Flags.string({description: 'Tenant (overrides THOTH_TENANT_ID).'}),
    'fleet-id': Flags.string({description: 'Fleet (overrides THOTH_FLEET_ID).'}),
    'enrollment-source': Flags.string({
      options: ['jamf', 'intune', 'manual', 'unmanaged'],
      description: 'How this endpoint is managed (overrides THOTH_ENROLLMENT_SOURCE).',
    }),
  };

  async run(): Promise<EnrollResult> {
    const {flags} = await this.parse(Enroll);
    const {result, warnings} = await enrollThisEndpoint({
      version: this.config.version,
      flags: {tenantId: flags['tenant-id'], fleetId: flags['fleet-id'], enrollmentSource: flags['enrollment-source']},
      ...(flags['thoth-home'] === undefined ? {} : {profileDir: flags['thoth-home']}),
      onRequest: ({url, endpointId, timeoutMs}) => {
        // stderr: stdout carries the result (and the envelope under --json, where this is not said).
        if (!this.jsonEnabled())
          process.stderr.write(
            `registering ${terminalSafe(endpointId)} with ${terminalSafe(url)} (waits up to ${Math.round(timeoutMs / 1000)} s)…\n`,
          );
      },
    });
    for (const warning of warnings) this.note(warning);
    if (!this.jsonEnabled()) {
      // Partly the control plane's answer and the endpoint's environment: escaped.
      const safe = (value: unknown) => terminalSafe(String(value));
      this.log(
        `${result.created ? 'enrolled' : 'already enrolled (registration updated)'}: ${safe(result.endpointId)} (${safe(result.identitySource)})`,
      );
      this.log(
        `tenant ${safe(result.tenantId ?? '-')}, fleet ${safe(result.fleetId ?? '-')}, source ${safe(result.enrollmentSource)}, since ${safe(result.enrolledAt)}`,
      );
      this.log(`registry: ${safe(result.registerUrl)}`);
    }
    return result;
  }
}
