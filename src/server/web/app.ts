import type {IncomingMessage, ServerResponse} from 'node:http';

import {authenticateAdmin, login, logout, recordAdminAction, requireCsrf, requireRole, type Principal} from '../admin-auth.js';
import {decideApproval, listApprovals, type ApprovalView} from '../approvals.js';
import type {ServerContext} from '../context.js';
import {HttpError, readBody, sendText} from '../http.js';

/**
 * The admin web app: server-rendered pages, no framework, nothing from a CDN (it works offline),
 * plain HTML forms that work without JavaScript; one small script (served from here, allowed by
 * the content security policy) refreshes the queue every second so a held call appears live.
 */
export function isWebAppPath(path: string): boolean {
  return path === '/' || path.startsWith('/ui/') || path.startsWith('/approvals/');
}

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

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
    const form = await readForm(req);
    const choice = form.get('decision');
    try {
      requireRole(principal, 'approver');
      requireCsrf(principal, form.get('_csrf') ?? undefined);
      if (choice !== 'approve' && choice !== 'deny') throw new HttpError('INVALID_REQUEST', 'decision must be approve or deny');
      const comment = (form.get('comment') ?? '').slice(0, 2000) || undefined;
      await decideApproval(context.db, context.key, decision[1]!, {
        decision: choice === 'approve' ? 'approved' : 'denied',
        by: principal.actor,
        comment,
      });
      await recordAdminAction(context.db, principal.actor, 'approval.decide', decision[1]!, 'ok', {
        decision: choice,
        via: 'web',
        ...(comment ? {comment} : {}),
      });
    } catch (error) {
      await recordAdminAction(
        context.db,
        principal.actor,
        'approval.decide',
        decision[1]!,
        error instanceof HttpError && error.code === 'FORBIDDEN' ? 'refused' : 'failed',
        {via: 'web'},
      );
      throw error;
    }
    res.writeHead(303, {location: '/'});
    res.end();
    return;
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

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  return new URLSearchParams((await readBody(req, 64 * 1024)).toString('utf8'));
}

function page(res: ServerResponse, title: string, body: string, status = 200): void {
  sendText(
    res,
    status,
    'text/html; charset=utf-8',
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escape(title)} · thoth server</title><link rel="stylesheet" href="/ui/app.css"></head><body><main>${body}</main><script src="/ui/app.js"></script></body></html>`,
    {'content-security-policy': CSP},
  );
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
  return `<header><h1>Approvals</h1><p>${escape(principal.actor)} (${principal.role})</p>
<form method="post" action="/ui/logout"><input type="hidden" name="_csrf" value="${escape(csrf)}"><button type="submit">Log out</button></form></header>
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
<dt>Rule</dt><dd>${escape(a.ruleId)}</dd><dt>Reason</dt><dd>${escape(a.reason)}</dd><dt>Expires</dt><dd><time datetime="${escape(a.expiresAt)}">${escape(a.expiresAt)}</time></dd></dl>
<pre class="arguments" aria-label="Arguments (redacted)">${escape(JSON.stringify(a.arguments, null, 2) ?? '')}</pre>
${
  canDecide
    ? `<form method="post" action="/ui/approvals/${encodeURIComponent(a.id)}/decision"><input type="hidden" name="_csrf" value="${escape(principal.csrfToken ?? '')}">
<label for="c-${escape(a.id)}">Comment (optional)</label><input id="c-${escape(a.id)}" name="comment" maxlength="2000">
<button type="submit" name="decision" value="approve">Approve</button> <button type="submit" name="decision" value="deny">Deny</button></form>`
    : ''
}</article>`,
    )
    .join('\n');
}

/** Every value a page shows comes from endpoints or people: escaped. */
function escape(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** Refreshes the queue every second (only when no one is typing a comment in it). */
const SCRIPT = `'use strict';
(() => {
  const queue = document.getElementById('queue');
  if (!queue) return;
  const refresh = async () => {
    if (queue.contains(document.activeElement) && document.activeElement.tagName === 'INPUT') return;
    try {
      const answer = await fetch('/ui/queue', {credentials: 'same-origin', cache: 'no-store'});
      if (answer.ok) queue.innerHTML = await answer.text();
    } catch (error) {
      // Offline for a moment: the next round tries again.
    }
  };
  setInterval(refresh, 1000);
})();
`;

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#111;background:#fafafa}main{max-width:72rem;margin:0 auto;padding:1rem 2rem}
header{display:flex;gap:1rem;align-items:baseline;justify-content:space-between}h1{font-size:1.6rem}
.approval{background:#fff;border:1px solid #ccc;border-radius:6px;padding:1rem;margin:1rem 0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{font-weight:600}pre{background:#f3f3f3;padding:.5rem;overflow:auto;max-height:20rem}
label{display:block;font-weight:600;margin-top:.5rem}input{font:inherit;padding:.3rem;min-width:18rem}button{font:inherit;padding:.4rem 1rem;margin-top:.5rem}
button:focus,input:focus{outline:3px solid #1a5fb4;outline-offset:2px}.problem{color:#a00}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem;border-bottom:1px solid #ddd}
.login{max-width:24rem}`;
