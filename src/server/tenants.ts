import type {Queryable} from './store/database.js';
import {HttpError} from './http.js';
import {fingerprint, hashSecret, newId, newSecret} from './secrets.js';

export interface Tenant {
  id: string;
  name: string;
}

export interface IssuedKey {
  tenant: string;
  keyId: string;
  /** Shown once; only its hash is stored. */
  apiKey: string;
  fingerprint: string;
}

export interface KeyListing {
  keyId: string;
  state: 'active' | 'expiring' | 'revoked' | 'expired';
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
}

export interface TenantListing {
  name: string;
  createdAt: string;
  endpoints: number;
  keys: KeyListing[];
}

/** Tenant names: what endpoints send as THOTH_TENANT_ID (the contract allows 63 characters). */
export const TENANT_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export async function createTenant(db: Queryable, name: string, actor: string): Promise<IssuedKey> {
  if (!TENANT_NAME.test(name))
    throw new HttpError('INVALID_REQUEST', `tenant name "${name}" is not valid: lower-case letters, digits and inner hyphens, at most 63`);
  const existing = await db.query('select 1 from tenants where name = $1', [name]);
  if (existing.length > 0) throw new HttpError('CONFLICT', `tenant "${name}" exists already (rotate its key instead)`);
  const id = newId('ten');
  await db.query('insert into tenants (id, name) values ($1, $2)', [id, name]);
  return issueKey(db, {id, name}, actor);
}

export async function tenantByName(db: Queryable, name: string): Promise<Tenant> {
  const rows = await db.query<Tenant>('select id, name from tenants where name = $1', [name]);
  if (rows.length === 0) throw new HttpError('NOT_FOUND', `no tenant "${name}"`);
  return rows[0]!;
}

/**
 * A new key for the tenant; the keys it had stay valid for `graceSeconds` (0: refused from the
 * next call on), so a fleet can be moved to the new key before the old one stops working.
 */
export async function rotateKey(db: Queryable, name: string, graceSeconds: number, actor: string): Promise<IssuedKey & {retired: number}> {
  const tenant = await tenantByName(db, name);
  const retired = await db.query(
    `update api_keys set expires_at = least(coalesce(expires_at, 'infinity'::timestamptz), now() + make_interval(secs => $2))
       where tenant_id = $1 and revoked_at is null and (expires_at is null or expires_at > now()) returning id`,
    [tenant.id, graceSeconds],
  );
  const issued = await issueKey(db, tenant, actor);
  return {...issued, retired: retired.length};
}

/** Revokes one key (by id) or every key of the tenant: refused from the next call on. */
export async function revokeKeys(db: Queryable, name: string, keyId: string | undefined): Promise<string[]> {
  const tenant = await tenantByName(db, name);
  const rows = await db.query<{id: string}>(
    `update api_keys set revoked_at = now() where tenant_id = $1 and revoked_at is null and ($2::text is null or id = $2) returning id`,
    [tenant.id, keyId ?? null],
  );
  if (keyId !== undefined && rows.length === 0) throw new HttpError('NOT_FOUND', `tenant "${name}" has no active key ${keyId}`);
  return rows.map((row) => row.id);
}

export async function listTenants(db: Queryable): Promise<TenantListing[]> {
  const tenants = await db.query<{id: string; name: string; created_at: Date; endpoints: number}>(
    `select t.id, t.name, t.created_at, (select count(*) from endpoints e where e.tenant_id = t.id) as endpoints from tenants t order by t.name`,
  );
  const keys = await db.query<{tenant_id: string; id: string; created_at: Date; expires_at: Date | null; revoked_at: Date | null}>(
    'select tenant_id, id, created_at, expires_at, revoked_at from api_keys order by created_at',
  );
  const now = Date.now();
  return tenants.map((tenant) => ({
    name: tenant.name,
    createdAt: tenant.created_at.toISOString(),
    endpoints: tenant.endpoints,
    keys: keys
      .filter((key) => key.tenant_id === tenant.id)
      .map((key) => ({
        keyId: key.id,
        state: key.revoked_at ? 'revoked' : key.expires_at === null ? 'active' : key.expires_at.getTime() <= now ? 'expired' : 'expiring',
        createdAt: key.created_at.toISOString(),
        expiresAt: key.expires_at?.toISOString() ?? null,
        revokedAt: key.revoked_at?.toISOString() ?? null,
      })),
  }));
}

/**
 * The tenant an endpoint API key belongs to, read from the database at every call (no cache: a
 * revoked key is refused at the next call, on every instance).
 */
export async function authenticateKey(db: Queryable, apiKey: string): Promise<Tenant & {keyId: string}> {
  const rows = await db.query<{key_id: string; id: string; name: string}>(
    `select k.id as key_id, t.id, t.name from api_keys k join tenants t on t.id = k.tenant_id
       where k.key_hash = $1 and k.revoked_at is null and (k.expires_at is null or k.expires_at > now())`,
    [hashSecret(apiKey)],
  );
  if (rows.length === 0) throw new HttpError('UNAUTHENTICATED', 'the API key is not valid (unknown, revoked or expired)');
  const row = rows[0]!;
  return {id: row.id, name: row.name, keyId: row.key_id};
}

async function issueKey(db: Queryable, tenant: Tenant, actor: string): Promise<IssuedKey> {
  const apiKey = newSecret('api-key');
  const keyId = newId('key');
  await db.query('insert into api_keys (id, tenant_id, key_hash, created_by) values ($1, $2, $3, $4)', [
    keyId,
    tenant.id,
    hashSecret(apiKey),
    actor,
  ]);
  return {tenant: tenant.name, keyId, apiKey, fingerprint: fingerprint(apiKey)};
}
