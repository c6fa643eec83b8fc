import {homedir} from 'node:os';

import {errorMessage} from '../core/errors.js';
import type {EnrollmentSource, ThothEnv} from '../settings/definitions.js';
import {describeOrigin, resolveSettings, type ResolveSettingsOptions, type ResolvedSettings} from '../settings/resolve.js';
import {judgeOverrides} from './health-overrides.js';
import {
  DEFAULT_HEALTH_PROVIDERS,
  type AuditFact,
  type FactState,
  type GovernanceFact,
  type HealthContext,
  type HealthProviders,
  type HeartbeatFact,
  type OverridesFact,
  type PolicyFact,
} from './health-providers.js';
import {resolveEndpointIdentity, type EndpointIdentity, type IdentityOptions, type IdentitySource} from './identity.js';

export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy' | 'unknown';

/** `thoth health --json` result; schemas/health.schema.json is its contract. */
export interface HealthReport {
  status: HealthStatus;
  /** Why the status is not `healthy`: one sentence per fact that is not ok. */
  reasons: string[];
  checkedAt: string;
  version: {current: string; minimum: string | null; meetsMinimum: boolean | null};
  identity: {endpointId: string; source: IdentitySource; detail: string; derived: boolean};
  tenant: {tenantId: string | null; fleetId: string | null; userId: string | null; env: ThothEnv; enrollmentSource: EnrollmentSource};
  governance: GovernanceFact;
  policy: PolicyFact;
  audit: AuditFact;
  heartbeat: HeartbeatFact;
  /** Refused attempts to change a setting managed preferences set: in configs, recent sessions' trail, this command's environment. */
  overrides: OverridesFact;
  settings: {problems: string[]};
}

export interface CollectHealthOptions {
  version: string;
  settings: ResolvedSettings;
  identity: EndpointIdentity;
  providers?: Partial<HealthProviders>;
  context?: Partial<Omit<HealthContext, 'settings'>>;
}

const SEVERITY: Record<FactState, number> = {ok: 0, warn: 1, unknown: 2, fail: 3};
const STATUS_BY_SEVERITY: HealthStatus[] = ['healthy', 'degraded', 'unknown', 'unhealthy'];

/** Gathers every fact and judges them. Never throws for a failing fact: it becomes a reason. */
export async function collectHealth(options: CollectHealthOptions): Promise<HealthReport> {
  const {settings, identity, version} = options;
  const providers: HealthProviders = {...DEFAULT_HEALTH_PROVIDERS, ...options.providers};
  const context: HealthContext = {
    settings,
    env: options.context?.env ?? process.env,
    home: options.context?.home ?? homedir(),
    platform: options.context?.platform ?? process.platform,
    cwd: options.context?.cwd ?? process.cwd(),
    now: options.context?.now ?? (() => new Date()),
    ...(options.context?.thothBins ? {thothBins: options.context.thothBins} : {}),
  };
  const [governance, policy, audit, heartbeat, recorded] = await Promise.all([
    guard(
      'governance',
      () => providers.governance(context),
      (summary) => ({state: 'unknown' as const, summary, allGoverned: null, totals: null, clients: []}),
    ),
    guard(
      'policy',
      () => providers.policy(context),
      (summary) => ({state: 'unknown' as const, summary, file: null, source: null}),
    ),
    guard(
      'audit',
      () => providers.audit(context),
      (summary) => ({state: 'unknown' as const, summary, path: null}),
    ),
    guard(
      'heartbeat',
      () => providers.heartbeat(context),
      (summary) => ({state: 'unknown' as const, summary, enrolled: null, lastHeartbeatAt: null}),
    ),
    guard(
      'overrides',
      () => providers.overrides(context),
      (summary): OverridesFact => ({state: 'unknown', summary, attempts: []}),
    ),
  ]);
  // The configs' attempts come with governance (they are drift there too); the trail's and this command's with the provider.
  const fromConfigs = governance.overrides ?? [];
  const overrides = fromConfigs.length === 0 ? recorded : mergeOverrides(judgeOverrides([...fromConfigs, ...recorded.attempts]), recorded);

  const minimum = settings.values.minVersion ?? null;
  const meetsMinimum = minimum === null ? null : await versionAtLeast(version, minimum);
  const judged: {state: FactState; reason: string}[] = [];
  if (meetsMinimum === false) {
    judged.push({
      state: 'fail',
      reason: `thoth ${version} is older than the minimum ${minimum} (THOTH_MIN_VERSION, ${describeOrigin(settings.origins.minVersion)})`,
    });
  }
  for (const problem of settings.problems) judged.push({state: 'fail', reason: `invalid setting: ${problem}`});
  for (const [name, fact] of [
    ['governance', governance],
    ['policy', policy],
    ['audit', audit],
    ['heartbeat', heartbeat],
    ['overrides', overrides],
  ] as const) {
    if (fact.state !== 'ok') judged.push({state: fact.state, reason: `${name}: ${fact.summary}`});
  }
  const worst = judged.reduce((max, entry) => Math.max(max, SEVERITY[entry.state]), 0);
  const {values} = settings;
  return {
    status: STATUS_BY_SEVERITY[worst]!,
    reasons: judged.sort((a, b) => SEVERITY[b.state] - SEVERITY[a.state]).map((entry) => entry.reason),
    checkedAt: context.now().toISOString(),
    version: {current: version, minimum, meetsMinimum},
    identity: {endpointId: identity.endpointId, source: identity.source, detail: identity.detail, derived: identity.derived},
    tenant: {
      tenantId: values.tenantId ?? null,
      fleetId: values.fleetId ?? null,
      userId: values.userId ?? null,
      env: values.env,
      enrollmentSource: values.enrollmentSource,
    },
    governance,
    policy,
    audit,
    heartbeat,
    overrides,
    settings: {problems: [...settings.problems]},
  };
}

/** The judged attempts, keeping why the trail could not be read (unknown) when it could not. */
function mergeOverrides(judged: OverridesFact, recorded: OverridesFact): OverridesFact {
  if (recorded.state !== 'unknown') return judged;
  return {...judged, summary: `${judged.summary}; ${recorded.summary}`};
}

export interface CheckHealthOptions extends Omit<ResolveSettingsOptions, 'flags'> {
  version: string;
  /** Executables given to `wrap-config --thoth-bin` that count as this installation. */
  thothBins?: string[];
  flags?: NonNullable<ResolveSettingsOptions['flags']>;
  providers?: Partial<HealthProviders>;
  identity?: Omit<IdentityOptions, 'settings'>;
  now?: () => Date;
}

/** Settings, identity and every fact, with process defaults: what `thoth health` runs. */
export async function checkHealth(options: CheckHealthOptions): Promise<{report: HealthReport; warnings: string[]}> {
  const settings = await resolveSettings(options);
  const identity = await resolveEndpointIdentity({
    settings,
    ...(options.platform ? {platform: options.platform} : {}),
    ...(options.env ? {env: options.env} : {}),
    ...(options.runCommand ? {runCommand: options.runCommand} : {}),
    ...options.identity,
  });
  const report = await collectHealth({
    version: options.version,
    settings,
    identity,
    ...(options.providers ? {providers: options.providers} : {}),
    context: {
      ...(options.env ? {env: options.env} : {}),
      ...(options.home ? {home: options.home} : {}),
      ...(options.platform ? {platform: options.platform} : {}),
      ...(options.cwd ? {cwd: options.cwd} : {}),
      ...(options.now ? {now: options.now} : {}),
      ...(options.thothBins ? {thothBins: options.thothBins} : {}),
    },
  });
  return {report, warnings: settings.warnings};
}

async function guard<T>(name: string, run: () => Promise<T>, onError: (summary: string) => T): Promise<T> {
  try {
    return await run();
  } catch (error) {
    return onError(`the ${name} check failed: ${errorMessage(error).split('\n')[0]}`);
  }
}

async function versionAtLeast(current: string, minimum: string): Promise<boolean> {
  const semver = await import('semver');
  return semver.gte(current, minimum);
}
