import type {IncomingMessage, ServerResponse} from 'node:http';

import type {ErrorCode} from '../control-plane/contract.js';

/** A refusal in the contract's error schema (schemas/control-plane/error.schema.json). */
export class HttpError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'HttpError';
  }

  get status(): number {
    return STATUS[this.code];
  }
}

const STATUS: Record<ErrorCode, number> = {
  INVALID_REQUEST: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  ENDPOINT_NOT_REGISTERED: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
};

/** Security headers on every answer: nothing is cached, framed, sniffed or loaded from elsewhere. */
const COMMON_HEADERS: Record<string, string> = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000',
};

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...COMMON_HEADERS,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function sendText(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {...COMMON_HEADERS, 'content-type': contentType, 'content-length': Buffer.byteLength(body), ...headers});
  res.end(body);
}

export function sendError(res: ServerResponse, error: HttpError, requestId: string | undefined): void {
  const body: {error: Record<string, unknown>} = {error: {code: error.code, message: error.message.slice(0, 2000)}};
  if (requestId !== undefined) body.error['requestId'] = requestId.slice(0, 128);
  const headers: Record<string, string> = {};
  if (error.retryAfterSeconds !== undefined) {
    body.error['retryAfterSeconds'] = error.retryAfterSeconds;
    headers['retry-after'] = String(error.retryAfterSeconds);
  }
  sendJson(res, error.status, body, headers);
}

/**
 * The body, at most `limit` bytes: a larger declared or actual body is refused with
 * PAYLOAD_TOO_LARGE as soon as it is known (the rest is not read into memory).
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(new HttpError('PAYLOAD_TOO_LARGE', `the body is ${declared} bytes; this route takes at most ${limit}`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        req.resume();
        reject(new HttpError('PAYLOAD_TOO_LARGE', `the body is more than ${limit} bytes, the most this route takes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    });
    req.on('error', (error) => {
      if (!failed) reject(error);
    });
  });
}

export function parseJsonBody(body: Buffer, parse: (text: string) => unknown = JSON.parse): unknown {
  try {
    return parse(body.toString('utf8'));
  } catch {
    throw new HttpError('INVALID_REQUEST', 'the body is not JSON');
  }
}

/** The bearer token of `authorization`, or undefined. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers['authorization'];
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/** Cookies of the request by name (the first of each). */
export function cookies(req: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  const header = req.headers['cookie'];
  if (typeof header !== 'string') return out;
  for (const part of header.split(';')) {
    const index = part.indexOf('=');
    if (index <= 0) continue;
    const name = part.slice(0, index).trim();
    if (!out.has(name)) out.set(name, decodeURIComponent(part.slice(index + 1).trim()));
  }
  return out;
}
