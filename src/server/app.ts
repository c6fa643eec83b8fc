import {randomUUID} from 'node:crypto';
import type {IncomingMessage, ServerResponse} from 'node:http';

import {ROUTES} from '../control-plane/contract.js';
import {errorMessage} from '../core/errors.js';
import {ADMIN_PREFIX, handleAdminApi} from './admin-api.js';
import type {ServerContext} from './context.js';
import {CONTRACT_PATHS, handleContract} from './contract-routes.js';
import {HttpError, sendError, sendJson} from './http.js';
import {handleWebApp, isWebAppPath} from './web/app.js';

/** Routes one request: the contract, the admin API, the web app, or 404 (every answer an error in the contract's schema or JSON). */
export function requestHandler(context: ServerContext): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const presented = req.headers['x-thoth-request-id'];
    const requestId = typeof presented === 'string' && /^[A-Za-z0-9-]{1,128}$/.test(presented) ? presented : randomUUID();
    const aborted = new AbortController();
    res.on('close', () => aborted.abort());
    dispatch(context, req, res, aborted.signal).catch((error: unknown) => {
      const refusal = error instanceof HttpError ? error : new HttpError('INTERNAL', 'the server failed to answer this request');
      if (!(error instanceof HttpError)) context.log(`server: ${req.method} ${pathOf(req)} failed: ${errorMessage(error)}`);
      if (!res.headersSent) sendError(res, refusal, requestId);
      else res.destroy();
    });
  };
}

async function dispatch(context: ServerContext, req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const url = new URL(req.url ?? '/', 'https://thoth.invalid');
  const path = url.pathname;
  const route = CONTRACT_PATHS.get(path);
  if (route !== undefined) {
    if (req.method !== ROUTES[route].method) throw new HttpError('NOT_FOUND', `${path} takes ${ROUTES[route].method}`);
    const answer = await handleContract(context, route, req, signal);
    sendJson(res, 200, answer);
    return;
  }
  if (path === ADMIN_PREFIX || path.startsWith(`${ADMIN_PREFIX}/`)) {
    await handleAdminApi(context, req, res, path.slice(ADMIN_PREFIX.length) || '/', url.searchParams);
    return;
  }
  if (path === '/healthz' && req.method === 'GET') {
    await context.db.query('select 1');
    sendJson(res, 200, {ok: true});
    return;
  }
  if (isWebAppPath(path)) {
    await handleWebApp(context, req, res, url, signal);
    return;
  }
  throw new HttpError('NOT_FOUND', `no route ${req.method} ${path}`);
}

function pathOf(req: IncomingMessage): string {
  return (req.url ?? '').split('?')[0] ?? '';
}
