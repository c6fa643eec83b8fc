import type {Database} from './database.js';

/**
 * The schema, as numbered migrations. Each runs once, in order, in its own transaction, at every
 * `thoth server start` (the same code on the embedded store and on PostgreSQL); an advisory lock
 * makes instances that start together take turns. Never edit a released migration: add one.
 */
export const MIGRATIONS: ReadonlyArray<{version: number; name: string; sql: string}> = [
  {
    version: 1,
    name: 'tenants, keys, endpoints, central policy, approvals, shipped events, admins',
    sql: `
create table tenants (
  id text primary key,
  name text not null unique,
  created_at timestamptz not null default now()
);
create table api_keys (
  id text primary key,
  tenant_id text not null references tenants(id),
  key_hash text not null unique,
  created_at timestamptz not null default now(),
  expires_at timestamptz,
  revoked_at timestamptz,
  created_by text not null
);
create index api_keys_tenant on api_keys (tenant_id);
create table endpoints (
  tenant_id text not null references tenants(id),
  endpoint_id text not null,
  identity_source text not null,
  fleet_id text,
  hostname text not null,
  os jsonb not null,
  thoth_version text not null,
  enrollment_source text not null,
  user_id text,
  governed jsonb,
  enrolled_at timestamptz not null,
  registered_at timestamptz not null,
  last_seen_at timestamptz,
  last_sequence integer,
  policy_version text,
  primary key (tenant_id, endpoint_id)
);
create table policies (
  id bigserial primary key,
  tenant_id text not null references tenants(id),
  version text not null,
  source text not null,
  uploaded_by text not null,
  uploaded_at timestamptz not null default now()
);
create index policies_tenant on policies (tenant_id, id desc);
create table approvals (
  id text primary key,
  tenant_id text not null references tenants(id),
  request_id text not null,
  endpoint_id text not null,
  user_id text,
  agent_id text not null,
  session_id text not null,
  tool text not null,
  arguments jsonb not null,
  arguments_sha256 text not null,
  intent text,
  mode text not null,
  client jsonb,
  rule_id text not null,
  reason text not null,
  policy_version text,
  hold_token_hash text not null,
  state text not null check (state in ('pending', 'approved', 'denied', 'expired')),
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  decided_by text,
  decided_at timestamptz,
  comment text,
  grant_record jsonb,
  used_at timestamptz,
  unique (tenant_id, request_id)
);
create index approvals_queue on approvals (tenant_id, state, created_at desc);
create index approvals_match on approvals (tenant_id, endpoint_id, agent_id, tool, arguments_sha256);
create table audit_events (
  tenant_id text not null references tenants(id),
  event_id text not null,
  endpoint_id text not null,
  chain text not null,
  seq bigint not null,
  type text not null,
  occurred_at timestamptz not null,
  event jsonb not null,
  received_at timestamptz not null default now(),
  primary key (tenant_id, event_id)
);
create index audit_events_search on audit_events (tenant_id, occurred_at desc);
create index audit_events_chain on audit_events (tenant_id, chain, seq);
create table audit_links (
  tenant_id text not null references tenants(id),
  chain text not null,
  seq bigint not null,
  prev text not null,
  hash text not null,
  primary key (tenant_id, chain, seq)
);
create table audit_chains (
  tenant_id text not null references tenants(id),
  chain text not null,
  endpoint_id text not null,
  first_seq bigint not null,
  head_seq bigint not null,
  head_hash text,
  closed boolean not null default false,
  updated_at timestamptz not null default now(),
  primary key (tenant_id, chain)
);
create table audit_violations (
  id bigserial primary key,
  tenant_id text not null references tenants(id),
  endpoint_id text not null,
  chain text not null,
  seq bigint,
  kind text not null,
  detail text not null,
  detected_at timestamptz not null default now()
);
create index audit_violations_endpoint on audit_violations (tenant_id, endpoint_id);
create table pin_reviews (
  id text primary key,
  tenant_id text not null references tenants(id),
  tool text not null,
  from_sha256 text not null,
  to_sha256 text not null,
  from_definition jsonb,
  to_definition jsonb,
  agent_ids jsonb not null default '[]'::jsonb,
  endpoints jsonb not null default '[]'::jsonb,
  first_seen_at timestamptz not null default now(),
  state text not null check (state in ('pending', 'approved', 'rejected')),
  decided_by text,
  decided_at timestamptz,
  comment text,
  decision_record jsonb,
  unique (tenant_id, tool, from_sha256, to_sha256)
);
create table admin_users (
  id text primary key,
  username text not null unique,
  password_hash text not null,
  role text not null check (role in ('viewer', 'approver', 'admin')),
  created_at timestamptz not null default now(),
  disabled_at timestamptz
);
create table admin_sessions (
  token_hash text primary key,
  user_id text not null references admin_users(id),
  csrf_token text not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null
);
create table server_audit (
  id bigserial primary key,
  at timestamptz not null default now(),
  actor text not null,
  action text not null,
  target text,
  outcome text not null,
  detail jsonb not null default '{}'::jsonb
);
create table server_secrets (
  name text primary key,
  value_hash text not null,
  created_at timestamptz not null default now()
);
create table server_keys (
  id text primary key,
  algorithm text not null,
  public_key text not null,
  private_key text not null,
  created_at timestamptz not null default now()
);
`,
  },
];

const MIGRATION_LOCK = 7_342_118;

/** Applies the migrations this database lacks; returns the versions applied now. */
export async function migrate(db: Database): Promise<number[]> {
  // Under the lock too: PostgreSQL's CREATE TABLE IF NOT EXISTS is not safe against a concurrent
  // one (two instances started together: "duplicate key value violates … pg_type_typname_nsp_index").
  await db.transaction(async (tx) => {
    await tx.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await tx.query(
      'create table if not exists schema_migrations (version integer primary key, name text not null, applied_at timestamptz not null default now())',
    );
  });
  const applied: number[] = [];
  for (const migration of MIGRATIONS) {
    const ran = await db.transaction(async (tx) => {
      await tx.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      const done = await tx.query('select 1 from schema_migrations where version = $1', [migration.version]);
      if (done.length > 0) return false;
      for (const statement of splitStatements(migration.sql)) await tx.query(statement);
      await tx.query('insert into schema_migrations (version, name) values ($1, $2)', [migration.version, migration.name]);
      return true;
    });
    if (ran) applied.push(migration.version);
  }
  return applied;
}

/** The newest version this build knows (a database ahead of it was migrated by a newer thoth). */
export const SCHEMA_VERSION = Math.max(...MIGRATIONS.map((migration) => migration.version));

export async function schemaVersion(db: Database): Promise<number> {
  const rows = await db.query<{version: number | null}>('select max(version) as version from schema_migrations');
  return rows[0]?.version ?? 0;
}

/** One statement per `;` at the end of a line (the migrations hold no functions with inner semicolons). */
function splitStatements(sql: string): string[] {
  return sql
    .split(/;\s*$/m)
    .map((statement) => statement.trim())
    .filter((statement) => statement.length > 0);
}
