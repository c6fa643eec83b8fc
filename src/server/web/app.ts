import type {IncomingMessage, ServerResponse} from 'node:http';

import type {ServerContext} from '../context.js';
import {HttpError} from '../http.js';

/** The admin web app (server-rendered pages). */
export function isWebAppPath(path: string): boolean {
  return path === '/' || path.startsWith('/approvals') || path.startsWith('/ui/');
}

export async function handleWebApp(
  _context: ServerContext,
  _req: IncomingMessage,
  _res: ServerResponse,
  url: URL,
  _signal: AbortSignal,
): Promise<void> {
  throw new HttpError('NOT_FOUND', `no page ${url.pathname} yet`);
}
