import {ThothError, errorMessage} from '../core/errors.js';
import {ExitCode} from '../core/exit-codes.js';
import {ControlPlaneError} from '../control-plane/errors.js';
import {isUsable, planControlPlane} from '../control-plane/config.js';
import type {GovernedServers} from '../control-plane/contract.js';
import type {EnrollmentSource} from '../settings/definitions.js';
import {assertValidSettings, resolveSettings, type ResolveSettingsOptions} from '../settings/resolve.js';
import {governedServersSummary, registerEndpoint, registerRequest} from './enroll.js';
import {resolveEndpointIdentity, type IdentityOptions, type IdentitySource} from './identity.js';

/** `thoth enroll --json` result (schemas/enroll-result.schema.json). Holds no credential. */
export interface EnrollResult {
  endpointId: string;
  identitySource: IdentitySource;
  tenantId: string | null;
  fleetId: string | null;
  enrollmentSource: EnrollmentSource;
  registerUrl: string;
  controlPlaneUrl: string | null;
  created: boolean;
  enrolledAt: string;
  registeredAt: string;
  checkinIntervalSeconds: number | null;
  governedServers: GovernedServers | null;
}

export interface EnrollOptions extends Omit<ResolveSettingsOptions, 'flags'> {
  flags?: {tenantId?: string | undefined; fleetId?: string | undefined; enrollmentSource?: string | undefined};
  version: string;
  timeoutMs?: number;
  identity?: Omit<IdentityOptions, 'settings'>;
  /** Told before the request goes out: a person should not stare at a silent terminal for up to timeoutMs. */
  onRequest?: (what: {url: string; endpointId: string; timeoutMs: number}) => void;
}

/**
 * `thoth enroll`: registers this endpoint with the control plane's GovAPI and records it in
 * `~/.thoth/control-plane/enrollment.json`. Idempotent: enrolling again updates the registration
 * (created=false) and changes nothing else. Warnings (settings, and what the control plane says,
 * e.g. a key valid for another endpoint or fleet) are returned for stderr.
 */
export async function enrollThisEndpoint(options: EnrollOptions): Promise<{result: EnrollResult; warnings: string[]}> {
  const settings = await resolveSettings(options);
  assertValidSettings(settings);
  const warnings = [...settings.warnings];
  const plan = planControlPlane(settings.values);
  if (plan.govapi === undefined) {
    throw new ThothError('CONTROL_PLANE_NOT_CONFIGURED', 'no control plane is configured, so there is nothing to enroll with', {
      exitCode: ExitCode.USAGE,
      suggestions: [
        'Give --tenant-id (or set THOTH_TENANT_ID) for the URLs derived from it, or THOTH_GOVAPI_URL for a self-hosted control plane.',
      ],
    });
  }
  if (!isUsable(plan.govapi)) {
    throw new ThothError('CONTROL_PLANE_NO_CREDENTIAL', `GovAPI ${plan.govapi.url} is configured but ${plan.govapi.problem}`, {
      exitCode: ExitCode.NOT_FOUND,
      suggestions: ['Store the key your security team provisioned: `thoth api-key set < key.txt`.'],
    });
  }
  const env = options.env ?? process.env;
  const [identity, governedServers] = await Promise.all([
    resolveEndpointIdentity({settings, env, ...options.identity}),
    governedServersSummary({env, profileDir: settings.profileDir}),
  ]);
  const request = registerRequest({identity, values: settings.values, version: options.version, governedServers});

  const {ControlPlaneClient, userAgent} = await import('../control-plane/client.js');
  let client;
  try {
    client = await ControlPlaneClient.create({
      tls: plan.tls,
      userAgent: userAgent(options.version),
      onWarning: (warning) => warnings.push(`control plane: ${warning.code}: ${warning.message}`),
    });
  } catch (error) {
    throw new ThothError('TLS_CONFIG_INVALID', errorMessage(error), {
      exitCode: ExitCode.SECURITY,
      suggestions: ['Fix the THOTH_TLS_* settings named above (`thoth config show` lists them).'],
    });
  }
  const timeoutMs = options.timeoutMs ?? 15_000;
  options.onRequest?.({url: plan.govapi.url, endpointId: identity.endpointId, timeoutMs});
  try {
    const {response, record} = await registerEndpoint({
      sender: client,
      endpoint: plan.govapi,
      request,
      profileDir: settings.profileDir,
      timeoutMs,
    });
    return {
      result: {
        endpointId: record.endpointId,
        identitySource: identity.source,
        tenantId: record.tenantId,
        fleetId: record.fleetId,
        enrollmentSource: request.enrollmentSource,
        registerUrl: plan.registerUrl!,
        controlPlaneUrl: plan.controlPlaneUrl ?? null,
        created: response.created,
        enrolledAt: record.enrolledAt,
        registeredAt: record.registeredAt,
        checkinIntervalSeconds: response.checkinIntervalSeconds ?? null,
        governedServers,
      },
      warnings,
    };
  } catch (error) {
    throw enrollError(error, plan.registerUrl!);
  } finally {
    await client.close();
  }
}

function enrollError(error: unknown, url: string): unknown {
  if (!(error instanceof ControlPlaneError)) return error;
  if (error.kind === 'tls') {
    return new ThothError('TLS_FAILED', error.message, {
      exitCode: ExitCode.SECURITY,
      suggestions: [
        'Check THOTH_TLS_CA_BUNDLE and THOTH_TLS_PINNED_CERT_SHA256 against the certificate the control plane presents; thoth never retries with weaker TLS.',
      ],
    });
  }
  const suggestions = error.isAuthFailure
    ? [
        'The control plane refused the credential: store a valid key with `thoth api-key set`, or check THOTH_GOVAPI_BEARER_TOKEN / THOTH_GOVAPI_API_KEY.',
      ]
    : [`Check that ${url} is reachable from this machine (proxy, firewall, DNS), then run \`thoth enroll\` again: it is safe to repeat.`];
  return new ThothError('ENROLL_FAILED', error.message, {exitCode: ExitCode.NETWORK, suggestions, cause: error});
}
