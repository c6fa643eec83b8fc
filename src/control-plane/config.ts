import type {FailureDecision, Settings, ThothEnv} from '../settings/definitions.js';
import {API_KEY_HEADER, type ControlPlaneHost} from './contract.js';
import {Secret} from './secret.js';
import type {TlsSettings} from './tls.js';

/** One host of the control plane, ready to be called (credentials present). */
export interface ControlPlaneEndpoint {
  host: ControlPlaneHost;
  /** The base URL; route paths are appended to its path. */
  url: string;
  /** Authentication headers. Values are Secrets: never logged, never in errors or --json. */
  headers: Readonly<Record<string, Secret>>;
}

/** A host that is configured but cannot be called, and why (shown on stderr and in health). */
export interface UnusableEndpoint {
  host: ControlPlaneHost;
  url: string;
  problem: string;
}

export interface ControlPlanePlan {
  /** False when neither a tenant nor a URL is configured: nothing is ever sent anywhere. */
  configured: boolean;
  enforcer: ControlPlaneEndpoint | UnusableEndpoint | undefined;
  govapi: ControlPlaneEndpoint | UnusableEndpoint | undefined;
  /** The control-plane API host, https://<tenant>.<apex> (informational: thoth itself calls only the two above). */
  controlPlaneUrl: string | undefined;
  /** https://grid.<tenant>.<apex>/v1/endpoints/register, or the same path under THOTH_GOVAPI_URL. */
  registerUrl: string | undefined;
  tenantId: string | undefined;
  fleetId: string | undefined;
  userId: string | undefined;
  env: ThothEnv;
  failureDecision: FailureDecision;
  enforcerTimeoutMs: number;
  heartbeatIntervalMs: number;
  tls: TlsSettings;
}

const NO_KEY = 'no API key is configured (store one with `thoth api-key set`, or set THOTH_API_KEY_FILE)';
const NO_GOVAPI_CREDENTIAL =
  'no credential is configured (store an API key with `thoth api-key set`, or set THOTH_GOVAPI_BEARER_TOKEN or THOTH_GOVAPI_API_KEY)';

/**
 * What the resolved settings say about the control plane, without touching the network. The
 * URLs come from the settings resolver (derived from THOTH_TENANT_ID + THOTH_APEX_DOMAIN, or the
 * explicit THOTH_ENFORCER_URL / THOTH_GOVAPI_URL / legacy THOTH_GOV_API_URL). A host is usable
 * only with a credential: an unauthenticated request would only be refused, so none is sent.
 */
export function planControlPlane(values: Settings): ControlPlanePlan {
  const apiKey = values.apiKey === undefined ? undefined : new Secret(values.apiKey);
  let enforcer: ControlPlanePlan['enforcer'];
  if (values.enforcerUrl !== undefined) {
    enforcer = apiKey
      ? {host: 'enforcer', url: values.enforcerUrl, headers: {authorization: bearer(apiKey)}}
      : {host: 'enforcer', url: values.enforcerUrl, problem: NO_KEY};
  }
  let govapi: ControlPlanePlan['govapi'];
  if (values.govapiUrl !== undefined) {
    const headers: Record<string, Secret> = {};
    const token = values.govapiBearerToken !== undefined ? new Secret(values.govapiBearerToken) : apiKey;
    if (token) headers['authorization'] = bearer(token);
    if (values.govapiApiKey !== undefined) headers[API_KEY_HEADER] = new Secret(values.govapiApiKey);
    govapi =
      Object.keys(headers).length > 0
        ? {host: 'govapi', url: values.govapiUrl, headers}
        : {host: 'govapi', url: values.govapiUrl, problem: NO_GOVAPI_CREDENTIAL};
  }
  const tls: TlsSettings = {
    verify: values.tlsVerify,
    pins: values.tlsPinnedCertSha256 ?? [],
    pinCacheMs: values.tlsPinCacheSeconds * 1000,
    requireAwsBacked: values.tlsRequireAwsBackedCerts,
  };
  if (values.tlsCaBundle !== undefined) tls.caBundle = values.tlsCaBundle;
  if (values.tlsAwsAcmCertArn !== undefined) tls.acmCertArn = values.tlsAwsAcmCertArn;
  if (values.tlsAwsPrivateCaArn !== undefined) tls.privateCaArn = values.tlsAwsPrivateCaArn;
  return {
    configured: enforcer !== undefined || govapi !== undefined,
    enforcer,
    govapi,
    controlPlaneUrl: values.tenantId === undefined ? undefined : `https://${values.tenantId}.${values.apexDomain}`,
    registerUrl: values.govapiUrl === undefined ? undefined : joinUrl(values.govapiUrl, '/v1/endpoints/register'),
    tenantId: values.tenantId,
    fleetId: values.fleetId,
    userId: values.userId,
    env: values.env,
    failureDecision: values.enforcerFailureDecision,
    enforcerTimeoutMs: values.enforcerTimeoutMs,
    heartbeatIntervalMs: values.heartbeatIntervalSeconds * 1000,
    tls,
  };
}

export function isUsable(endpoint: ControlPlaneEndpoint | UnusableEndpoint | undefined): endpoint is ControlPlaneEndpoint {
  return endpoint !== undefined && 'headers' in endpoint;
}

/** `base` + `path`, keeping a path prefix in the base (a self-hosted control plane under /thoth). */
export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path}`;
}

function bearer(secret: Secret): Secret {
  return new Secret(`Bearer ${secret.reveal()}`);
}
