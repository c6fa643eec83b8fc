import {formatPolicyProblem, parsePolicyText} from '../policy/load.js';
import {decide} from '../policy/engine.js';
import type {CompiledPolicy, PolicyProblem} from '../policy/model.js';
import type {Decision, ToolCall} from '../core/decision.js';
import type {EnforceRequest} from '../control-plane/contract.js';
import type {Queryable} from './store/database.js';
import {HttpError} from './http.js';
import {tenantByName} from './tenants.js';

/**
 * The central policy of a tenant: the same document, schema and compiler as a local policy
 * (`thoth policy validate` gives the same errors), decided by the same engine. What differs on
 * the server, and why:
 * - paths are compared as written (`~` read as one fixed home): the server must never look at
 *   its own file system for an endpoint's path, and it cannot see the endpoint's; the embedded
 *   enforcer on the endpoint keeps the link-aware checks and thoth's own files;
 * - an agent with no mode and no approved scope in the central policy defers to the endpoint: a
 *   call no central rule matches is allowed centrally (the endpoint's own decision still counts,
 *   the more restrictive wins), rather than every call being stepped up;
 * - the endpoint's `observe` mode is not honoured centrally (observe must not switch off a
 *   central block); progressive mode has no baseline here and steps up out-of-scope calls;
 * - a session intent the central policy does not define is left to the endpoint.
 */
export interface PolicyUpload {
  version: string;
  rules: number;
  agents: string[];
}

export type PolicyCheck = {ok: true; policy: CompiledPolicy} | {ok: false; problems: Array<PolicyProblem & {text: string}>};

/** Compile options for the server: no file system, posix paths, a fixed home. */
const CENTRAL_COMPILE = {paths: {links: undefined, home: '/~', cwd: '/', flavour: 'posix' as const}, platform: 'linux' as const};

export async function checkPolicyText(text: string, name: string): Promise<PolicyCheck> {
  const loaded = await parsePolicyText(text, {kind: 'flag', path: name}, CENTRAL_COMPILE);
  if (!loaded.ok)
    return {ok: false, problems: loaded.failure.problems.map((problem) => ({...problem, text: formatPolicyProblem(problem)}))};
  return {ok: true, policy: loaded.policy};
}

export async function uploadPolicy(db: Queryable, tenantId: string, text: string, name: string, actor: string): Promise<PolicyUpload> {
  const checked = await checkPolicyText(text, name);
  if (!checked.ok) throw new PolicyInvalid(checked.problems);
  await db.query('insert into policies (tenant_id, version, source, uploaded_by) values ($1, $2, $3, $4)', [
    tenantId,
    checked.policy.version,
    text,
    actor,
  ]);
  return {version: checked.policy.version, rules: checked.policy.ruleCount, agents: [...checked.policy.agentNames]};
}

export interface PolicyOverview {
  tenant: string;
  current: {version: string; source: string; uploadedBy: string; uploadedAt: string} | null;
  history: Array<{version: string; uploadedBy: string; uploadedAt: string}>;
  /** Which endpoints run which version (as their last check-in was told). */
  endpointsByVersion: Array<{version: string | null; endpoints: number}>;
}

/** A tenant's central policy: the current one with its text, the last 20 versions, and who runs which. */
export async function policyOverview(db: Queryable, tenantName: string): Promise<PolicyOverview> {
  const tenant = await tenantByName(db, tenantName);
  const rows = await db.query<{id: number; version: string; source: string; uploaded_by: string; uploaded_at: Date}>(
    'select id, version, source, uploaded_by, uploaded_at from policies where tenant_id = $1 order by id desc limit 20',
    [tenant.id],
  );
  const running = await db.query<{policy_version: string | null; endpoints: number}>(
    'select policy_version, count(*) as endpoints from endpoints where tenant_id = $1 group by policy_version order by endpoints desc',
    [tenant.id],
  );
  const current = rows[0];
  return {
    tenant: tenant.name,
    current: current
      ? {version: current.version, source: current.source, uploadedBy: current.uploaded_by, uploadedAt: current.uploaded_at.toISOString()}
      : null,
    history: rows.map((row) => ({version: row.version, uploadedBy: row.uploaded_by, uploadedAt: row.uploaded_at.toISOString()})),
    endpointsByVersion: running.map((row) => ({version: row.policy_version, endpoints: Number(row.endpoints)})),
  };
}

export class PolicyInvalid extends HttpError {
  constructor(readonly problems: Array<PolicyProblem & {text: string}>) {
    super('INVALID_REQUEST', `the policy is not valid: ${problems.map((problem) => problem.text).join('; ')}`);
  }
}

/**
 * The tenants' current policies, compiled once per version and re-checked at most every
 * `refreshMs` (another instance may have uploaded a newer one).
 */
export class PolicyCache {
  private readonly entries = new Map<string, {checkedAt: number; id: number | undefined; policy: CompiledPolicy | undefined}>();

  constructor(
    private readonly db: Queryable,
    private readonly refreshMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  async current(tenantId: string): Promise<CompiledPolicy | undefined> {
    const cached = this.entries.get(tenantId);
    if (cached && this.now() - cached.checkedAt < this.refreshMs) return cached.policy;
    const rows = await this.db.query<{id: number; source: string}>(
      'select id, source from policies where tenant_id = $1 order by id desc limit 1',
      [tenantId],
    );
    const row = rows[0];
    if (cached && row?.id === cached.id) {
      cached.checkedAt = this.now();
      return cached.policy;
    }
    let policy: CompiledPolicy | undefined;
    if (row) {
      const checked = await checkPolicyText(row.source, `central policy ${row.id}`);
      // Stored policies were valid when uploaded; one this build cannot compile is refused at decision time (fail closed).
      if (!checked.ok)
        throw new HttpError('INTERNAL', `the central policy ${row.id} does not compile with this server: ${checked.problems[0]?.text}`);
      policy = checked.policy;
    }
    this.entries.set(tenantId, {checkedAt: this.now(), id: row?.id, policy});
    return policy;
  }

  forget(tenantId: string): void {
    this.entries.delete(tenantId);
  }
}

/** The central decision for one enforce request. */
export function decideCentrally(
  policy: CompiledPolicy | undefined,
  request: EnforceRequest,
  argumentsJson: string,
  nowMs: number,
): Decision {
  if (!policy) {
    return {decision: 'allow', ruleId: 'central:no-policy', reason: 'no central policy is uploaded for this tenant; the endpoint decides'};
  }
  const agent = policy.agent(request.agentId);
  const call: ToolCall = {name: request.tool, arguments: request.arguments, argumentsJson};
  const defers = agent.mode === undefined && !agent.scopeDeclared;
  // The central policy's own mode first (its observe is honoured); the endpoint's observe is not.
  const mode = agent.mode ?? (defers ? 'block' : request.mode === 'observe' ? 'step_up' : request.mode);
  const intent = request.intent !== null && policy.intents.has(request.intent) ? request.intent : undefined;
  const decision = decide(policy, {
    call,
    agentId: request.agentId,
    mode,
    intent,
    nowMs,
    fingerprint: () => `${request.tool}\u0000${request.argumentsSha256}`,
  });
  if (defers && decision.ruleId === 'mode:block') {
    return {
      decision: 'allow',
      ruleId: 'central:no-rule',
      reason: `no rule of the central policy (${policy.version}) applies; the endpoint decides`,
    };
  }
  return decision;
}
