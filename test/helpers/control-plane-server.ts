import {randomUUID} from 'node:crypto';
import {createServer, type Server} from 'node:https';
import type {IncomingMessage, ServerResponse} from 'node:http';
import type {Socket} from 'node:net';
import {setTimeout as sleep} from 'node:timers/promises';

import {
  API_KEY_HEADER,
  ERROR_SCHEMA,
  ROUTES,
  type EnforceRequest,
  type EnforceResponse,
  type ErrorCode,
  type RouteName,
} from '../../src/control-plane/contract.js';
import {loadValidator, type CompiledValidator} from '../../src/util/validators.js';

/**
 * A control plane for tests and the bench, built from the contract thoth uses: the same route
 * table (src/control-plane/contract.ts) and the same JSON Schemas (schemas/control-plane/). Every
 * request is validated against its request schema and recorded; every answer it gives by default
 * is validated against the response schema before it is sent (a test server that broke the
 * contract would prove nothing). Real HTTPS on 127.0.0.1 with certificates made in the test.
 */
export interface RecordedRequest {
  route: RouteName | undefined;
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: unknown;
  /** The body exactly as received. */
  raw: string;
  /** Problems found by the request schema ([] when valid). */
  problems: string[];
  at: number;
}

export interface Reply {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  delayMs?: number;
  /** Destroy the connection without answering (after the handler's side effects: a lost acknowledgement). */
  destroy?: boolean;
}

export type Handler = (request: RecordedRequest, server: TestControlPlane) => Reply | Promise<Reply>;

export interface TestControlPlaneOptions {
  key: string;
  cert: string;
  /** Required `authorization` per host (the full header value); undefined: not checked. */
  auth?: {enforcer?: string; govapi?: string; govapiApiKey?: string};
  handlers?: Partial<Record<RouteName, Handler>>;
  port?: number;
  /** Keep every request in `requests` (default true; the bench only counts them). */
  record?: boolean;
  /** Validate requests and default answers against the schemas (default true; the bench measures thoth, not this stand-in). */
  validate?: boolean;
}

interface HoldState {
  approvalId: string;
  state: 'pending' | 'approved' | 'denied' | 'expired';
  decidedBy?: string;
  waiters: Array<() => void>;
}

export class TestControlPlane {
  readonly requests: RecordedRequest[] = [];
  /** Every request that broke its schema since start (never cleared: test files assert it stays empty). */
  readonly everInvalid: RecordedRequest[] = [];
  /** Requests per route, recorded or not. */
  readonly counts: Partial<Record<RouteName, number>> = {};
  readonly handlers: Partial<Record<RouteName, Handler>>;
  /** Stored events by eventId (the dedup store) and how often each id was received. */
  readonly events = new Map<string, Record<string, unknown>>();
  readonly eventReceipts = new Map<string, number>();
  readonly endpoints = new Map<string, {enrolledAt: string; registrations: number}>();
  readonly holds = new Map<string, HoldState>();
  /** Errors thrown by handlers (tests assert there are none). */
  readonly serverErrors: string[] = [];
  /** TLS connections accepted (keep-alive: far fewer than requests). */
  connections = 0;
  /** Decides enforce requests (default: allow). */
  decide: (request: EnforceRequest) => EnforceResponse | Promise<EnforceResponse> = () => ({
    decision: 'allow',
    reason: 'allowed by the test control plane',
    ruleId: 'test-allow',
  });
  private server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly options: TestControlPlaneOptions;
  port = 0;

  private constructor(options: TestControlPlaneOptions) {
    this.options = options;
    this.handlers = {...options.handlers};
    this.server = this.createServer();
  }

  static async start(options: TestControlPlaneOptions): Promise<TestControlPlane> {
    await loadValidators();
    const plane = new TestControlPlane(options);
    await plane.listen(options.port ?? 0);
    return plane;
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  /** Requests of one route. */
  of(route: RouteName): RecordedRequest[] {
    return this.requests.filter((request) => request.route === route);
  }

  /** Every request that did not follow its schema (tests assert this is empty). */
  invalid(): RecordedRequest[] {
    return this.requests.filter((request) => request.problems.length > 0);
  }

  /** Creates a hold (step-up awaiting approval); returns its token. */
  createHold(approvalId: string): string {
    const token = `hold-${randomUUID()}`;
    this.holds.set(token, {approvalId, state: 'pending', waiters: []});
    return token;
  }

  resolveHold(token: string, state: 'approved' | 'denied' | 'expired', decidedBy = 'security@acme.test'): void {
    const hold = this.holds.get(token);
    if (!hold) throw new Error(`no hold ${token}`);
    hold.state = state;
    hold.decidedBy = decidedBy;
    for (const wake of hold.waiters.splice(0)) wake();
  }

  /** An outage: stop listening and cut every connection. */
  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const socket of this.sockets) socket.destroy();
    });
  }

  /** Back on the same port after `stop`. */
  async restart(): Promise<void> {
    this.server = this.createServer();
    await this.listen(this.port);
  }

  async close(): Promise<void> {
    if (this.server.listening) await this.stop();
  }

  private createServer(): Server {
    const server = createServer({key: this.options.key, cert: this.options.cert, keepAliveTimeout: 60_000}, (req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        // A broken test handler: answer 500 (never hang) and keep the error for the test to see.
        this.serverErrors.push(error instanceof Error ? error.message : String(error));
        if (!res.headersSent) this.send(res, 500, errorBody('INTERNAL', 'test handler failed'));
      });
    });
    server.on('secureConnection', (socket: Socket) => {
      this.connections++;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    return server;
  }

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        const address = this.server.address();
        this.port = typeof address === 'object' && address ? address.port : port;
        resolve();
      });
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const text = await new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });
    const path = (req.url ?? '').split('?')[0]!;
    const route = (Object.keys(ROUTES) as RouteName[]).find((name) => ROUTES[name].path === path && ROUTES[name].method === req.method);
    let body: unknown;
    const problems: string[] = [];
    try {
      body = JSON.parse(text);
    } catch {
      problems.push('the body is not JSON');
    }
    if (route && problems.length === 0 && this.options.validate !== false) {
      const validate = VALIDATORS.get(ROUTES[route].request)!;
      if (!validate(body))
        problems.push(...(validate.errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message ?? error.keyword}`));
    }
    const recorded: RecordedRequest = {
      route,
      method: req.method ?? '',
      path,
      headers: req.headers,
      body,
      raw: text,
      problems,
      at: Date.now(),
    };
    if (this.options.record !== false) this.requests.push(recorded);
    if (problems.length > 0) this.everInvalid.push(recorded);
    if (route) this.counts[route] = (this.counts[route] ?? 0) + 1;

    if (!route) return this.send(res, 404, errorBody('NOT_FOUND', `no route ${req.method} ${path}`));
    if (problems.length > 0) return this.send(res, 400, errorBody('INVALID_REQUEST', problems.join('; ')));
    const authProblem = this.checkAuth(route, req.headers);
    if (authProblem) return this.send(res, 401, errorBody('UNAUTHENTICATED', authProblem));

    const handler = this.handlers[route] ?? DEFAULT_HANDLERS[route];
    const reply = await handler(recorded, this);
    if (reply.delayMs) await sleep(reply.delayMs);
    if (reply.destroy) {
      req.socket.destroy();
      return;
    }
    const status = reply.status ?? 200;
    if (
      reply.body !== undefined &&
      status >= 200 &&
      status < 300 &&
      handler === DEFAULT_HANDLERS[route] &&
      this.options.validate !== false
    ) {
      const validate = VALIDATORS.get(ROUTES[route].response)!;
      if (!validate(reply.body))
        throw new Error(`the test control plane broke ${ROUTES[route].response}: ${JSON.stringify(validate.errors)}`);
    }
    if (reply.body !== undefined && status >= 300) {
      const validate = VALIDATORS.get(ERROR_SCHEMA)!;
      if (!validate(reply.body)) throw new Error(`the test control plane broke ${ERROR_SCHEMA}: ${JSON.stringify(validate.errors)}`);
    }
    this.send(res, status, reply.body, reply.headers);
  }

  private checkAuth(route: RouteName, headers: IncomingMessage['headers']): string | undefined {
    const auth = this.options.auth;
    if (!auth) return undefined;
    if (ROUTES[route].host === 'enforcer') {
      if (auth.enforcer !== undefined && headers['authorization'] !== auth.enforcer)
        return 'the enforcer needs the API key as a bearer token';
      return undefined;
    }
    if (auth.govapi !== undefined && headers['authorization'] !== auth.govapi) return 'GovAPI needs its bearer token';
    if (auth.govapiApiKey !== undefined && headers[API_KEY_HEADER] !== auth.govapiApiKey) return 'GovAPI needs its API key header';
    return undefined;
  }

  private send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, {'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers});
    res.end(text);
  }
}

/** The contract's validators, loaded once (the same compiled schemas thoth uses). */
const VALIDATORS = new Map<string, CompiledValidator>();

async function loadValidators(): Promise<void> {
  for (const name of [...Object.values(ROUTES).flatMap((route) => [route.request, route.response]), ERROR_SCHEMA]) {
    if (!VALIDATORS.has(name)) VALIDATORS.set(name, await loadValidator(name));
  }
}

export function errorBody(code: ErrorCode, message: string, retryAfterSeconds?: number): {error: Record<string, unknown>} {
  return {error: {code, message, ...(retryAfterSeconds === undefined ? {} : {retryAfterSeconds})}};
}

const DEFAULT_HANDLERS: Record<RouteName, Handler> = {
  register: (request, plane) => {
    const body = request.body as {endpointId: string; fleetId: string | null};
    const known = plane.endpoints.get(body.endpointId);
    const entry = known ?? {enrolledAt: new Date().toISOString(), registrations: 0};
    entry.registrations++;
    plane.endpoints.set(body.endpointId, entry);
    return {
      body: {
        endpointId: body.endpointId,
        status: 'enrolled',
        created: known === undefined,
        enrolledAt: entry.enrolledAt,
        fleetId: body.fleetId,
      },
    };
  },
  checkin: (request, plane) => {
    const body = request.body as {endpointId: string};
    if (!plane.endpoints.has(body.endpointId))
      return {status: 404, body: errorBody('ENDPOINT_NOT_REGISTERED', `endpoint ${body.endpointId} is not registered`)};
    return {body: {receivedAt: new Date().toISOString()}};
  },
  eventBatch: (request, plane) => {
    const body = request.body as {batchId: string; events: Array<{event: Record<string, unknown> & {eventId: string}}>};
    let accepted = 0;
    let duplicates = 0;
    for (const {event} of body.events) {
      plane.eventReceipts.set(event.eventId, (plane.eventReceipts.get(event.eventId) ?? 0) + 1);
      if (plane.events.has(event.eventId)) duplicates++;
      else {
        plane.events.set(event.eventId, event);
        accepted++;
      }
    }
    return {body: {batchId: body.batchId, received: body.events.length, accepted, duplicates, rejected: []}};
  },
  enforce: async (request, plane) => ({body: await plane.decide(request.body as EnforceRequest)}),
  holdWait: async (request, plane) => {
    const body = request.body as {holdToken: string; approvalId: string; waitMs: number};
    const hold = plane.holds.get(body.holdToken);
    if (!hold) return {status: 404, body: errorBody('NOT_FOUND', 'unknown hold')};
    if (hold.state === 'pending') {
      await Promise.race([new Promise<void>((resolve) => hold.waiters.push(resolve)), sleep(body.waitMs)]);
    }
    return {
      body: {
        approvalId: hold.approvalId,
        state: hold.state,
        ...(hold.decidedBy && hold.state !== 'pending' ? {decidedBy: hold.decidedBy, decidedAt: new Date().toISOString()} : {}),
      },
    };
  },
};
