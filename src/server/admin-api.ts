import type {IncomingMessage, ServerResponse} from 'node:http';

import {thothVersion} from '../control-plane/version.js';
import {authenticateAdmin, login, logout, recordAdminAction, requireCsrf, requireRole, type Principal, type Role} from './admin-auth.js';
import {decideApproval, getApproval, listApprovals} from './approvals.js';
import {checkPolicyText, PolicyInvalid, policyOverview, uploadPolicy} from './central-policy.js';
import type {ServerContext} from './context.js';
import {exportLines, searchEvents} from './event-search.js';
import {decidePinReview, listPinReviews} from './fleet-pins.js';
import {listEndpoints, listViolations, type EndpointFilter} from './fleet-view.js';
import {HttpError, parseJsonBody, readBody, sendJson, sendText} from './http.js';
import {createTenant, listTenants, revokeKeys, rotateKey, tenantByName} from './tenants.js';
import {createUser, listUsers, updateUser} from './users.js';

/**
 * The admin HTTP API (`/api/admin/v1/…`): everything the web app does, for scripts too. Request
 * bodies follow the JSON Schemas in schemas/server/ and are validated against them; errors use
 * the contract's error schema. Every route needs an admin principal with a role (viewer <
 * approver < admin); every change needs the CSRF token of a cookie session and is written to the
 * server's audit log with its outcome, as are refusals.
 */
export const ADMIN_PREFIX = '/api/admin/v1';
const BODY_LIMIT = 1024 * 1024;

interface Call {
  context: ServerContext;
  req: IncomingMessage;
  res: ServerResponse;
  principal: Principal;
  params: string[];
  query: URLSearchParams;
  body: Record<string, unknown>;
}

interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: RegExp;
  role: Role;
  /** Written to the server's audit log (changes only). */
  action?: string;
  /** schemas/server/<schema>.schema.json for the body. */
  schema?: string;
  handle(call: Call): Promise<unknown>;
}

const NAME = '([a-z0-9-]{1,63})';
const ID = '([A-Za-z0-9_-]{1,128})';

const ROUTES: Route[] = [
  {method: 'GET', path: /^\/session$/, role: 'viewer', handle: async ({principal}) => whoami(principal)},
  {method: 'GET', path: /^\/tenants$/, role: 'viewer', handle: async ({context}) => ({tenants: await listTenants(context.db)})},
  {
    method: 'POST',
    path: /^\/tenants$/,
    role: 'admin',
    action: 'tenant.create',
    schema: 'tenant-create',
    handle: async ({context, principal, body}) => createTenant(context.db, body['name'] as string, principal.actor),
  },
  {
    method: 'POST',
    path: new RegExp(`^/tenants/${NAME}/keys/rotate$`),
    role: 'admin',
    action: 'key.rotate',
    schema: 'key-rotate',
    handle: async ({context, principal, params, body}) =>
      rotateKey(context.db, params[0]!, (body['graceSeconds'] as number | undefined) ?? 0, principal.actor),
  },
  {
    method: 'POST',
    path: new RegExp(`^/tenants/${NAME}/keys/revoke$`),
    role: 'admin',
    action: 'key.revoke',
    schema: 'key-revoke',
    handle: async ({context, params, body}) => ({
      tenant: params[0],
      revoked: await revokeKeys(context.db, params[0]!, body['keyId'] as string | undefined),
    }),
  },
  {
    method: 'GET',
    path: new RegExp(`^/tenants/${NAME}/policy$`),
    role: 'viewer',
    handle: async ({context, params}) => policyOverview(context.db, params[0]!),
  },
  {
    method: 'PUT',
    path: new RegExp(`^/tenants/${NAME}/policy$`),
    role: 'admin',
    action: 'policy.upload',
    schema: 'policy-upload',
    handle: async ({context, principal, params, body}) => {
      const tenant = await tenantByName(context.db, params[0]!);
      const uploaded = await uploadPolicy(
        context.db,
        tenant.id,
        body['source'] as string,
        (body['name'] as string | undefined) ?? 'policy.json',
        principal.actor,
      );
      context.policies.forget(tenant.id);
      return {tenant: tenant.name, ...uploaded};
    },
  },
  {
    method: 'POST',
    path: /^\/policy\/validate$/,
    role: 'viewer',
    schema: 'policy-upload',
    handle: async ({body}) => {
      const checked = await checkPolicyText(body['source'] as string, (body['name'] as string | undefined) ?? 'policy.json');
      return checked.ok
        ? {valid: true, version: checked.policy.version, rules: checked.policy.ruleCount, problems: []}
        : {valid: false, version: null, rules: 0, problems: checked.problems};
    },
  },
  {
    method: 'GET',
    path: /^\/approvals$/,
    role: 'viewer',
    handle: async ({context, query}) => ({
      approvals: await listApprovals(context.db, {
        state: oneOf(query.get('state'), ['pending', 'approved', 'denied', 'expired'] as const, 'state'),
        tenant: query.get('tenant') ?? undefined,
        text: query.get('q') ?? undefined,
        limit: numberOf(query.get('limit'), 'limit'),
      }),
    }),
  },
  {
    method: 'GET',
    path: new RegExp(`^/approvals/${ID}$`),
    role: 'viewer',
    handle: async ({context, params}) => getApproval(context.db, params[0]!),
  },
  {
    method: 'POST',
    path: new RegExp(`^/approvals/${ID}/decision$`),
    role: 'approver',
    action: 'approval.decide',
    schema: 'approval-decision',
    handle: async ({context, principal, params, body}) =>
      decideApproval(context.db, context.key, params[0]!, {
        decision: body['decision'] === 'approve' ? 'approved' : 'denied',
        by: principal.actor,
        comment: body['comment'] as string | undefined,
      }),
  },
  {
    method: 'GET',
    path: /^\/endpoints$/,
    role: 'viewer',
    handle: async ({context, query}) => ({
      endpoints: await listEndpoints(context.db, {
        tenant: query.get('tenant') ?? undefined,
        filter: oneOf(query.get('filter'), ['stale', 'drift', 'old-version', 'violations', 'policy-behind'] as const, 'filter') as
          EndpointFilter | undefined,
        minVersion: query.get('minVersion') ?? undefined,
        staleHours: numberOf(query.get('staleHours'), 'staleHours'),
      }),
    }),
  },
  {
    method: 'GET',
    path: /^\/violations$/,
    role: 'viewer',
    handle: async ({context, query}) => ({violations: await listViolations(context.db, query.get('endpoint') ?? undefined)}),
  },
  {
    method: 'GET',
    path: /^\/events$/,
    role: 'viewer',
    handle: async ({context, query, res}) => {
      const events = await searchEvents(context.db, {
        tenant: query.get('tenant') ?? undefined,
        endpoint: query.get('endpoint') ?? undefined,
        type: query.get('type') ?? undefined,
        tool: query.get('tool') ?? undefined,
        agent: query.get('agent') ?? undefined,
        decision: query.get('decision') ?? undefined,
        text: query.get('q') ?? undefined,
        since: dateOf(query.get('since'), 'since'),
        until: dateOf(query.get('until'), 'until'),
        limit: numberOf(query.get('limit'), 'limit'),
      });
      const format = oneOf(query.get('format'), ['json', 'jsonl', 'ocsf'] as const, 'format') ?? 'json';
      if (format === 'json') return {events};
      sendText(res, 200, 'application/x-ndjson; charset=utf-8', exportLines(events, format, thothVersion()), {
        'content-disposition': `attachment; filename="thoth-events.${format === 'ocsf' ? 'ocsf.jsonl' : 'jsonl'}"`,
      });
      return SENT;
    },
  },
  {
    method: 'GET',
    path: /^\/pins$/,
    role: 'viewer',
    handle: async ({context, query}) => ({
      reviews: await listPinReviews(context.db, oneOf(query.get('state'), ['pending', 'approved', 'rejected'] as const, 'state')),
    }),
  },
  {
    method: 'POST',
    path: new RegExp(`^/pins/${ID}/decision$`),
    role: 'admin',
    action: 'pin.decide',
    schema: 'pin-decision',
    handle: async ({context, principal, params, body}) =>
      decidePinReview(context.db, context.key, params[0]!, {
        decision: body['decision'] === 'approve' ? 'approved' : 'rejected',
        by: principal.actor,
        comment: body['comment'] as string | undefined,
      }),
  },
  {method: 'GET', path: /^\/users$/, role: 'admin', handle: async ({context}) => ({users: await listUsers(context.db)})},
  {
    method: 'POST',
    path: /^\/users$/,
    role: 'admin',
    action: 'user.create',
    schema: 'user-create',
    handle: async ({context, body}) => createUser(context.db, body['username'] as string, body['password'] as string, body['role'] as Role),
  },
  {
    method: 'PATCH',
    path: new RegExp(`^/users/([A-Za-z0-9._@-]{1,64})$`),
    role: 'admin',
    action: 'user.update',
    schema: 'user-update',
    handle: async ({context, params, body}) =>
      updateUser(context.db, params[0]!, body as {role?: Role; password?: string; disabled?: boolean}),
  },
  {
    method: 'GET',
    path: /^\/audit$/,
    role: 'admin',
    handle: async ({context, query}) => {
      const limit = Math.min(numberOf(query.get('limit'), 'limit') ?? 200, 5000);
      const rows = await context.db.query<{
        id: number;
        at: Date;
        actor: string;
        action: string;
        target: string | null;
        outcome: string;
        detail: unknown;
      }>(`select id, at, actor, action, target, outcome, detail from server_audit order by id desc limit ${limit}`);
      return {entries: rows.map((row) => ({...row, at: row.at.toISOString()}))};
    },
  },
];

/** A handler that wrote its own answer (a download). */
const SENT = Symbol('sent');

export async function handleAdminApi(
  context: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  query: URLSearchParams,
): Promise<void> {
  const method = req.method ?? 'GET';
  if (path === '/session' && method === 'POST') return loginRoute(context, req, res);
  if (path === '/session' && method === 'DELETE') {
    sendJson(res, 200, {loggedOut: true}, {'set-cookie': await logout(context.db, req)});
    return;
  }
  const principal = await authenticateAdmin(context, req);
  const wait = context.adminLimiter.take(`admin:${principal.actor}`);
  if (wait !== undefined) throw new HttpError('RATE_LIMITED', `too many admin requests; retry in ${wait} s`, wait);
  let params: string[] = [];
  const route = ROUTES.find((candidate) => {
    if (candidate.method !== method) return false;
    const match = candidate.path.exec(path);
    if (match) params = match.slice(1).map((value) => decodeURIComponent(value));
    return match !== null;
  });
  if (!route) throw new HttpError('NOT_FOUND', `no admin route ${method} ${ADMIN_PREFIX}${path}`);
  const target = params[0] ?? null;
  try {
    requireRole(principal, route.role);
    let body: Record<string, unknown> = {};
    if (route.schema !== undefined) {
      body = parseJsonBody(await readBody(req, BODY_LIMIT)) as Record<string, unknown>;
      const validate = context.validators.get(`server/${route.schema}`)!;
      if (!validate(body)) {
        const problems = (validate.errors ?? [])
          .slice(0, 5)
          .map((error) => `${error.instancePath || '/'} ${error.message ?? error.keyword}`);
        throw new HttpError(
          'INVALID_REQUEST',
          `the body does not follow schemas/server/${route.schema}.schema.json: ${problems.join('; ')}`,
        );
      }
    }
    if (route.action !== undefined) requireCsrf(principal, headerOf(req, 'x-csrf-token'));
    const result = await route.handle({context, req, res, principal, params, query, body});
    if (route.action !== undefined)
      await recordAdminAction(context.db, principal.actor, route.action, target, 'ok', auditDetail(route.action, body, result));
    if (result !== SENT) sendJson(res, 200, result);
  } catch (error) {
    if (route.action !== undefined) {
      const outcome = error instanceof HttpError && (error.code === 'FORBIDDEN' || error.code === 'UNAUTHENTICATED') ? 'refused' : 'failed';
      await recordAdminAction(context.db, principal.actor, route.action, target, outcome, {
        error: error instanceof HttpError ? error.code : 'INTERNAL',
        ...(error instanceof PolicyInvalid ? {problems: error.problems.length} : {}),
      }).catch(() => undefined);
    }
    throw error;
  }
}

async function loginRoute(context: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = parseJsonBody(await readBody(req, 16 * 1024)) as Record<string, unknown>;
  const validate = context.validators.get('server/login')!;
  if (!validate(body))
    throw new HttpError('INVALID_REQUEST', 'the body does not follow schemas/server/login.schema.json: {username, password}');
  const username = body['username'] as string;
  const address = req.socket.remoteAddress ?? 'unknown';
  const wait = context.addressLimiter.take(address) ?? context.loginLimiter.take(username);
  if (wait !== undefined) {
    await recordAdminAction(context.db, username, 'session.login', null, 'refused', {reason: 'rate limited', address});
    throw new HttpError('RATE_LIMITED', `too many login attempts; retry in ${wait} s`, wait);
  }
  try {
    const session = await login(context.db, username, body['password'] as string);
    await recordAdminAction(context.db, session.username, 'session.login', null, 'ok', {address});
    sendJson(res, 200, {username: session.username, role: session.role, csrfToken: session.csrfToken}, {'set-cookie': session.cookie});
  } catch (error) {
    await recordAdminAction(context.db, username, 'session.login', null, 'refused', {address});
    throw error;
  }
}

function whoami(principal: Principal): Record<string, unknown> {
  return {
    actor: principal.actor,
    role: principal.role,
    via: principal.via,
    ...(principal.csrfToken ? {csrfToken: principal.csrfToken} : {}),
  };
}

/** What the audit log keeps of a change: never a password, key or policy text. */
function auditDetail(action: string, body: Record<string, unknown>, result: unknown): Record<string, unknown> {
  const out = result as Record<string, unknown>;
  switch (action) {
    case 'tenant.create':
    case 'key.rotate':
      return {
        keyId: out['keyId'],
        fingerprint: out['fingerprint'],
        ...(body['graceSeconds'] !== undefined ? {graceSeconds: body['graceSeconds']} : {}),
      };
    case 'key.revoke':
      return {revoked: out['revoked']};
    case 'policy.upload':
      return {version: out['version']};
    case 'approval.decide':
    case 'pin.decide':
      return {decision: body['decision'], ...(body['comment'] !== undefined ? {comment: body['comment']} : {}), tool: out['tool']};
    case 'user.create':
      return {username: body['username'], role: body['role']};
    case 'user.update':
      return {
        ...(body['role'] !== undefined ? {role: body['role']} : {}),
        ...(body['disabled'] !== undefined ? {disabled: body['disabled']} : {}),
        ...(body['password'] !== undefined ? {passwordChanged: true} : {}),
      };
    default:
      return {};
  }
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function oneOf<T extends string>(value: string | null, allowed: readonly T[], name: string): T | undefined {
  if (value === null || value === '') return undefined;
  if (!(allowed as readonly string[]).includes(value))
    throw new HttpError('INVALID_REQUEST', `${name} must be one of ${allowed.join(', ')}`);
  return value as T;
}

function numberOf(value: string | null, name: string): number | undefined {
  if (value === null || value === '') return undefined;
  if (!/^\d{1,9}$/.test(value)) throw new HttpError('INVALID_REQUEST', `${name} must be a non-negative integer`);
  return Number(value);
}

function dateOf(value: string | null, name: string): string | undefined {
  if (value === null || value === '') return undefined;
  if (Number.isNaN(Date.parse(value))) throw new HttpError('INVALID_REQUEST', `${name} must be an ISO date-time`);
  return value;
}
