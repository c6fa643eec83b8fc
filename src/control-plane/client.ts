import {randomUUID} from 'node:crypto';
import type {TLSSocket} from 'node:tls';

import type {Agent, buildConnector, Dispatcher} from 'undici';

import {errorMessage} from '../core/errors.js';
import {loadValidator, type CompiledValidator} from '../util/validators.js';
import type {ControlPlaneEndpoint} from './config.js';
import {
  ERROR_SCHEMA,
  REQUEST_ID_HEADER,
  ROUTES,
  type ErrorBody,
  type RequestOf,
  type ResponseOf,
  type RouteName,
  type Warning,
} from './contract.js';
import {ControlPlaneError} from './errors.js';
import {isTlsFailure, loadTrust, PeerVerifier, TlsPolicyError, type TlsSettings} from './tls.js';

export interface ControlPlaneClientOptions {
  tls: TlsSettings;
  /** `thoth/<version> (<platform>; <arch>)`. */
  userAgent: string;
  /** Connections kept per host (default 8): concurrent tool calls each get one. */
  connectionsPerHost?: number;
  /** How long an idle connection is kept open (default 60 s). */
  keepAliveTimeoutMs?: number;
  /** TCP + TLS handshake limit (default 10 s; a request's own timeout still bounds it). */
  connectTimeoutMs?: number;
  /** Warnings in answers (KEY_CONTEXT_MISMATCH...), each distinct one reported once. */
  onWarning?: (warning: Warning, host: string) => void;
  now?: () => number;
  /** Reads THOTH_TLS_CA_BUNDLE (tests). */
  readFile?: (path: string) => Promise<string>;
}

export interface SendOptions {
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

/** The one thing the rest of thoth needs from the client (tests and the bench pass their own). */
export interface ControlPlaneSender {
  send<R extends RouteName>(route: R, endpoint: ControlPlaneEndpoint, body: RequestOf<R>, options: SendOptions): Promise<ResponseOf<R>>;
}

const MAX_ANSWER_BYTES = 1024 * 1024;

/**
 * HTTPS to the control plane through undici: one Agent, a kept-alive pool per host, every TLS
 * connection checked by the PeerVerifier (pins, AWS-backed) after Node's own verification
 * (THOTH_TLS_VERIFY, THOTH_TLS_CA_BUNDLE). undici is imported here, lazily, so `thoth run`
 * without a control plane never loads it.
 */
export class ControlPlaneClient implements ControlPlaneSender {
  private readonly warned = new Set<string>();

  private constructor(
    private readonly agent: Agent,
    private readonly validators: Map<string, CompiledValidator>,
    private readonly options: ControlPlaneClientOptions,
  ) {}

  static async create(options: ControlPlaneClientOptions): Promise<ControlPlaneClient> {
    const trust = await loadTrust(options.tls, options.readFile);
    const [undici, validators] = await Promise.all([loadUndici(), loadValidators()]);
    const verifier = new PeerVerifier(options.tls, trust, options.now);
    const connectOptions: Parameters<typeof buildConnector>[0] = {
      rejectUnauthorized: options.tls.verify,
      timeout: options.connectTimeoutMs ?? 10_000,
      keepAlive: true,
    };
    if (trust.ca) connectOptions.ca = trust.ca;
    const base = undici.buildConnector(connectOptions);
    const connect: typeof base = (connectTo, callback) => {
      base(connectTo, (error, socket) => {
        if (error || !socket) return callback(error ?? new Error('no socket'), null);
        if (connectTo.protocol !== 'https:' && verifier.needed) {
          // Plain http (allowed for localhost) cannot satisfy a pin: refuse rather than skip it.
          socket.destroy();
          return callback(
            new TlsPolicyError(
              'THOTH_TLS_CONFIG',
              `${connectTo.hostname} is reached over plain http, so THOTH_TLS_PINNED_CERT_SHA256 / THOTH_TLS_REQUIRE_AWS_BACKED_CERTS cannot be checked`,
            ),
            null,
          );
        }
        if (connectTo.protocol === 'https:' && verifier.needed) {
          const problem = verifier.check(socket as TLSSocket, connectTo.hostname);
          if (problem) {
            socket.destroy();
            return callback(problem, null);
          }
        }
        return callback(null, socket);
      });
    };
    const agent = new undici.Agent({
      connect,
      connections: options.connectionsPerHost ?? 8,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 60_000,
      keepAliveMaxTimeout: options.keepAliveTimeoutMs ?? 60_000,
      pipelining: 1,
    });
    return new ControlPlaneClient(agent, validators, options);
  }

  async send<R extends RouteName>(
    route: R,
    endpoint: ControlPlaneEndpoint,
    body: RequestOf<R>,
    options: SendOptions,
  ): Promise<ResponseOf<R>> {
    return this.sendRaw(route, endpoint, JSON.stringify(body), options);
  }

  /** As `send`, with the body already serialised (the enforcer splices the arguments in as forwarded). */
  async sendRaw<R extends RouteName>(
    route: R,
    endpoint: ControlPlaneEndpoint,
    bodyJson: string,
    options: SendOptions,
  ): Promise<ResponseOf<R>> {
    const spec = ROUTES[route];
    const url = this.baseOf(endpoint.url);
    const path = `${url.prefix}${spec.path}`;
    const where = `${spec.method} ${url.origin}${path}`;
    const headers = [...this.fixedHeaders(endpoint), REQUEST_ID_HEADER, randomUUID()];

    let status: number;
    let text: string;
    let retryAfterHeader: string | undefined;
    try {
      const answer = await exchange(
        this.agent,
        {
          origin: url.origin,
          path,
          method: spec.method,
          headers,
          body: bodyJson,
          headersTimeout: options.timeoutMs,
          bodyTimeout: options.timeoutMs,
        },
        {
          timeoutMs: options.timeoutMs,
          timeout: () => new ControlPlaneError('timeout', `${where}: no answer within ${options.timeoutMs} ms`),
          signal: options.signal,
          cancelled: () => new ControlPlaneError('aborted', `${where}: cancelled`),
        },
        MAX_ANSWER_BYTES,
      );
      status = answer.status;
      retryAfterHeader = headerValue(answer.headers['retry-after']);
      text = answer.body.toString('utf8');
    } catch (error) {
      throw this.describeFailure(error, where);
    }

    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new ControlPlaneError(
        status >= 200 && status < 300 ? 'invalid-response' : 'http',
        `${where}: HTTP ${status} with a body that is not JSON`,
        {status},
      );
    }
    if (status >= 200 && status < 300) {
      const validate = this.validators.get(spec.response)!;
      if (!validate(parsed)) {
        const first = validate.errors?.[0];
        throw new ControlPlaneError(
          'invalid-response',
          `${where}: the answer does not follow ${spec.response}.schema.json (${first ? `${first.instancePath || '/'} ${first.message ?? ''}` : 'invalid'})`,
          {status},
        );
      }
      this.reportWarnings((parsed as {warnings?: Warning[]}).warnings, url.host);
      return parsed as ResponseOf<R>;
    }
    const validError = this.validators.get(ERROR_SCHEMA)!(parsed);
    const error = validError ? (parsed as ErrorBody).error : undefined;
    const retryAfterMs = retryAfter(retryAfterHeader, error?.retryAfterSeconds);
    const message = error ? `${error.code}: ${truncate(error.message, 300)}` : 'an error body that does not follow error.schema.json';
    throw new ControlPlaneError('http', `${where}: HTTP ${status} ${message}`, {
      status,
      ...(error ? {code: error.code} : {}),
      ...(retryAfterMs === undefined ? {} : {retryAfterMs}),
    });
  }

  async close(): Promise<void> {
    await this.agent.close().catch(() => this.agent.destroy());
  }

  private readonly bases = new Map<string, {origin: string; prefix: string; host: string}>();
  private readonly headersOf = new WeakMap<ControlPlaneEndpoint, string[]>();

  /** Name/value pairs sent with every request to this endpoint (credentials revealed only here). */
  private fixedHeaders(endpoint: ControlPlaneEndpoint): string[] {
    let headers = this.headersOf.get(endpoint);
    if (!headers) {
      headers = ['content-type', 'application/json', 'user-agent', this.options.userAgent];
      for (const [name, secret] of Object.entries(endpoint.headers)) headers.push(name, secret.reveal());
      this.headersOf.set(endpoint, headers);
    }
    return headers;
  }

  private baseOf(base: string): {origin: string; prefix: string; host: string} {
    let parsed = this.bases.get(base);
    if (!parsed) {
      const url = new URL(base);
      parsed = {origin: url.origin, prefix: url.pathname.replace(/\/+$/, ''), host: url.host};
      this.bases.set(base, parsed);
    }
    return parsed;
  }

  private describeFailure(error: unknown, where: string): ControlPlaneError {
    if (error instanceof ControlPlaneError) return error;
    if (isTlsFailure(error)) {
      const cause = tlsCause(error);
      return new ControlPlaneError('tls', `${where}: TLS failed: ${cause}`, {cause: error});
    }
    const code = codeOf(error);
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
      return new ControlPlaneError('timeout', `${where}: timed out (${code})`, {cause: error});
    }
    return new ControlPlaneError('network', `${where}: ${code ? `${code} ` : ''}${errorMessage(error)}`, {cause: error});
  }

  private reportWarnings(warnings: Warning[] | undefined, host: string): void {
    if (!warnings || !this.options.onWarning) return;
    for (const warning of warnings) {
      const key = `${host}\u0000${warning.code}\u0000${warning.message}`;
      if (this.warned.has(key)) continue;
      this.warned.add(key);
      this.options.onWarning(warning, host);
    }
  }
}

async function loadValidators(): Promise<Map<string, CompiledValidator>> {
  const names = [...new Set([...Object.values(ROUTES).map((route) => route.response), ERROR_SCHEMA])];
  const loaded = await Promise.all(names.map(async (name) => [name, await loadValidator(name)] as const));
  return new Map(loaded);
}

interface UndiciParts {
  Agent: typeof Agent;
  buildConnector: typeof buildConnector;
}

/**
 * undici's Agent and connector only: its index also loads fetch, WebSocket, caches and mocks
 * (about 140 ms here against 40 ms), which `thoth run` would pay while its server starts. The
 * package has no exports map, so these paths are public; the index is the fallback should a
 * future release move them.
 */
async function loadUndici(): Promise<UndiciParts> {
  const agentPath = 'undici/lib/dispatcher/agent.js';
  const connectPath = 'undici/lib/core/connect.js';
  try {
    const [agent, connect] = (await Promise.all([import(agentPath), import(connectPath)])) as [
      {default: typeof Agent},
      {default: typeof buildConnector},
    ];
    if (typeof agent.default === 'function' && typeof connect.default === 'function')
      return {Agent: agent.default, buildConnector: connect.default};
  } catch {
    // Fall through to the index.
  }
  const undici = await import('undici');
  return {Agent: undici.Agent, buildConnector: undici.buildConnector};
}

interface Exchange {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

interface Deadline {
  /** The whole exchange, connection included: a host that does not answer cannot hold a call longer. */
  timeoutMs: number;
  timeout: () => Error;
  /** The caller giving up (the MCP client cancelled the call). */
  signal?: AbortSignal | undefined;
  cancelled: () => Error;
}

/**
 * One request through `dispatch` with a small handler: the whole answer as a Buffer, at most
 * `limit` bytes. No AbortController per call: the deadline timer aborts undici's own controller.
 */
function exchange(agent: Agent, options: Dispatcher.DispatchOptions, deadline: Deadline, limit: number): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let status = 0;
    let headers: Exchange['headers'] = {};
    let settled = false;
    let abortRequest: ((reason: Error) => void) | undefined;
    const {signal} = deadline;
    const finish = (error: Error | undefined, value?: Exchange): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onCancel);
      if (error) reject(error);
      else resolve(value!);
    };
    const stop = (reason: Error): void => {
      abortRequest?.(reason);
      finish(reason);
    };
    const onCancel = (): void => stop(deadline.cancelled());
    const timer = setTimeout(() => stop(deadline.timeout()), deadline.timeoutMs);
    if (signal?.aborted) return onCancel();
    signal?.addEventListener('abort', onCancel, {once: true});
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(controller) {
        abortRequest = (reason) => controller.abort(reason);
        if (settled) controller.abort(new Error('abandoned'));
      },
      onResponseStart(_controller, statusCode, responseHeaders) {
        status = statusCode;
        headers = responseHeaders;
      },
      onResponseData(controller, chunk) {
        size += chunk.length;
        if (size > limit) {
          const error = new ControlPlaneError('invalid-response', `the answer is larger than ${limit} bytes`);
          controller.abort(error);
          finish(error);
          return;
        }
        chunks.push(chunk);
      },
      onResponseEnd() {
        finish(undefined, {status, headers, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)});
      },
      onResponseError(_controller, error) {
        finish(error);
      },
    };
    try {
      agent.dispatch(options, handler);
    } catch (error) {
      finish(error instanceof Error ? error : new Error(String(error)));
    }
  });
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function retryAfter(header: string | undefined, seconds: number | undefined): number | undefined {
  if (seconds !== undefined) return seconds * 1000;
  if (header === undefined) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function codeOf(error: unknown): string | undefined {
  for (let current = error, depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    const code = (current as {code?: unknown}).code;
    if (typeof code === 'string') return code;
    current = (current as {cause?: unknown}).cause;
  }
  return undefined;
}

function tlsCause(error: unknown): string {
  for (let current = error, depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    if (current instanceof TlsPolicyError) return current.message;
    const code = (current as {code?: unknown}).code;
    if (typeof code === 'string') return `${code}: ${errorMessage(current)}`;
    current = (current as {cause?: unknown}).cause;
  }
  return errorMessage(error);
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** `thoth/<version> (<platform>; <arch>)`. */
export function userAgent(version: string, platform: NodeJS.Platform = process.platform, arch: string = process.arch): string {
  return `thoth/${version} (${platform}; ${arch})`;
}
