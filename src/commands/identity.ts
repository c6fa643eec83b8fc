import {BaseCommand} from '../cli/base-command.js';
import {resolveEndpointIdentity, type EndpointIdentity} from '../fleet/identity.js';
import {resolveSettings} from '../settings/resolve.js';
import {terminalSafe} from '../util/terminal-text.js';

export type IdentityResult = EndpointIdentity;

export default class Identity extends BaseCommand<IdentityResult> {
  static override summary = 'Show this endpoint’s identity and which source it came from.';
  static override description =
    'Order: THOTH_ENDPOINT_ID; Intune device ID; Jamf computer ID (incl. jssID=$JSSID in managed preferences); the OS machine id, published only as an app-specific HMAC-SHA256 derivation; the hostname.';
  static override examples = ['<%= config.bin %> identity', '<%= config.bin %> identity --json'];

  async run(): Promise<IdentityResult> {
    const {flags} = await this.parse(Identity);
    const settings = await resolveSettings(flags['thoth-home'] === undefined ? {} : {profileDir: flags['thoth-home']});
    for (const warning of settings.warnings) this.note(warning);
    const identity = await resolveEndpointIdentity({settings});
    if (!this.jsonEnabled()) {
      // Ids and details come from the environment, managed preferences and command output: escaped.
      this.log(terminalSafe(identity.endpointId));
      this.log(
        `source: ${identity.source} (${terminalSafe(identity.detail)})${identity.derived ? ', app-specific derivation of the machine id' : ''}`,
      );
      for (const skip of identity.skipped) this.log(`skipped: ${terminalSafe(skip.detail)}: ${terminalSafe(skip.reason)}`);
    }
    return identity;
  }
}
