import type {Queryable} from './store/database.js';

/**
 * The fleet at a glance: every endpoint with its identity, user, version, last heartbeat, the
 * governed/drift counts its check-ins report, the central policy version it was last told, and
 * its audit state (chains anchored, violations found).
 */
export interface EndpointView {
  tenant: string;
  endpointId: string;
  hostname: string;
  identitySource: string;
  fleetId: string | null;
  userId: string | null;
  os: {platform: string; release: string; arch: string};
  thothVersion: string;
  enrollmentSource: string;
  enrolledAt: string;
  lastSeenAt: string | null;
  governed: {governed: number; notGoverned: number; drift: number; ungovernable: number; clients: number} | null;
  policyVersion: string | null;
  audit: {state: 'ok' | 'violation' | 'none'; chains: number; events: number; violations: number; lastViolation: string | null};
}

export type EndpointFilter = 'stale' | 'drift' | 'old-version' | 'violations' | 'policy-behind';

export interface EndpointQuery {
  tenant?: string | undefined;
  filter?: EndpointFilter | undefined;
  /** For `old-version`: endpoints below this thoth version (default: the newest any endpoint runs). */
  minVersion?: string | undefined;
  /** For `stale`: not seen for this many hours (default 24). */
  staleHours?: number | undefined;
}

interface Row {
  tenant: string;
  tenant_id: string;
  endpoint_id: string;
  hostname: string;
  identity_source: string;
  fleet_id: string | null;
  user_id: string | null;
  os: EndpointView['os'];
  thoth_version: string;
  enrollment_source: string;
  enrolled_at: Date;
  last_seen_at: Date | null;
  governed: EndpointView['governed'];
  policy_version: string | null;
  chains: number;
  events: number;
  violations: number;
  last_violation: string | null;
  current_policy: string | null;
}

export async function listEndpoints(db: Queryable, query: EndpointQuery = {}): Promise<EndpointView[]> {
  const rows = await db.query<Row>(
    `select t.name as tenant, e.*,
       (select count(*) from audit_chains c where c.tenant_id = e.tenant_id and c.endpoint_id = e.endpoint_id) as chains,
       (select count(*) from audit_events a where a.tenant_id = e.tenant_id and a.endpoint_id = e.endpoint_id) as events,
       (select count(*) from audit_violations v where v.tenant_id = e.tenant_id and v.endpoint_id = e.endpoint_id) as violations,
       (select v.kind || ': ' || v.detail from audit_violations v where v.tenant_id = e.tenant_id and v.endpoint_id = e.endpoint_id
          order by v.id desc limit 1) as last_violation,
       (select p.version from policies p where p.tenant_id = e.tenant_id order by p.id desc limit 1) as current_policy
     from endpoints e join tenants t on t.id = e.tenant_id
     ${query.tenant ? 'where t.name = $1' : ''}
     order by e.last_seen_at desc nulls last, e.endpoint_id`,
    query.tenant ? [query.tenant] : [],
  );
  const views = rows.map((row) => ({view: viewOf(row), currentPolicy: row.current_policy}));
  const newest = query.minVersion ?? newestVersion(views.map(({view}) => view.thothVersion));
  const staleBefore = Date.now() - (query.staleHours ?? 24) * 3_600_000;
  return views
    .filter(({view, currentPolicy}) => {
      switch (query.filter) {
        case undefined:
          return true;
        case 'stale':
          return view.lastSeenAt === null || Date.parse(view.lastSeenAt) < staleBefore;
        case 'drift':
          return view.governed !== null && (view.governed.drift > 0 || view.governed.notGoverned > 0);
        case 'old-version':
          return newest !== undefined && compareVersions(view.thothVersion, newest) < 0;
        case 'violations':
          return view.audit.violations > 0;
        case 'policy-behind':
          return currentPolicy !== null && view.policyVersion !== currentPolicy;
      }
    })
    .map(({view}) => view);
}

function viewOf(row: Row): EndpointView {
  return {
    tenant: row.tenant,
    endpointId: row.endpoint_id,
    hostname: row.hostname,
    identitySource: row.identity_source,
    fleetId: row.fleet_id,
    userId: row.user_id,
    os: row.os,
    thothVersion: row.thoth_version,
    enrollmentSource: row.enrollment_source,
    enrolledAt: row.enrolled_at.toISOString(),
    lastSeenAt: row.last_seen_at?.toISOString() ?? null,
    governed: row.governed,
    policyVersion: row.policy_version,
    audit: {
      state: row.violations > 0 ? 'violation' : row.chains > 0 ? 'ok' : 'none',
      chains: row.chains,
      events: row.events,
      violations: row.violations,
      lastViolation: row.last_violation,
    },
  };
}

function newestVersion(versions: string[]): string | undefined {
  return versions.reduce<string | undefined>(
    (best, version) => (best === undefined || compareVersions(version, best) > 0 ? version : best),
    undefined,
  );
}

/** Dotted numeric comparison (`0.10.0` > `0.9.3`); a pre-release sorts before its release. */
export function compareVersions(a: string, b: string): number {
  const parse = (version: string) => {
    const [core = '', pre] = version.split('-', 2);
    return {parts: core.split('.').map((part) => Number.parseInt(part, 10) || 0), pre};
  };
  const left = parse(a);
  const right = parse(b);
  for (let i = 0; i < Math.max(left.parts.length, right.parts.length); i++) {
    const diff = (left.parts[i] ?? 0) - (right.parts[i] ?? 0);
    if (diff !== 0) return diff;
  }
  if (left.pre === right.pre) return 0;
  if (left.pre === undefined) return 1;
  if (right.pre === undefined) return -1;
  return left.pre < right.pre ? -1 : 1;
}

export interface ViolationView {
  tenant: string;
  endpointId: string;
  chain: string;
  seq: number | null;
  kind: string;
  detail: string;
  detectedAt: string;
}

export async function listViolations(db: Queryable, endpointId?: string): Promise<ViolationView[]> {
  const rows = await db.query<{
    tenant: string;
    endpoint_id: string;
    chain: string;
    seq: number | null;
    kind: string;
    detail: string;
    detected_at: Date;
  }>(
    `select t.name as tenant, v.endpoint_id, v.chain, v.seq, v.kind, v.detail, v.detected_at from audit_violations v join tenants t on t.id = v.tenant_id
     ${endpointId ? 'where v.endpoint_id = $1' : ''} order by v.id desc limit 1000`,
    endpointId ? [endpointId] : [],
  );
  return rows.map((row) => ({
    tenant: row.tenant,
    endpointId: row.endpoint_id,
    chain: row.chain,
    seq: row.seq,
    kind: row.kind,
    detail: row.detail,
    detectedAt: row.detected_at.toISOString(),
  }));
}
