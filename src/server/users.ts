import type {Role} from './admin-auth.js';
import type {Queryable} from './store/database.js';
import {HttpError} from './http.js';
import {hashPassword, MIN_PASSWORD_LENGTH} from './passwords.js';
import {newId} from './secrets.js';

export interface UserView {
  username: string;
  role: Role;
  createdAt: string;
  disabled: boolean;
}

export async function createUser(db: Queryable, username: string, password: string, role: Role): Promise<UserView> {
  checkPassword(password);
  const exists = await db.query('select 1 from admin_users where username = $1', [username]);
  if (exists.length > 0) throw new HttpError('CONFLICT', `user "${username}" exists already`);
  const rows = await db.query<{created_at: Date}>(
    'insert into admin_users (id, username, password_hash, role) values ($1, $2, $3, $4) returning created_at',
    [newId('usr'), username, await hashPassword(password), role],
  );
  return {username, role, createdAt: rows[0]!.created_at.toISOString(), disabled: false};
}

export async function updateUser(
  db: Queryable,
  username: string,
  change: {role?: Role; password?: string; disabled?: boolean},
): Promise<UserView> {
  if (change.password !== undefined) checkPassword(change.password);
  const rows = await db.query<{id: string; role: Role; created_at: Date; disabled_at: Date | null}>(
    `update admin_users set role = coalesce($2, role), password_hash = coalesce($3, password_hash),
       disabled_at = case when $4::boolean is null then disabled_at when $4 then coalesce(disabled_at, now()) else null end
     where username = $1 returning id, role, created_at, disabled_at`,
    [username, change.role ?? null, change.password === undefined ? null : await hashPassword(change.password), change.disabled ?? null],
  );
  const row = rows[0];
  if (!row) throw new HttpError('NOT_FOUND', `no user "${username}"`);
  // A new password or a disabled account ends the user's sessions.
  if (change.password !== undefined || change.disabled === true) await db.query('delete from admin_sessions where user_id = $1', [row.id]);
  return {username, role: row.role, createdAt: row.created_at.toISOString(), disabled: row.disabled_at !== null};
}

export async function listUsers(db: Queryable): Promise<UserView[]> {
  const rows = await db.query<{username: string; role: Role; created_at: Date; disabled_at: Date | null}>(
    'select username, role, created_at, disabled_at from admin_users order by username',
  );
  return rows.map((row) => ({
    username: row.username,
    role: row.role,
    createdAt: row.created_at.toISOString(),
    disabled: row.disabled_at !== null,
  }));
}

function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH)
    throw new HttpError('INVALID_REQUEST', `a password needs at least ${MIN_PASSWORD_LENGTH} characters`);
}
