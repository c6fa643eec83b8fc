import type {IncomingMessage, ServerResponse} from 'node:http';

import {authenticateAdmin, login, logout, recordAdminAction, requireCsrf, requireRole, type Principal, type Role} from '../admin-auth.js';
import {decideApproval, listApprovals, type ApprovalView} from '../approvals.js';
import {PolicyInvalid, policyOverview, uploadPolicy} from '../central-policy.js';
import type {ServerContext} from '../context.js';
import {searchEvents} from '../event-search.js';
import {decidePinReview, listPinReviews} from '../fleet-pins.js';
import {listEndpoints, type EndpointFilter} from '../fleet-view.js';
import {HttpError, readBody, sendText} from '../http.js';
import {listTenants, tenantByName} from '../tenants.js';
import {CSP, SCRIPT, STYLE, csrfField, escape, header, page, time} from './html.js';
import {FLEET_FILTERS, eventsPage, fleetPage, pinsPage, policyPage} from './pages.js';

/**
 * The admin web app: server-rendered pages, no framework, nothing from a CDN (it works offline),
 * plain HTML forms that work without JavaScript; one small script (served from here, allowed by
 * the content security policy) refreshes the queue every second so a held call appears live.
 */
export function isWebAppPath(path: string): boolean {
  return path === '/' || path.startsWith('/ui/') || path.startsWith('/approvals/');
}

export async function handleWebApp(
  context: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  _signal: AbortSignal,
): Promise<void> {
  const path = url.pathname;
  if (path === '/ui/app.js') return sendText(res, 200, 'text/javascript; charset=utf-8', SCRIPT, {'content-security-policy': CSP});
  if (path === '/ui/app.css') return sendText(res, 200, 'text/css; charset=utf-8', STYLE, {'content-security-policy': CSP});
  if (path === '/ui/login' && req.method === 'POST') return loginForm(context, req, res);
  let principal: Principal;
  try {
    principal = await authenticateAdmin(context, req);
  } catch (error) {
    if (error instanceof HttpError && error.code === 'UNAUTHENTICATED') return page(res, 'Log in', loginPage());
    throw error;
  }
  if (path === '/ui/logout' && req.method === 'POST') {
    const form = await readForm(req);
    requireCsrf(principal, form.get('_csrf') ?? undefined);
    res.writeHead(303, {location: '/', 'set-cookie': await logout(context.db, req)});
    res.end();
    return;
  }
  const decision = /^\/ui\/approvals\/([A-Za-z0-9_-]{1,128})\/decision$/.exec(path);
  if (decision && req.method === 'POST') {
    await decideFromForm(
      context,
      req,
      principal,
      {role: 'approver', action: 'approval.decide', target: decision[1]!, choices: ['approve', 'deny']},
      (choice, comment) =>
        decideApproval(context.db, context.key, decision[1]!, {
          decision: choice === 'approve' ? 'approved' : 'denied',
          by: principal.actor,
          comment,
        }),
    );
    res.writeHead(303, {location: '/'});
    res.end();
    return;
  }
  const pinDecision = /^\/ui\/pins\/([A-Za-z0-9_-]{1,128})\/decision$/.exec(path);
  if (pinDecision && req.method === 'POST') {
    await decideFromForm(
      context,
      req,
      principal,
      {role: 'admin', action: 'pin.decide', target: pinDecision[1]!, choices: ['approve', 'reject']},
      (choice, comment) =>
        decidePinReview(context.db, context.key, pinDecision[1]!, {
          decision: choice === 'approve' ? 'approved' : 'rejected',
          by: principal.actor,
          comment,
        }),
    );
    res.writeHead(303, {location: '/ui/pins'});
    res.end();
    return;
  }
  if (path === '/ui/fleet' && req.method === 'GET') {
    const chosen = url.searchParams.get('filter') ?? '';
    const filter = FLEET_FILTERS.some(([value]) => value === chosen) && chosen !== '' ? (chosen as EndpointFilter) : undefined;
    return page(res, 'Fleet', fleetPage(principal, await listEndpoints(context.db, {filter}), filter));
  }
  if (path === '/ui/policy') return policyRoute(context, req, res, url, principal);
  if (path === '/ui/events' && req.method === 'GET') {
    const get = (name: string) => url.searchParams.get(name)?.slice(0, 512) || undefined;
    const events = await searchEvents(context.db, {
      text: get('q'),
      endpoint: get('endpoint'),
      type: get('type'),
      tool: get('tool'),
      agent: get('agent'),
      decision: get('decision'),
      limit: 200,
    });
    return page(res, 'Events', eventsPage(principal, url.searchParams, events));
  }
  if (path === '/ui/pins' && req.method === 'GET') {
    const reviews = await listPinReviews(context.db);
    return page(
      res,
      'Fleet pins',
      pinsPage(
        principal,
        reviews.filter((review) => review.state === 'pending'),
        reviews.filter((review) => review.state !== 'pending'),
      ),
    );
  }
  if (path.startsWith('/approvals/') && req.method === 'GET') {
    // The link an endpoint shows (approvalUrl): the queue, where the approval is.
    res.writeHead(303, {location: '/'});
    res.end();
    return;
  }
  if (path === '/ui/queue' && req.method === 'GET') {
    return sendText(res, 200, 'text/html; charset=utf-8', queueRows(await listApprovals(context.db, {state: 'pending'}), principal), {
      'content-security-policy': CSP,
    });
  }
  if (path === '/' && req.method === 'GET') {
    const pending = await listApprovals(context.db, {state: 'pending'});
    const recent = (await listApprovals(context.db, {limit: 20})).filter((approval) => approval.state !== 'pending');
    return page(res, 'Approvals', queuePage(principal, pending, recent));
  }
  throw new HttpError('NOT_FOUND', `no page ${path}`);
}

async function loginForm(context: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const form = await readForm(req);
  const username = (form.get('username') ?? '').slice(0, 64);
  const address = req.socket.remoteAddress ?? 'unknown';
  const wait = context.addressLimiter.take(address) ?? context.loginLimiter.take(username);
  if (wait !== undefined) return page(res, 'Log in', loginPage(`Too many attempts; try again in ${wait} s.`), 429);
  try {
    const session = await login(context.db, username, form.get('password') ?? '');
    await recordAdminAction(context.db, session.username, 'session.login', null, 'ok', {address, via: 'web'});
    res.writeHead(303, {location: '/', 'set-cookie': session.cookie});
    res.end();
  } catch (error) {
    await recordAdminAction(context.db, username || '-', 'session.login', null, 'refused', {address, via: 'web'});
    if (error instanceof HttpError && error.code === 'UNAUTHENTICATED')
      return page(res, 'Log in', loginPage('Wrong user name or password.'), 401);
    throw error;
  }
}

/** A decision posted by a form (approval or fleet pin): role, CSRF, the choice, recorded in the server's audit log either way. */
async function decideFromForm(
  context: ServerContext,
  req: IncomingMessage,
  principal: Principal,
  what: {role: Role; action: string; target: string; choices: readonly [string, string]},
  decide: (choice: string, comment: string | undefined) => Promise<unknown>,
): Promise<void> {
  const form = await readForm(req);
  const choice = form.get('decision') ?? '';
  try {
    requireRole(principal, what.role);
    requireCsrf(principal, form.get('_csrf') ?? undefined);
    if (!what.choices.includes(choice)) throw new HttpError('INVALID_REQUEST', `decision must be ${what.choices.join(' or ')}`);
    const comment = (form.get('comment') ?? '').slice(0, 2000) || undefined;
    await decide(choice, comment);
    await recordAdminAction(context.db, principal.actor, what.action, what.target, 'ok', {
      decision: choice,
      via: 'web',
      ...(comment ? {comment} : {}),
    });
  } catch (error) {
    await recordAdminAction(
      context.db,
      principal.actor,
      what.action,
      what.target,
      error instanceof HttpError && error.code === 'FORBIDDEN' ? 'refused' : 'failed',
      {via: 'web'},
    );
    throw error;
  }
}

async function policyRoute(
  context: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  principal: Principal,
): Promise<void> {
  const tenants = await listTenants(context.db);
  const name = url.searchParams.get('tenant') ?? (tenants.length === 1 ? tenants[0]!.name : undefined);
  if (name === undefined) return page(res, 'Policy', policyPage(principal, tenants, undefined));
  if (req.method === 'POST') {
    const form = await readForm(req, 1024 * 1024);
    const source = form.get('source') ?? '';
    try {
      requireRole(principal, 'admin');
      requireCsrf(principal, form.get('_csrf') ?? undefined);
      const tenant = await tenantByName(context.db, name);
      const uploaded = await uploadPolicy(context.db, tenant.id, source, 'policy.json', principal.actor);
      context.policies.forget(tenant.id);
      await recordAdminAction(context.db, principal.actor, 'policy.upload', name, 'ok', {version: uploaded.version, via: 'web'});
      res.writeHead(303, {location: `/ui/policy?tenant=${encodeURIComponent(name)}&uploaded=${encodeURIComponent(uploaded.version)}`});
      res.end();
      return;
    } catch (error) {
      const outcome = error instanceof HttpError && error.code === 'FORBIDDEN' ? 'refused' : 'failed';
      await recordAdminAction(context.db, principal.actor, 'policy.upload', name, outcome, {via: 'web'});
      if (!(error instanceof PolicyInvalid)) throw error;
      const problems = error.problems.map((problem) => problem.text);
      return page(res, 'Policy', policyPage(principal, tenants, await policyOverview(context.db, name), {problems, source}), 400);
    }
  }
  if (req.method !== 'GET') throw new HttpError('NOT_FOUND', `/ui/policy takes GET or POST`);
  const uploaded = url.searchParams.get('uploaded') ?? undefined;
  return page(res, 'Policy', policyPage(principal, tenants, await policyOverview(context.db, name), uploaded ? {uploaded} : {}));
}

async function readForm(req: IncomingMessage, limit = 64 * 1024): Promise<URLSearchParams> {
  return new URLSearchParams((await readBody(req, limit)).toString('utf8'));
}

function loginPage(problem?: string): string {
  return `<h1>thoth server</h1>${problem ? `<p role="alert" class="problem">${escape(problem)}</p>` : ''}
<form method="post" action="/ui/login" class="login">
<label for="username">User name</label><input id="username" name="username" autocomplete="username" required>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Log in</button></form>`;
}

function queuePage(principal: Principal, pending: ApprovalView[], recent: ApprovalView[]): string {
  const csrf = principal.csrfToken ?? '';
  return `${header(principal, 'Approvals', '/')}
<section aria-labelledby="queue-title"><h2 id="queue-title">Waiting for a decision</h2>
<div id="queue" aria-live="polite" data-csrf="${escape(csrf)}">${queueRows(pending, principal)}</div></section>
<section aria-labelledby="recent-title"><h2 id="recent-title">Decided recently</h2><table><thead><tr><th scope="col">Tool</th><th scope="col">Agent</th><th scope="col">Endpoint</th><th scope="col">State</th><th scope="col">By</th><th scope="col">Comment</th></tr></thead><tbody>
${recent.map((a) => `<tr><td>${escape(a.tool)}</td><td>${escape(a.agentId)}</td><td>${escape(a.endpointId)}</td><td>${escape(a.state)}</td><td>${escape(a.decidedBy ?? '')}</td><td>${escape(a.comment ?? '')}</td></tr>`).join('\n')}
</tbody></table></section>`;
}

function queueRows(pending: ApprovalView[], principal: Principal): string {
  if (pending.length === 0) return '<p class="empty">No held call is waiting.</p>';
  const canDecide = principal.role !== 'viewer';
  return pending
    .map(
      (a) => `<article class="approval" data-approval-id="${escape(a.id)}" aria-labelledby="t-${escape(a.id)}">
<h3 id="t-${escape(a.id)}">${escape(a.tool)} <span class="agent">by ${escape(a.agentId)}</span></h3>
<dl><dt>Endpoint</dt><dd>${escape(a.endpointId)}</dd><dt>User</dt><dd>${escape(a.userId ?? '-')}</dd><dt>Intent</dt><dd>${escape(a.intent ?? '-')}</dd>
<dt>Rule</dt><dd>${escape(a.ruleId)}</dd><dt>Reason</dt><dd>${escape(a.reason)}</dd><dt>Expires</dt><dd>${time(a.expiresAt)}</dd></dl>
<pre class="arguments" aria-label="Arguments (redacted)">${escape(JSON.stringify(a.arguments, null, 2) ?? '')}</pre>
${
  canDecide
    ? `<form method="post" action="/ui/approvals/${encodeURIComponent(a.id)}/decision">${csrfField(principal)}
<label for="c-${escape(a.id)}">Comment (optional)</label><input id="c-${escape(a.id)}" name="comment" maxlength="2000">
<button type="submit" name="decision" value="approve">Approve</button> <button type="submit" name="decision" value="deny">Deny</button></form>`
    : ''
}</article>`,
    )
    .join('\n');
}
