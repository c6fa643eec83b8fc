import {join} from 'node:path';

import {AUDIT_DEFAULTS, AUDIT_KEY_FILE_NAME, type FsyncMode} from './audit-defaults.js';
import {ENFORCEMENT_MODES, type EnforcementMode} from '../core/decision.js';
import {keyProblem} from '../profile/api-key.js';
import {PROFILE_FILES} from '../profile/paths.js';
import * as p from './parsers.js';
import {SettingValueError, type Parser} from './parsers.js';

/**
 * thoth's own managed-preference domain (macOS) and policy keys (Windows). thoth reads only
 * these, and `thoth mdm profile` writes only this domain: never another vendor's.
 */
export const THOTH_PREFERENCE_DOMAIN = 'io.thoth.agent';
export const WINDOWS_POLICY_KEYS = ['HKLM\\SOFTWARE\\Policies\\Thoth', 'HKCU\\SOFTWARE\\Policies\\Thoth'] as const;

/** A policy pushed by MDM applies to running sessions within about this long (docs/policy.md#policy-changes-reach-running-sessions). */
export const DEFAULT_POLICY_RELOAD_INTERVAL_MS = 2000;

/** The apex domain of derived URLs; deployments on the older aten.security set THOTH_APEX_DOMAIN. */
export const DEFAULT_APEX_DOMAIN = 'atensecurity.com';

export type ThothEnv = 'dev' | 'staging' | 'prod';
export type FailureDecision = 'block' | 'step_up' | 'allow';
export type EnrollmentSource = 'jamf' | 'intune' | 'manual' | 'unmanaged';

/** Every effective setting, typed. Optional ones are absent when no layer sets them. */
export interface Settings {
  tenantId?: string;
  userId?: string;
  fleetId?: string;
  env: ThothEnv;
  apexDomain: string;
  apiKeyFile: string;
  apiKey?: string;
  endpointId?: string;
  intuneDeviceId?: string;
  jamfComputerId?: string;
  enrollmentSource: EnrollmentSource;
  enforcementMode?: EnforcementMode;
  enforcerUrl?: string;
  govapiUrl?: string;
  govapiBearerToken?: string;
  govapiApiKey?: string;
  enforcerFailureDecision: FailureDecision;
  enforcerAllowFallbackOverride: boolean;
  enforcerTimeoutMs: number;
  heartbeatIntervalSeconds: number;
  tlsVerify: boolean;
  tlsCaBundle?: string;
  tlsPinnedCertSha256?: string[];
  tlsPinCacheSeconds: number;
  tlsRequireAwsBackedCerts: boolean;
  tlsAwsAcmCertArn?: string;
  tlsAwsPrivateCaArn?: string;
  requireNonRoot: boolean;
  expectedProxyUser?: string;
  expectedProxyUid?: number;
  minVersion?: string;
  allowRemoteServers: boolean;
  policyFile?: string;
  policyReloadIntervalMs: number;
  filterTools: boolean;
  logFile?: string;
  auditEnabled: boolean;
  auditDir: string;
  auditKeyFile: string;
  auditFsync: FsyncMode;
  auditFsyncWindowMs: number;
  auditRotateBytes: number;
  auditRotateSeconds: number;
  auditContentMaxBytes: number;
  cliApprovals: boolean;
  controlPlanePublicKey?: string;
}

export type SettingKey = keyof Settings;
export type SettingValue<K extends SettingKey> = NonNullable<Settings[K]>;

export interface DefaultContext {
  profileDir: string;
  /** Settings resolved so far (the table is resolved in order, so earlier keys are final). */
  resolved: Partial<Settings>;
  /** Where each earlier key came from. */
  sourceOf(key: SettingKey): string;
}

export interface SettingDefinition<V> {
  /** The canonical environment variable; also the key in managed preferences and settings.json. */
  name: string;
  /** Other environment variables accepted for the same setting (older names), lower priority. */
  aliases?: readonly string[];
  /** Other keys accepted in managed preferences (Jamf's `jssID`). */
  managedAliases?: readonly string[];
  /** The command-line flag, when commands have one. */
  flag?: string;
  description: string;
  /** Masked in every output; never read from managed preferences or settings.json (world-readable). */
  secret?: boolean;
  /**
   * A value set by managed preferences (MDM) wins over the environment and the flags, not only
   * over settings.json: the settings that decide whether and how calls are governed and
   * recorded. An MCP client config's `env` and `args` are editable by anything that can edit
   * the user's files (an agent's file tool): without this, one line there would undo the
   * administrator's choice. A refused flag or variable is listed in ResolvedSettings.overrides.
   */
  managedWins?: boolean;
  parse: Parser<V>;
  fallback?: (context: DefaultContext) => {value: V; origin: string} | undefined;
}

function fixed<V>(value: V): () => {value: V; origin: string} {
  return () => ({value, origin: 'default'});
}

/** Secrets: validated without ever quoting the value in a message. */
function secret(raw: string): string {
  const value = raw.trim();
  const problem = keyProblem(value);
  if (problem) throw new SettingValueError(problem.replace('the API key', 'the value'));
  return value;
}

function jamfId(raw: string): string {
  const value = p.token(raw);
  if (value === '$JSSID')
    throw new SettingValueError('is the literal "$JSSID": the profile was not delivered by Jamf Pro, which substitutes the computer ID');
  return value;
}

function derivedUrl(host: 'enforce' | 'grid') {
  return ({resolved, sourceOf}: DefaultContext) => {
    if (resolved.tenantId === undefined) return undefined;
    return {
      value: `https://${host}.${resolved.tenantId}.${resolved.apexDomain ?? DEFAULT_APEX_DOMAIN}`,
      origin: `derived from THOTH_TENANT_ID (${sourceOf('tenantId')}) and THOTH_APEX_DOMAIN (${sourceOf('apexDomain')})`,
    };
  };
}

/**
 * The audit trail's own rules (src/audit/settings.ts), kept exactly: the values it accepts from
 * the environment are the values accepted here, so routing it through the resolver changes nothing.
 */
function auditSwitch(raw: string): boolean {
  const value = raw.trim().toLowerCase();
  if (['on', '1', 'true'].includes(value)) return true;
  if (['off', '0', 'false'].includes(value)) return false;
  throw new SettingValueError(`must be on or off (got "${value}")`);
}

function fsyncMode(raw: string): FsyncMode {
  const value = raw.trim();
  if (value === 'batched' || value === 'always') return value;
  throw new SettingValueError(`must be batched or always (got "${value}")`);
}

function atLeast(min: number): Parser<number> {
  return (raw) => {
    const value = Number(raw);
    if (raw.trim() === '' || !Number.isSafeInteger(value) || value < min)
      throw new SettingValueError(`must be an integer of at least ${min} (got "${raw.trim()}")`);
    return value;
  };
}

/**
 * The settings table, in resolution order (defaults may read settings above them). Names follow
 * the product's documented variables; where two names exist, the newer is canonical and the older an alias.
 */
export const SETTINGS: {[K in SettingKey]-?: SettingDefinition<SettingValue<K>>} = {
  tenantId: {
    name: 'THOTH_TENANT_ID',
    flag: '--tenant-id',
    description: 'Tenant for governance scope and derived control-plane URLs.',
    parse: p.dnsLabel,
  },
  userId: {name: 'THOTH_USER_ID', description: 'Per-user identifier for the audit trail (email, or LDAP uid).', parse: p.token},
  fleetId: {name: 'THOTH_FLEET_ID', description: 'Fleet used for endpoint registration and check-ins.', parse: p.token},
  env: {
    name: 'THOTH_ENV',
    description: 'Endpoint environment: dev, staging or prod.',
    parse: p.oneOf(['dev', 'staging', 'prod'] as const),
    fallback: fixed('prod' as const),
  },
  apexDomain: {
    name: 'THOTH_APEX_DOMAIN',
    description: `Apex domain of the derived URLs (default ${DEFAULT_APEX_DOMAIN}; older deployments used aten.security).`,
    parse: p.hostname,
    fallback: fixed(DEFAULT_APEX_DOMAIN),
  },
  apiKeyFile: {
    name: 'THOTH_API_KEY_FILE',
    description: 'API key file, {"api_key": "..."} with mode 0600.',
    parse: p.path,
    fallback: ({profileDir}) => ({value: join(profileDir, PROFILE_FILES.apiKey), origin: 'default'}),
  },
  apiKey: {name: 'THOTH_API_KEY', flag: '--api-key', secret: true, description: 'API key (fallback: prefer the key file).', parse: secret},
  endpointId: {name: 'THOTH_ENDPOINT_ID', description: 'Endpoint identity override (wins over every detected identity).', parse: p.token},
  intuneDeviceId: {
    name: 'THOTH_INTUNE_DEVICE_ID',
    aliases: ['INTUNE_DEVICE_ID'],
    description: 'Intune device ID (endpoint identity).',
    parse: p.token,
  },
  jamfComputerId: {
    name: 'THOTH_JAMF_COMPUTER_ID',
    aliases: ['JAMF_COMPUTER_ID'],
    managedAliases: ['jssID'],
    description: 'Jamf Pro computer ID (endpoint identity); `jssID` = $JSSID in the profile.',
    parse: jamfId,
  },
  enrollmentSource: {
    name: 'THOTH_ENROLLMENT_SOURCE',
    description: 'How this endpoint is managed: jamf, intune, manual or unmanaged.',
    parse: p.oneOf(['jamf', 'intune', 'manual', 'unmanaged'] as const),
    fallback: ({resolved}) => {
      if (resolved.jamfComputerId !== undefined) return {value: 'jamf', origin: 'derived from the Jamf computer ID'};
      if (resolved.intuneDeviceId !== undefined) return {value: 'intune', origin: 'derived from the Intune device ID'};
      return {value: 'unmanaged', origin: 'default'};
    },
  },
  enforcementMode: {
    name: 'THOTH_ENFORCEMENT_MODE',
    flag: '--enforcement-mode',
    managedWins: true,
    description: 'Default enforcement mode: progressive, step_up, block or observe.',
    parse: p.oneOf(ENFORCEMENT_MODES),
  },
  enforcerUrl: {
    name: 'THOTH_ENFORCER_URL',
    description: 'Remote enforcer URL (default derived: https://enforce.<tenant>.<apex>).',
    parse: p.url,
    fallback: derivedUrl('enforce'),
  },
  govapiUrl: {
    name: 'THOTH_GOVAPI_URL',
    aliases: ['THOTH_GOV_API_URL'],
    description: 'GovAPI URL for registration and check-ins (default derived: https://grid.<tenant>.<apex>).',
    parse: p.url,
    fallback: derivedUrl('grid'),
  },
  govapiBearerToken: {name: 'THOTH_GOVAPI_BEARER_TOKEN', secret: true, description: 'Optional bearer token for GovAPI.', parse: secret},
  govapiApiKey: {name: 'THOTH_GOVAPI_API_KEY', secret: true, description: 'Optional API key header for GovAPI.', parse: secret},
  enforcerFailureDecision: {
    name: 'THOTH_ENFORCER_FAILURE_DECISION',
    managedWins: true,
    description: 'Decision when the enforcer cannot be reached: block, step_up or allow (allow needs the override in staging/prod).',
    parse: p.oneOf(['block', 'step_up', 'allow'] as const),
    fallback: fixed('block' as const),
  },
  enforcerAllowFallbackOverride: {
    name: 'THOTH_ENFORCER_ALLOW_FALLBACK_OVERRIDE',
    description: 'Emergency override that lets the failure decision be allow in staging/prod.',
    parse: p.boolean,
    fallback: fixed(false),
  },
  enforcerTimeoutMs: {
    name: 'THOTH_ENFORCER_TIMEOUT_MS',
    description: 'How long one remote enforcer decision may take before the failure decision applies (milliseconds).',
    parse: p.integer(50, 60_000),
    fallback: fixed(2000),
  },
  heartbeatIntervalSeconds: {
    name: 'THOTH_ENDPOINT_CHECKIN_INTERVAL_SEC',
    aliases: ['THOTH_HEARTBEAT_INTERVAL_SECONDS'],
    description: 'Heartbeat (check-in) interval in seconds.',
    parse: p.integer(5, 86_400),
    fallback: fixed(60),
  },
  tlsVerify: {
    name: 'THOTH_TLS_VERIFY',
    description: 'Strict TLS certificate validation for outbound HTTPS.',
    parse: p.boolean,
    fallback: fixed(true),
  },
  tlsCaBundle: {name: 'THOTH_TLS_CA_BUNDLE', description: 'Custom CA bundle (PEM) for the enforcer and GovAPI.', parse: p.path},
  tlsPinnedCertSha256: {
    name: 'THOTH_TLS_PINNED_CERT_SHA256',
    description: 'Comma-separated leaf certificate SHA-256 pins (sha256:<hex> or 64 hex).',
    parse: p.sha256List,
  },
  tlsPinCacheSeconds: {
    name: 'THOTH_TLS_PIN_CACHE_SECONDS',
    description: 'Pin verification cache lifetime in seconds.',
    parse: p.integer(0, 86_400),
    fallback: fixed(300),
  },
  tlsRequireAwsBackedCerts: {
    name: 'THOTH_TLS_REQUIRE_AWS_BACKED_CERTS',
    description: 'Require AWS-backed certificate trust metadata (an ACM or Private CA ARN).',
    parse: p.boolean,
    fallback: fixed(false),
  },
  tlsAwsAcmCertArn: {name: 'THOTH_TLS_AWS_ACM_CERT_ARN', description: 'ACM certificate ARN used for TLS trust attestation.', parse: p.arn},
  tlsAwsPrivateCaArn: {
    name: 'THOTH_TLS_AWS_PRIVATE_CA_ARN',
    description: 'ACM Private CA ARN used for TLS trust attestation.',
    parse: p.arn,
  },
  requireNonRoot: {
    name: 'THOTH_REQUIRE_NON_ROOT',
    description: '`thoth run` refuses to run as root (default: true in staging/prod when a tenant is set).',
    parse: p.boolean,
    fallback: ({resolved}) => {
      if (resolved.tenantId !== undefined && (resolved.env === 'staging' || resolved.env === 'prod')) {
        return {value: true, origin: `default (tenant set, env ${resolved.env})`};
      }
      return {
        value: false,
        origin: resolved.tenantId === undefined ? 'default (no tenant: local use)' : `default (env ${resolved.env ?? 'prod'})`,
      };
    },
  },
  expectedProxyUser: {name: 'THOTH_EXPECTED_PROXY_USER', description: 'OS user `thoth run` must run as.', parse: p.token},
  expectedProxyUid: {name: 'THOTH_EXPECTED_PROXY_UID', description: 'OS uid `thoth run` must run as.', parse: p.integer(0, 4_294_967_294)},
  minVersion: {
    name: 'THOTH_MIN_VERSION',
    flag: '--min-version',
    description: 'Minimum thoth version `thoth health` accepts.',
    parse: p.version,
  },
  allowRemoteServers: {
    name: 'THOTH_ALLOW_REMOTE_SERVERS',
    flag: '--allow-remote-servers',
    description:
      'Remote (url) MCP servers, which thoth cannot sit in front of, do not count against `thoth status` and `thoth health` (they are still listed and counted).',
    parse: p.boolean,
    fallback: fixed(false),
  },
  policyFile: {name: 'THOTH_POLICY_FILE', flag: '--policy', managedWins: true, description: 'Policy file (JSON or JSONC).', parse: p.path},
  policyReloadIntervalMs: {
    name: 'THOTH_POLICY_RELOAD_INTERVAL_MS',
    description: 'How often a running `thoth run` checks its policy source for changes (milliseconds).',
    parse: p.integer(50, 600_000),
    fallback: fixed(DEFAULT_POLICY_RELOAD_INTERVAL_MS),
  },
  filterTools: {
    name: 'THOTH_FILTER_TOOLS',
    flag: '--no-filter-tools',
    managedWins: true,
    description: 'Hide tools that policy can never allow from tools/list results (on; off keeps them, as `thoth run --no-filter-tools`).',
    parse: p.boolean,
    fallback: fixed(true),
  },
  logFile: {name: 'THOTH_LOG_FILE', flag: '--log-file', description: "File that also receives thoth's own diagnostics.", parse: p.path},
  auditEnabled: {
    name: 'THOTH_AUDIT',
    managedWins: true,
    description: 'The audit trail: on, or off (benchmarks, diagnosis only: tool calls are then not recorded).',
    parse: auditSwitch,
    fallback: fixed(true),
  },
  auditDir: {
    name: 'THOTH_AUDIT_DIR',
    flag: '--audit-dir',
    // Managed wins: a session that writes its trail elsewhere (/tmp) is invisible to `thoth
    // health`, to `thoth audit verify` and to the shipper, which all read the configured directory.
    managedWins: true,
    description: 'Audit trail directory (hash-chained segments and their registry).',
    parse: p.path,
    fallback: ({profileDir}) => ({value: join(profileDir, 'audit'), origin: 'default'}),
  },
  auditKeyFile: {
    name: 'THOTH_AUDIT_KEY_FILE',
    description: 'HMAC key that authenticates every audit record (created 0600 on first use).',
    parse: p.path,
    fallback: ({profileDir}) => ({value: join(profileDir, AUDIT_KEY_FILE_NAME), origin: 'default'}),
  },
  auditFsync: {
    name: 'THOTH_AUDIT_FSYNC',
    description: 'batched (fsync within the window) or always (fsync before each call goes on).',
    parse: fsyncMode,
    fallback: fixed(AUDIT_DEFAULTS.fsync),
  },
  auditFsyncWindowMs: {
    name: 'THOTH_AUDIT_FSYNC_WINDOW_MS',
    description: 'Batched fsync window in milliseconds.',
    parse: atLeast(0),
    fallback: fixed(AUDIT_DEFAULTS.fsyncWindowMs),
  },
  auditRotateBytes: {
    name: 'THOTH_AUDIT_ROTATE_BYTES',
    description: 'An audit segment is rotated at this size (bytes).',
    parse: atLeast(4096),
    fallback: fixed(AUDIT_DEFAULTS.rotateBytes),
  },
  auditRotateSeconds: {
    name: 'THOTH_AUDIT_ROTATE_SECONDS',
    description: 'An audit segment is rotated at this age (seconds).',
    parse: atLeast(1),
    fallback: fixed(AUDIT_DEFAULTS.rotateAgeMs / 1000),
  },
  auditContentMaxBytes: {
    name: 'THOTH_AUDIT_CONTENT_MAX_BYTES',
    description: 'Bytes of tool arguments or results an audit event keeps.',
    parse: atLeast(256),
    fallback: fixed(AUDIT_DEFAULTS.contentMaxBytes),
  },
  cliApprovals: {
    name: 'THOTH_CLI_APPROVALS',
    // A fleet that turns command-line approvals off must not be turned back on by an agent's shell (THOTH_CLI_APPROVALS=on thoth approve …).
    managedWins: true,
    description:
      'Command-line approvals (thoth approve / deny): on, or off (sessions then ignore them; the client prompt and the control plane remain).',
    // The same words as THOTH_AUDIT: on/off, true/false, 1/0.
    parse: auditSwitch,
    fallback: fixed(true),
  },
  controlPlanePublicKey: {
    name: 'THOTH_CONTROL_PLANE_PUBLIC_KEY',
    // The key that decides which approvals count: an agent that could set it could approve its own calls from a server of its own.
    managedWins: true,
    description:
      "The control plane's Ed25519 public key (ed25519:<base64>, as thoth server start prints it): remote approvals count only with a grant it signed (pinned at enrollment otherwise).",
    parse: ed25519PublicKey,
  },
};

/** `ed25519:<base64 of 32 bytes>` (or the bare base64) → the base64. */
function ed25519PublicKey(raw: string): string {
  const value = raw.trim().replace(/^ed25519:/i, '');
  if (!/^[A-Za-z0-9+/]{43}=$/.test(value) || Buffer.from(value, 'base64').length !== 32)
    throw new SettingValueError('is not an Ed25519 public key (ed25519: followed by the base64 of 32 bytes)');
  return value;
}

export const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[];

/** Canonical name (and managed alias) → key: the vocabulary of managed preferences and settings.json. */
export function settingKeyForName(name: string): SettingKey | undefined {
  for (const key of SETTING_KEYS) {
    const definition = SETTINGS[key] as SettingDefinition<unknown>;
    if (definition.name === name || definition.managedAliases?.includes(name)) return key;
  }
  return undefined;
}
