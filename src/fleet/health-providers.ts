import {thisInstallation} from '../client-config/installation.js';
import {collectStatus, type EntryOverride} from '../client-config/status.js';
import type {PolicySourceKind} from '../policy/model.js';
import {managedWinners, type ResolvedSettings} from '../settings/resolve.js';
import {auditFact, type AuditFactOptions} from './health-audit.js';
import {trailOverrides} from './health-overrides.js';
import {policyFact} from './health-policy.js';

/**
 * The facts `thoth health` reports come from small providers, one per area, so each area's owner
 * can plug in the real check and tests can drive every combination. A provider that has nothing
 * real to say returns `unknown`: never a made-up `ok`.
 */
export type FactState = 'ok' | 'warn' | 'fail' | 'unknown';

export interface HealthContext {
  settings: ResolvedSettings;
  env: NodeJS.ProcessEnv;
  home: string;
  platform: NodeJS.Platform;
  cwd: string;
  now: () => Date;
  /** Executables given to `wrap-config --thoth-bin` that count as this installation (health --thoth-bin). */
  thothBins?: string[];
  /** Tests: a stand-in for the file-system root in front of the managed policy location. */
  managedRoot?: string;
}

export interface ClientGovernance {
  client: string;
  file: string;
  found: boolean;
  governed: number;
  notGoverned: number;
  drift: number;
  ungovernable: number;
  error: string | null;
}

export interface GovernanceTotals {
  governed: number;
  notGoverned: number;
  drift: number;
  ungovernable: number;
}

export interface GovernanceFact {
  state: FactState;
  summary: string;
  /** True when every server found is governed; null when unknown. */
  allGoverned: boolean | null;
  totals: GovernanceTotals | null;
  clients: ClientGovernance[];
  /** Each drifted server and why (what was not written by wrap-config, a launcher that is not this installation...). */
  drifted?: DriftedServer[];
  /** Flags and variables in the configs that try to change a setting managed preferences set. */
  overrides?: OverrideAttempt[];
}

export interface DriftedServer {
  client: string;
  server: string;
  problems: string[];
}

/** A flag or variable that tried to change a setting managed preferences set; the managed value applies. Never a value. */
export interface OverrideAttempt {
  /** config: in an MCP client config entry; trail: refused by a past `thoth run` (SETTING_OVERRIDE_REFUSED); environment: in this command's own environment. */
  seen: 'config' | 'trail' | 'environment';
  setting: string;
  attempted: {source: 'env' | 'flag'; origin: string};
  managed: string;
  /** config: `<client> <server>`; trail: the server (agent id); environment: `thoth health`. */
  where: string;
  /** trail: the latest refusal (ISO 8601); null otherwise. */
  at: string | null;
  /** trail: how many sessions refused it in the window; 1 otherwise. */
  count: number;
}

/** Attempts to override managed settings: warn (the managed value still applies), never fail. */
export interface OverridesFact {
  state: FactState;
  summary: string;
  attempts: OverrideAttempt[];
}

export interface PolicyFact {
  state: FactState;
  summary: string;
  /** The policy file in force, or null for the built-in default / unknown. */
  file: string | null;
  /** Where it came from: flag, env, managed or profile (THOTH_POLICY_FILE's layer, or the managed / profile location), builtin; null when unknown. */
  source: PolicySourceKind | null;
}

export interface AuditFact {
  state: FactState;
  summary: string;
  /** The audit log directory or file that was checked. */
  path: string | null;
}

export interface HeartbeatFact {
  state: FactState;
  summary: string;
  /** Null when enrollment cannot be known in this build. */
  enrolled: boolean | null;
  /** ISO 8601, when enrolled and a heartbeat succeeded. */
  lastHeartbeatAt: string | null;
}

export interface HealthProviders {
  governance: (context: HealthContext) => Promise<GovernanceFact>;
  policy: (context: HealthContext) => Promise<PolicyFact>;
  audit: (context: HealthContext) => Promise<AuditFact>;
  heartbeat: (context: HealthContext) => Promise<HeartbeatFact>;
  /** Override attempts refused by recent sessions (the trail) and in this command's environment. */
  overrides: (context: HealthContext) => Promise<OverridesFact>;
}

/** The part of `collectStatus()`'s report (src/config/status.ts) that the governance fact reads. */
export interface StatusReportLike {
  clients: {
    client: string;
    file: string;
    found: boolean;
    error?: string;
    servers: {
      state: 'governed' | 'not-governed' | 'drift' | 'ungovernable';
      server?: string;
      problems?: string[];
      overrides?: EntryOverride[];
    }[];
  }[];
  counts: GovernanceTotals;
  allGoverned: boolean;
}

/** Turns the config engine's status report into the governance fact. */
export function governanceFromStatus(report: StatusReportLike): GovernanceFact {
  const clients: ClientGovernance[] = report.clients.map((entry) => {
    const count = (state: string) => entry.servers.filter((server) => server.state === state).length;
    return {
      client: entry.client,
      file: entry.file,
      found: entry.found,
      governed: count('governed'),
      notGoverned: count('not-governed'),
      drift: count('drift'),
      ungovernable: count('ungovernable'),
      error: entry.error ?? null,
    };
  });
  const {governed, notGoverned, drift, ungovernable} = report.counts;
  const unreadable = clients.filter((client) => client.error !== null);
  const problems: string[] = [];
  if (notGoverned > 0) problems.push(`${notGoverned} not governed (${perClient(clients, 'notGoverned')})`);
  if (drift > 0) problems.push(`${drift} drifted (${perClient(clients, 'drift')})`);
  if (ungovernable > 0) problems.push(`${ungovernable} cannot be governed (${perClient(clients, 'ungovernable')})`);
  for (const client of unreadable) problems.push(`${client.client}: ${client.error}`);
  const total = governed + notGoverned + drift + ungovernable;
  const state: FactState = !report.allGoverned || unreadable.length > 0 ? 'fail' : 'ok';
  const summary =
    problems.length === 0 ? `${governed} of ${total} server${total === 1 ? '' : 's'} governed` : `servers: ${problems.join('; ')}`;
  const drifted: DriftedServer[] = [];
  const overrides: OverrideAttempt[] = [];
  for (const entry of report.clients) {
    for (const server of entry.servers) {
      const name = server.server ?? '';
      if (server.state === 'drift') drifted.push({client: entry.client, server: name, problems: [...(server.problems ?? [])]});
      for (const override of server.overrides ?? []) {
        overrides.push({
          seen: 'config',
          setting: override.setting,
          attempted: {...override.attempted},
          managed: override.managed,
          where: `${entry.client} ${name}`,
          at: null,
          count: 1,
        });
      }
    }
  }
  return {
    state,
    summary,
    allGoverned: report.allGoverned && unreadable.length === 0,
    totals: {governed, notGoverned, drift, ungovernable},
    clients,
    drifted,
    overrides,
  };
}

function perClient(clients: ClientGovernance[], field: 'notGoverned' | 'drift' | 'ungovernable'): string {
  return clients
    .filter((client) => client[field] > 0)
    .map((client) => `${client.client}: ${client[field]}`)
    .join(', ');
}

/** What a provider reports when its area is not in this build (today: enrollment and heartbeat). */
export function notAvailable(what: string): {state: 'unknown'; summary: string} {
  return {state: 'unknown', summary: `${what} is not available in this build of thoth`};
}

/**
 * Governance as `thoth status` sees it, judged against the tenant and enforcement mode the
 * settings resolve to (so an entry wrapped for another tenant or mode is drift), this
 * installation of thoth, and the settings managed preferences set.
 */
export async function governanceFact(context: HealthContext): Promise<GovernanceFact> {
  const {values} = context.settings;
  const expected: {tenantId?: string; enforcementMode?: string} = {};
  if (values.tenantId !== undefined) expected.tenantId = values.tenantId;
  if (values.enforcementMode !== undefined) expected.enforcementMode = values.enforcementMode;
  const report = await collectStatus({
    env: context.env,
    home: context.home,
    platform: context.platform,
    cwd: context.cwd,
    profileDir: context.settings.profileDir,
    expected,
    installation: thisInstallation(context.thothBins ?? []),
    managed: managedWinners(context.settings),
    allowRemoteServers: values.allowRemoteServers,
  });
  return governanceFromStatus(report);
}

/** Enrollment and the last heartbeat (src/fleet/heartbeat-fact.ts); local use (no tenant) is simply not enrolled. */
export async function heartbeatFact(context: HealthContext): Promise<HeartbeatFact> {
  return (await import('./heartbeat-fact.js')).heartbeatFact(context);
}

export function createHealthProviders(options: {audit?: AuditFactOptions} = {}): HealthProviders {
  return {
    governance: governanceFact,
    policy: policyFact,
    audit: (context) => auditFact(context, options.audit),
    heartbeat: heartbeatFact,
    overrides: (context) => trailOverrides(context),
  };
}

/** The providers wired into `thoth health`. */
export const DEFAULT_HEALTH_PROVIDERS: HealthProviders = createHealthProviders();
