import type {IncomingMessage} from 'node:http';

import {
  API_KEY_HEADER,
  ROUTES,
  type CheckinRequest,
  type CheckinResponse,
  type EnforceRequest,
  type EnforceResponse,
  type EventBatchRequest,
  type HoldWaitRequest,
  type RegisterRequest,
  type RegisterResponse,
  type RouteName,
} from '../control-plane/contract.js';
import {canonicalJson, sha256Hex} from '../core/canonical-json.js';
import {parseJson} from '../core/json-rpc.js';
import {openHold, spendApproval, waitForHold} from './approvals.js';
import {decideCentrally} from './central-policy.js';
import type {ServerContext} from './context.js';
import {storeEventBatch} from './events.js';
import {HttpError, bearerToken, parseJsonBody, readBody} from './http.js';
import {pinDecisionsFor} from './fleet-pins.js';
import {authenticateKey, type Tenant} from './tenants.js';

/** Body limits per route: a batch is at most 1000 events (the shipper sends ≤ 1 MiB); the enforcer sees whole arguments. */
const BODY_LIMITS: Record<RouteName, number> = {
  register: 64 * 1024,
  checkin: 64 * 1024,
  eventBatch: 8 * 1024 * 1024,
  enforce: 8 * 1024 * 1024,
  holdWait: 16 * 1024,
};

export const CONTRACT_PATHS = new Map<string, RouteName>(
  (Object.keys(ROUTES) as RouteName[]).map((name) => [ROUTES[name].path, name] as const),
);

/**
 * One contract route: authenticate the endpoint's API key (bearer, or x-api-key for GovAPI),
 * apply its rate limit, read a bounded body, validate it against the route's request schema (the
 * same schema thoth validates its answers against), check the tenant, and answer; the answer is
 * validated against the response schema before it leaves (a server that broke the contract would
 * have every endpoint treat it as down).
 */
export async function handleContract(
  context: ServerContext,
  route: RouteName,
  req: IncomingMessage,
  signal: AbortSignal,
): Promise<unknown> {
  const apiKey = bearerToken(req) ?? headerValue(req.headers[API_KEY_HEADER]);
  if (apiKey === undefined) throw new HttpError('UNAUTHENTICATED', 'an API key is required (authorization: Bearer <key>)');
  const tenant = await authenticateKey(context.db, apiKey);
  const wait = context.keyLimiter.take(tenant.keyId);
  if (wait !== undefined) throw new HttpError('RATE_LIMITED', `too many requests with this API key; retry in ${wait} s`, wait);
  const raw = await readBody(req, BODY_LIMITS[route]);
  // Arguments are parsed keeping integers beyond 2^53, so that their canonical hash is the endpoint's.
  const body = parseJsonBody(raw, route === 'enforce' ? parseJson : JSON.parse);
  const validate = context.validators.get(ROUTES[route].request)!;
  if (!validate(body)) {
    const problems = (validate.errors ?? []).slice(0, 5).map((error) => `${error.instancePath || '/'} ${error.message ?? error.keyword}`);
    throw new HttpError('INVALID_REQUEST', `the body does not follow ${ROUTES[route].request}.schema.json: ${problems.join('; ')}`);
  }
  const tenantId = (body as {tenantId?: string | null}).tenantId;
  if (tenantId !== undefined && tenantId !== null && tenantId !== tenant.name) {
    throw new HttpError('FORBIDDEN', `the API key belongs to tenant "${tenant.name}", not "${tenantId}"`);
  }
  const answer = await ROUTE_HANDLERS[route](context, tenant, body as never, raw, signal);
  const check = context.validators.get(ROUTES[route].response)!;
  if (!check(answer)) {
    context.log(`server: the answer to ${route} broke ${ROUTES[route].response}: ${JSON.stringify(check.errors?.slice(0, 3))}`);
    throw new HttpError('INTERNAL', 'the server could not form a valid answer');
  }
  return answer;
}

type Handler<B> = (context: ServerContext, tenant: Tenant, body: B, raw: Buffer, signal: AbortSignal) => Promise<unknown>;

const ROUTE_HANDLERS: {[R in RouteName]: Handler<never>} = {
  register: register as Handler<never>,
  checkin: checkin as Handler<never>,
  eventBatch: ((context, tenant, body: EventBatchRequest) => storeEventBatch(context, tenant, body)) as Handler<never>,
  enforce: enforce as Handler<never>,
  holdWait: ((context, tenant, body: HoldWaitRequest, _raw, signal) =>
    waitForHold(context.db, context.waiters, tenant.id, body, signal)) as Handler<never>,
};

async function register(context: ServerContext, tenant: Tenant, body: RegisterRequest): Promise<RegisterResponse> {
  const rows = await context.db.query<{enrolled_at: Date; created: boolean}>(
    `insert into endpoints (tenant_id, endpoint_id, identity_source, fleet_id, hostname, os, thoth_version, enrollment_source, user_id, governed,
        enrolled_at, registered_at)
     values ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10::jsonb, now(), now())
     on conflict (tenant_id, endpoint_id) do update set identity_source = excluded.identity_source, fleet_id = excluded.fleet_id,
        hostname = excluded.hostname, os = excluded.os, thoth_version = excluded.thoth_version, enrollment_source = excluded.enrollment_source,
        user_id = excluded.user_id, governed = excluded.governed, registered_at = now()
     returning enrolled_at, (xmax = 0) as created`,
    [
      tenant.id,
      body.endpointId,
      body.identitySource,
      body.fleetId,
      body.hostname,
      JSON.stringify(body.os),
      body.thothVersion,
      body.enrollmentSource,
      body.userId,
      body.governedServers === null ? null : JSON.stringify(body.governedServers),
    ],
  );
  const row = rows[0]!;
  const answer: RegisterResponse & {serverKey: {algorithm: 'ed25519'; keyId: string; publicKey: string}} = {
    endpointId: body.endpointId,
    status: 'enrolled',
    created: row.created,
    enrolledAt: row.enrolled_at.toISOString(),
    fleetId: body.fleetId,
    serverKey: {algorithm: 'ed25519', keyId: context.key.keyId, publicKey: context.key.publicKey},
  };
  if (context.checkinIntervalSeconds !== undefined) answer.checkinIntervalSeconds = context.checkinIntervalSeconds;
  return answer;
}

async function checkin(context: ServerContext, tenant: Tenant, body: CheckinRequest): Promise<CheckinResponse> {
  const policy = await context.policies.current(tenant.id);
  const rows = await context.db.query(
    `update endpoints set last_seen_at = now(), last_sequence = $3, thoth_version = $4, fleet_id = $5,
        governed = coalesce($6::jsonb, governed), policy_version = $7
     where tenant_id = $1 and endpoint_id = $2 returning 1`,
    [
      tenant.id,
      body.endpointId,
      body.sequence,
      body.thothVersion,
      body.fleetId,
      body.governedServers === null ? null : JSON.stringify(body.governedServers),
      policy?.version ?? null,
    ],
  );
  if (rows.length === 0) throw new HttpError('ENDPOINT_NOT_REGISTERED', `endpoint ${body.endpointId} is not registered`);
  const answer: CheckinResponse & Record<string, unknown> = {
    receivedAt: new Date().toISOString(),
    policy: policy ? {version: policy.version} : null,
    pinDecisions: await pinDecisionsFor(context.db, tenant.id),
  };
  if (context.checkinIntervalSeconds !== undefined) answer.nextCheckinSeconds = context.checkinIntervalSeconds;
  return answer;
}

async function enforce(context: ServerContext, tenant: Tenant, body: EnforceRequest): Promise<EnforceResponse> {
  const argumentsJson = canonicalJson(body.arguments);
  if (sha256Hex(argumentsJson) !== body.argumentsSha256) {
    throw new HttpError('INVALID_REQUEST', 'argumentsSha256 is not the SHA-256 of the canonical JSON of the arguments');
  }
  const spent = await spendApproval(context.db, tenant.id, body);
  if (spent) {
    const answer: EnforceResponse & Record<string, unknown> = {
      decision: 'allow',
      reason: `approved in the control plane by ${spent.decidedBy ?? 'an approver'} (approval ${spent.id})`,
      ruleId: `approval:${spent.id}`,
    };
    if (spent.grant) answer['grant'] = spent.grant;
    return answer;
  }
  const policy = await context.policies.current(tenant.id);
  const central = decideCentrally(policy, body, argumentsJson, Date.now());
  // A step-up the endpoint's own policy asked for is approved centrally too (THOTH_CLI_APPROVALS=off then loses nothing).
  const decision =
    central.decision === 'allow' && body.local.decision === 'step_up'
      ? {
          decision: 'step_up' as const,
          ruleId: `endpoint:${body.local.ruleId}`.slice(0, 256),
          reason: `the endpoint's policy asks for approval (${body.local.ruleId})`,
        }
      : central;
  const answer: EnforceResponse = {
    decision: decision.decision,
    reason: decision.reason.slice(0, 2000) || decision.decision,
    ruleId: decision.ruleId.slice(0, 256),
  };
  if (decision.decision === 'step_up') {
    answer.approval = await openHold(context.db, {
      tenantId: tenant.id,
      request: body,
      decision,
      policyVersion: policy?.version ?? null,
      ttlMs: policy?.approvals.ttlMs ?? 600_000,
      publicUrl: context.publicUrl,
    });
  }
  return answer;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
