import type {IncomingMessage} from 'node:http';

import type {ServerContext} from './context.js';
import {HttpError, bearerToken, cookies} from './http.js';
import {decoyHash, verifyPassword} from './passwords.js';
import {hashSecret, newSecret, sameHash} from './secrets.js';
import type {Queryable} from './store/database.js';

export type Role = 'viewer' | 'approver' | 'admin';
export const ROLES: readonly Role[] = ['viewer', 'approver', 'admin'];
const RANK: Record<Role, number> = {viewer: 0, approver: 1, admin: 2};

export const SESSION_COOKIE = 'thoth_session';
const SESSION_HOURS = 12;
export const BOOTSTRAP_ACTOR = 'bootstrap-token';

/** Who makes an admin request, and how. */
export interface Principal {
  actor: string;
  role: Role;
  via: 'token' | 'session';
  /** The session's CSRF token (cookie sessions only). */
  csrfToken?: string;
}

/**
 * Admin requests authenticate with either the bootstrap token (`authorization: Bearer tha_…`,
 * role admin: scripts, and the `thoth server` commands) or a session cookie from a login. A
 * session cookie is sent by the browser on its own, so every request that changes something
 * must also carry the session's CSRF token (header `x-csrf-token` or form field `_csrf`); the
 * cookie is also SameSite=Strict. A bearer token is never sent implicitly and needs none.
 */
export async function authenticateAdmin(context: ServerContext, req: IncomingMessage): Promise<Principal> {
  const token = bearerToken(req);
  if (token !== undefined) {
    const rows = await context.db.query<{value_hash: string}>(`select value_hash from server_secrets where name = 'admin-token'`);
    const stored = rows[0]?.value_hash;
    if (stored === undefined || !sameHash(stored, hashSecret(token)))
      throw new HttpError('UNAUTHENTICATED', 'the admin token is not valid');
    return {actor: BOOTSTRAP_ACTOR, role: 'admin', via: 'token'};
  }
  const session = cookies(req).get(SESSION_COOKIE);
  if (session === undefined) throw new HttpError('UNAUTHENTICATED', 'log in first (or send the admin token as a bearer token)');
  const rows = await context.db.query<{username: string; role: Role; csrf_token: string}>(
    `select u.username, u.role, s.csrf_token from admin_sessions s join admin_users u on u.id = s.user_id
       where s.token_hash = $1 and s.expires_at > now() and u.disabled_at is null`,
    [hashSecret(session)],
  );
  const row = rows[0];
  if (!row) throw new HttpError('UNAUTHENTICATED', 'the session expired or was ended; log in again');
  return {actor: row.username, role: row.role, via: 'session', csrfToken: row.csrf_token};
}

export function requireRole(principal: Principal, role: Role): void {
  if (RANK[principal.role] < RANK[role])
    throw new HttpError('FORBIDDEN', `this needs the ${role} role; ${principal.actor} is ${principal.role}`);
}

/** Cookie sessions: a request that changes something must carry the session's CSRF token. */
export function requireCsrf(principal: Principal, presented: string | undefined): void {
  if (principal.via !== 'session') return;
  if (presented === undefined || principal.csrfToken === undefined || !sameHash(hashSecret(presented), hashSecret(principal.csrfToken))) {
    throw new HttpError('FORBIDDEN', 'the CSRF token is missing or wrong (reload the page)');
  }
}

export interface LoginResult {
  cookie: string;
  csrfToken: string;
  username: string;
  role: Role;
}

/** Checks a password (as long whether or not the user exists) and opens a session. */
export async function login(db: Queryable, username: string, password: string): Promise<LoginResult> {
  const rows = await db.query<{id: string; username: string; role: Role; password_hash: string}>(
    'select id, username, role, password_hash from admin_users where username = $1 and disabled_at is null',
    [username],
  );
  const user = rows[0];
  const ok = await verifyPassword(password, user?.password_hash ?? (await decoyHash()));
  if (!user || !ok) throw new HttpError('UNAUTHENTICATED', 'wrong user name or password');
  const session = newSecret('session');
  const csrfToken = newSecret('session');
  await db.query(
    `insert into admin_sessions (token_hash, user_id, csrf_token, expires_at) values ($1, $2, $3, now() + make_interval(hours => $4))`,
    [hashSecret(session), user.id, csrfToken, SESSION_HOURS],
  );
  await db.query('delete from admin_sessions where expires_at <= now()');
  return {cookie: sessionCookie(session, SESSION_HOURS * 3600), csrfToken, username: user.username, role: user.role};
}

export async function logout(db: Queryable, req: IncomingMessage): Promise<string> {
  const session = cookies(req).get(SESSION_COOKIE);
  if (session !== undefined) await db.query('delete from admin_sessions where token_hash = $1', [hashSecret(session)]);
  return sessionCookie('', 0);
}

function sessionCookie(value: string, maxAgeSeconds: number): string {
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=${maxAgeSeconds}`;
}

/** The server's own audit log: every admin action, allowed or refused (never a secret). */
export async function recordAdminAction(
  db: Queryable,
  actor: string,
  action: string,
  target: string | null,
  outcome: 'ok' | 'refused' | 'failed',
  detail: Record<string, unknown> = {},
): Promise<void> {
  await db.query('insert into server_audit (actor, action, target, outcome, detail) values ($1, $2, $3, $4, $5::jsonb)', [
    actor,
    action,
    target,
    outcome,
    JSON.stringify(detail),
  ]);
}
