import {isUtf8} from 'node:buffer';
import type {Readable, Writable} from 'node:stream';
import {fileURLToPath} from 'node:url';

import type {ClientInfo, ToolCall} from '../core/decision.js';
import {DEFAULT_MAX_MESSAGE_BYTES} from '../core/limits.js';
import {LazyCancellation} from '../governance/cancellation.js';
import type {CallTicket} from '../governance/governor.js';
import type {CallOutcome, ClientChannel, GovernanceHandle, SessionState} from '../governance/types.js';
import type {Diagnostics} from './diagnostics.js';
import {scanEnvelope, memberText, type EnvelopeScan} from './envelope-scan.js';
import {ClientRequests} from './client-requests.js';
import {CoalescingOutput, Holds} from './flow-control.js';
import {LineFramer, type OversizeLine} from './framing.js';
import {
  ErrorCode,
  errorResponse,
  idKey,
  idKeyFromToken,
  idToJson,
  isObject,
  normaliseMethod,
  parseJson,
  stringifyJson,
  type JsonObject,
  type JsonRpcErrorObject,
  type JsonRpcId,
} from '../core/json-rpc.js';
import {MAX_NESTING_DEPTH, checkClientMessage, inspectClientMessage, type MessageProblem} from './message-checks.js';
import {readText, type TextReading} from './single-reading.js';
import {asErrorObject, outcomeOf, summariseOversize, tooLargeError, upstreamExitedError} from './protocol-errors.js';
import {errorMessage} from '../core/errors.js';

export interface RelayOptions {
  client: {input: Readable; output: Writable};
  upstream: {input: Writable; output: Readable};
  governance: Promise<GovernanceHandle>;
  session: SessionState;
  diagnostics: Diagnostics;
  maxMessageBytes?: number;
  /**
   * A full garbage collection (util/garbage-collector.ts), run on the next turn after a message of
   * LARGE_MESSAGE_BYTES or more has been written out (not before: a pause while the pipe still
   * takes it would delay it), so that its copies do not add up with the next one's. Without it,
   * V8 collects when its own heuristics say so.
   */
  collectGarbage?: (() => void) | undefined;
}

interface PendingRequest {
  id: JsonRpcId;
  method: string;
  ticket?: CallTicket;
}

/** `raw`: the bytes the client sent, forwarded as they are (single-reading.ts says when that is safe). */
type Route = {kind: 'forward'; message: unknown; raw?: Buffer | undefined} | {kind: 'reply'; text: string} | {kind: 'drop'};

/** A client message whose bytes have a single reading: what was sent, and where its arguments are. */
interface Original {
  line: Buffer;
  text: string;
  reading: TextReading;
}

/** Where a refused message came from and what it was, for the warning and the audit event. */
interface Refusal {
  from: 'client' | 'server';
  messageKind: 'request' | 'notification' | 'response' | 'batch-element';
  problem: MessageProblem;
  method?: string | undefined;
  id?: JsonRpcId | undefined;
}

/** Roots kept per session: each is one more base every relative path argument is checked against. */
const MAX_CLIENT_ROOTS = 64;
/** How many of the latest tool names a session keeps (enforcers and audit use the last 32). */
const KEPT_TOOL_CALLS = 256;
/** Methods already in canonical form (lowercase ASCII) skip the Unicode normalisation. */
const PLAIN_METHOD = /^[a-z0-9_./-]+$/;
/** Small lines from the server are also fully parsed, which catches what the scanner does not. */
const STRICT_PARSE_LIMIT = 64 * 1024;
/** A message this large leaves garbage worth collecting at once (RelayOptions.collectGarbage): 4 MiB. */
const LARGE_MESSAGE_BYTES = 4 * 1024 * 1024;

/**
 * Relays newline-delimited JSON-RPC between the client (our stdin/stdout) and the upstream server.
 * Client → server messages are parsed, checked and governed; what the server receives is what
 * was evaluated: the client's own bytes when every parser reads them as thoth did
 * (single-reading.ts), thoth's re-serialisation of its reading otherwise. Server → client
 * messages are scanned, not parsed, and passed on byte for byte unless thoth must look inside
 * (responses to governed calls, tools/list).
 */
export class Relay {
  private readonly options: RelayOptions;
  private readonly diagnostics: Diagnostics;
  private readonly maxMessageBytes: number;
  private readonly clientFramer: LineFramer;
  private readonly serverFramer: LineFramer;
  private readonly pendingRequests = new Map<string, PendingRequest>();
  private readonly pendingDecisions = new Map<string, LazyCancellation>();
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Ids (idKey) of the server's `roots/list` requests the client has not answered yet. */
  private readonly rootsRequests = new Set<string>();
  /** From the server's initialize result: undefined until it has answered. */
  private serverToolsListChanged: boolean | undefined;
  private decisionsInFlight = 0;
  /** settle() callers waiting for the decisions in flight to finish. */
  private idleWaiters: Array<() => void> = [];
  private clientInputEnded = false;
  private clientGone = false;
  private upstreamGone = false;
  private upstreamInputEnded = false;
  private governance: GovernanceHandle | undefined;
  private readonly toUpstream: CoalescingOutput;
  private readonly toClient: CoalescingOutput;
  private readonly holds: Holds;
  private readonly ownRequests: ClientRequests;
  private resolveClientDone!: () => void;
  private collectionScheduled = false;
  /** Resolves when the client closed its side and the server's stdin has been closed in turn. */
  readonly clientDone: Promise<void>;
  readonly channel: ClientChannel;

  constructor(options: RelayOptions) {
    this.options = options;
    this.diagnostics = options.diagnostics;
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.clientFramer = new LineFramer(
      {line: (line) => this.onClientLine(line), oversize: (info) => this.onClientOversize(info)},
      this.maxMessageBytes,
    );
    this.serverFramer = new LineFramer(
      {line: (line) => this.onServerLine(line), oversize: (info) => this.onServerOversize(info)},
      this.maxMessageBytes,
    );
    this.clientDone = new Promise((resolve) => (this.resolveClientDone = resolve));
    // Once a large message is out, what it left behind (its read chunks, text, parsed value) is garbage.
    const written = (bytes: number): void => {
      if (bytes >= LARGE_MESSAGE_BYTES) this.collectSoon();
    };
    this.toUpstream = new CoalescingOutput(options.upstream.input, written);
    this.toClient = new CoalescingOutput(options.client.output, written);
    this.holds = new Holds({
      clientInput: options.client.input,
      clientOutput: options.client.output,
      upstreamOutput: options.upstream.output,
    });
    const session = options.session;
    this.ownRequests = new ClientRequests({
      sessionId: session.sessionId,
      send: (text) => this.writeClient(text),
      connected: () => !this.clientGone && !this.clientInputEnded,
      capabilities: () => session.client?.capabilities,
    });
    this.channel = this.ownRequests.channel;
    options.governance.then(
      (handle) => {
        this.governance = handle;
        handle.onToolsListChanged?.(() => this.onPolicyToolsListChanged());
      },
      () => undefined,
    );
  }

  start(): void {
    const {client, upstream} = this.options;
    client.input.on('data', (chunk: Buffer) => this.clientFramer.push(chunk));
    client.input.once('end', () => this.onClientInputEnd());
    client.input.once('error', () => this.onClientInputEnd());
    upstream.output.on('data', (chunk: Buffer) => this.serverFramer.push(chunk));
    upstream.output.once('end', () => this.serverFramer.end());
    upstream.output.once('error', () => this.serverFramer.end());
    upstream.input.on('error', (error: NodeJS.ErrnoException) => {
      // EPIPE: the server closed its stdin (usually because it is exiting); its exit is handled elsewhere.
      if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED')
        this.diagnostics.warn(`writing to the server failed: ${error.message}`);
    });
    client.output.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') this.diagnostics.warn(`writing to the client failed: ${error.message}`);
      this.clientGone = true;
      this.onClientInputEnd();
    });
  }

  /** The server process is gone: every request still waiting gets an error instead of silence. */
  upstreamExited(description: string): void {
    if (this.upstreamGone) return;
    this.upstreamGone = true;
    for (const [key, pending] of this.pendingRequests) {
      this.pendingRequests.delete(key);
      this.writeClient(errorResponse(pending.id, upstreamExitedError(description)));
      if (pending.ticket) this.complete(pending.ticket, {kind: 'upstream-exited'});
    }
  }

  /** Waits for work that is still deciding or rewriting (bounded by the caller). */
  async settle(): Promise<void> {
    for (;;) {
      if (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
      else if (this.decisionsInFlight > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      else return;
    }
  }

  /** Resolves once everything written to the client has been handed to the OS. */
  flushClient(): Promise<void> {
    const output = this.options.client.output;
    if (this.clientGone || output.writableEnded || output.destroyed) return Promise.resolve();
    this.toClient.flush();
    return new Promise((resolve) => output.write('', () => resolve()));
  }

  // -------------------------------------------------------------------------------------------
  // client → server

  private onClientLine(line: Buffer): void {
    let message: unknown;
    const text = line.toString('utf8');
    try {
      message = parseJson(text);
    } catch (error) {
      if (error instanceof RangeError) {
        // The reviver that keeps large integers exact recurses: only absurd nesting gets here.
        // Plain JSON.parse does not, and still gives the id to answer with.
        const problem: MessageProblem = {kind: 'too-deep', detail: `nested more than ${MAX_NESTING_DEPTH} levels deep`, pointer: ''};
        this.applyRoute(this.refuseClientMessage(parseLeniently(text), problem, false));
        return;
      }
      this.diagnostics.warn(`the client sent a line that is not JSON (${line.length} bytes); answered with a parse error, not forwarded`);
      this.writeClient(errorResponse(null, {code: ErrorCode.PARSE_ERROR, message: 'Parse error: the message is not valid JSON'}));
      return;
    }
    if (Array.isArray(message)) {
      this.onClientBatch(message);
      return;
    }
    const {problem, keys} = inspectClientMessage(message);
    if (problem !== undefined) {
      this.applyRoute(this.refuseClientMessage(message, problem, false));
      return;
    }
    this.decisionsInFlight++;
    this.routeClientMessage(message, singleReading(line, text, keys), this.routed);
  }

  /** Where a message's route arrives, at once or once it has been governed. */
  private readonly routed = (route: Route): void => {
    try {
      this.applyRoute(route);
    } catch (error) {
      this.diagnostics.warn(`internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    }
    this.decisionDone();
  };

  private decisionDone(): void {
    this.decisionsInFlight--;
    if (this.decisionsInFlight > 0) return;
    this.maybeEndUpstreamInput();
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** JSON-RPC batches (protocol 2025-03-26): each element is governed on its own. */
  private onClientBatch(items: unknown[]): void {
    const routes = items.map((item): Route | Promise<Route> => {
      if (!isObject(item)) {
        // A batch inside a batch (or a bare value) is not a request; a server that unpacks it
        // anyway would run calls that were never decided.
        const problem: MessageProblem = Array.isArray(item)
          ? {kind: 'nested-batch', detail: 'a batch inside a batch', pointer: ''}
          : {kind: 'nested-batch', detail: 'a batch element that is not an object', pointer: ''};
        return this.refuseClientMessage(item, problem, true);
      }
      const problem = checkClientMessage(item, MAX_NESTING_DEPTH - 1);
      if (problem !== undefined) return this.refuseClientMessage(item, problem, true);
      let now: Route | undefined;
      let later: ((route: Route) => void) | undefined;
      this.routeClientMessage(item, undefined, (route) => (later ? later(route) : (now = route)));
      return now ?? new Promise<Route>((resolve) => (later = resolve));
    });
    const finish = (resolved: Route[]): void => {
      const forwards: unknown[] = [];
      const replies: string[] = [];
      for (const route of resolved) {
        if (route.kind === 'forward') forwards.push(route.message);
        else if (route.kind === 'reply') replies.push(route.text);
      }
      if (forwards.length > 0 || items.length === 0) this.applyRoute({kind: 'forward', message: forwards});
      if (replies.length > 0) this.writeClient(`[${replies.join(',')}]`);
    };
    if (routes.some((route) => route instanceof Promise)) this.track(Promise.all(routes).then(finish), true);
    else finish(routes as Route[]);
  }

  /** Routes one message: `deliver` is called once, at once or (a governed call) once it is decided. */
  private routeClientMessage(message: unknown, original: Original | undefined, deliver: (route: Route) => void): void {
    const raw = original?.line;
    if (!isObject(message)) {
      deliver({kind: 'forward', message, raw});
      return;
    }
    const method = message['method'];
    const hasId = Object.hasOwn(message, 'id');
    if (typeof method === 'string') {
      const canonical = PLAIN_METHOD.test(method) ? method : normaliseMethod(method);
      if (canonical === 'tools/call') {
        this.governToolCall(message, hasId, original, deliver);
        return;
      }
      if (method === 'notifications/cancelled' && this.cancelPendingDecision(message)) {
        deliver({kind: 'drop'});
        return;
      }
      if (method === 'initialize') this.recordClientInfo(message);
      if (hasId) this.trackRequest(message['id'] as JsonRpcId, canonical);
      deliver({kind: 'forward', message, raw});
      return;
    }
    if (hasId) {
      const key = idKey(message['id']);
      if (this.ownRequests.answer(key, message)) {
        deliver({kind: 'drop'});
        return;
      }
      if (key !== undefined && this.rootsRequests.delete(key)) this.recordClientRoots(message);
    }
    deliver({kind: 'forward', message, raw});
  }

  /**
   * A client message checkClientMessage refused: a request gets -32600 (Invalid Request) with its
   * own id, a notification is dropped, an answer to one of the server's requests becomes an error
   * answer so that the server does not wait for ever. Each is on stderr and in the audit trail.
   */
  private refuseClientMessage(message: unknown, problem: MessageProblem, inBatch: boolean): Route {
    const object = isObject(message) ? message : undefined;
    // Only the exact keys: any other spelling is what made the message ambiguous.
    const id =
      object !== undefined && Object.hasOwn(object, 'id') && idKey(object['id']) !== undefined ? (object['id'] as JsonRpcId) : undefined;
    const method = typeof object?.['method'] === 'string' ? object['method'] : undefined;
    const isAnswer = object !== undefined && method === undefined && (Object.hasOwn(object, 'result') || Object.hasOwn(object, 'error'));
    // What could not be read at all is answered like a parse error: -32600 with a null id.
    const messageKind =
      problem.kind === 'nested-batch'
        ? 'batch-element'
        : object === undefined
          ? 'request'
          : isAnswer
            ? 'response'
            : id === undefined
              ? 'notification'
              : 'request';
    this.recordRefusal({from: 'client', messageKind, problem, method, id});
    const error: JsonRpcErrorObject = {
      code: ErrorCode.INVALID_REQUEST,
      message: `thoth: invalid request: ${problem.detail}; not forwarded`,
      data: {reason: problem.kind, detail: problem.detail, pointer: problem.pointer},
    };
    if (messageKind === 'request' || messageKind === 'batch-element') return {kind: 'reply', text: errorResponse(id ?? null, error)};
    if (messageKind === 'response' && id !== undefined) {
      if (this.ownRequests.fail(idKey(id), new Error(`the client's answer was refused: ${problem.detail}`))) return {kind: 'drop'};
      if (!inBatch) this.rootsRequests.delete(idKey(id)!);
      return {
        kind: 'forward',
        message: {
          jsonrpc: '2.0',
          id,
          error: {code: ErrorCode.INVALID_REQUEST, message: `thoth refused the client's answer: ${problem.detail}`},
        },
      };
    }
    return {kind: 'drop'};
  }

  private recordRefusal(refusal: Refusal): void {
    const {from, messageKind, problem, method, id} = refusal;
    const what = method === undefined ? `a ${messageKind}` : `a ${messageKind} (${JSON.stringify(method).slice(0, 80)})`;
    this.diagnostics.warn(
      `refused ${what} from the ${from}: ${problem.detail}${problem.pointer === '' ? '' : ` at ${problem.pointer.slice(0, 120)}`}`,
    );
    const fields: Record<string, unknown> = {
      direction: from === 'client' ? 'client-to-server' : 'server-to-client',
      messageKind,
      reason: problem.kind,
      detail: problem.detail,
      pointer: problem.pointer,
      requestId: id === undefined ? null : idToJson(id),
    };
    if (method !== undefined) fields['method'] = method;
    const record = (handle: GovernanceHandle): void => {
      try {
        handle.governor.auditSink.event('MESSAGE_REFUSED', handle.context, fields);
      } catch (error) {
        this.diagnostics.warn(`the audit trail could not record a refused message: ${errorMessage(error)}`);
      }
    };
    if (this.governance) record(this.governance);
    else this.options.governance.then(record, () => undefined);
  }

  /** The client's answer to the server's `roots/list`: its file roots become bases for relative paths. */
  private recordClientRoots(message: JsonObject): void {
    const result = isObject(message['result']) ? message['result'] : undefined;
    const roots = Array.isArray(result?.['roots']) ? result['roots'] : [];
    const session = this.options.session;
    const known = new Set(session.clientRoots ?? []);
    for (const root of roots) {
      const uri = isObject(root) ? root['uri'] : undefined;
      if (typeof uri !== 'string' || !/^file:/i.test(uri)) continue;
      try {
        known.add(fileURLToPath(uri));
      } catch {
        // Not a local file URL (another host, bad escapes): no base to check against.
      }
      if (known.size >= MAX_CLIENT_ROOTS) break;
    }
    session.clientRoots = [...known];
  }

  private governToolCall(message: JsonObject, hasId: boolean, original: Original | undefined, deliver: (route: Route) => void): void {
    const id = message['id'] as JsonRpcId;
    const params = isObject(message['params']) ? message['params'] : undefined;
    const name = params?.['name'];
    if (!hasId) {
      this.diagnostics.warn('the client sent tools/call as a notification (no id); refused, not forwarded');
      deliver({kind: 'drop'});
      return;
    }
    if (typeof name !== 'string' || name === '') {
      deliver(this.refuse(id, 'malformed tools/call: params.name must be a non-empty string'));
      return;
    }
    const key = idKey(id);
    const controller = new LazyCancellation();
    if (key !== undefined) this.pendingDecisions.set(key, controller);
    const settled = (): void => {
      if (key !== undefined && this.pendingDecisions.get(key) === controller) this.pendingDecisions.delete(key);
    };
    const govern = (governance: GovernanceHandle): void => {
      const call = toolCall(name, params?.['arguments'], original);
      // Once per call: a policy reload while it is being decided does not change its policy.
      const {governor, context} = governance;
      governor.governThen(call, context, idToJson(id), this.channel, controller, (outcome) => {
        settled();
        if (controller.aborted) {
          // Cancelled while deciding: the server never sees it, and a cancelled request gets no reply.
          if (outcome.action === 'forward') governor.complete(outcome.ticket, context, {kind: 'cancelled'});
          deliver({kind: 'drop'});
          return;
        }
        if (outcome.action === 'refuse') {
          deliver({kind: 'reply', text: errorResponse(id, outcome.error)});
          return;
        }
        this.recordToolCall(name);
        this.trackRequest(id, 'tools/call', lightTicket(outcome.ticket));
        if (message['method'] === 'tools/call') {
          deliver({kind: 'forward', message, raw: original?.line});
          return;
        }
        // Another spelling of the method (normalised): the server gets the one thoth decided.
        message['method'] = 'tools/call';
        deliver({kind: 'forward', message});
      });
    };
    if (this.governance) {
      govern(this.governance);
      return;
    }
    this.options.governance.then(govern, (error: unknown) => {
      settled();
      deliver(this.refuse(id, `thoth could not start its enforcer (${errorMessage(error)})`));
    });
  }

  /** A session can run for weeks: keep the latest names, count them all. */
  private recordToolCall(name: string): void {
    const session = this.options.session;
    session.sessionToolCallCount = (session.sessionToolCallCount ?? session.sessionToolCalls.length) + 1;
    session.sessionToolCalls.push(name);
    if (session.sessionToolCalls.length > 2 * KEPT_TOOL_CALLS)
      session.sessionToolCalls.splice(0, session.sessionToolCalls.length - KEPT_TOOL_CALLS);
  }

  private refuse(id: JsonRpcId, reason: string): Route {
    const error: JsonRpcErrorObject = {
      code: ErrorCode.BLOCKED,
      message: `thoth: ${reason}`,
      data: {decision: 'block', reason, ruleId: 'protocol'},
    };
    return {kind: 'reply', text: errorResponse(id, error)};
  }

  private cancelPendingDecision(message: JsonObject): boolean {
    const params = isObject(message['params']) ? message['params'] : undefined;
    const key = idKey(params?.['requestId']);
    const controller = key === undefined ? undefined : this.pendingDecisions.get(key);
    if (!controller) return false;
    controller.abort(new Error('cancelled by the client'));
    this.pendingDecisions.delete(key!);
    return true;
  }

  private recordClientInfo(message: JsonObject): void {
    const params = isObject(message['params']) ? message['params'] : {};
    const info: ClientInfo = {};
    const clientInfo = isObject(params['clientInfo']) ? params['clientInfo'] : {};
    if (typeof clientInfo['name'] === 'string') info.name = clientInfo['name'];
    if (typeof clientInfo['version'] === 'string') info.version = clientInfo['version'];
    if (typeof params['protocolVersion'] === 'string') info.protocolVersion = params['protocolVersion'];
    if (isObject(params['capabilities'])) info.capabilities = params['capabilities'];
    this.options.session.client = info;
  }

  private trackRequest(id: JsonRpcId, method: string, ticket?: CallTicket): void {
    const key = idKey(id);
    if (key === undefined) return;
    this.pendingRequests.set(key, ticket ? {id, method, ticket} : {id, method});
  }

  private applyRoute(route: Route): void {
    if (route.kind === 'reply') {
      this.writeClient(route.text);
      return;
    }
    if (route.kind === 'drop') return;
    if (this.upstreamGone || this.upstreamInputEnded) {
      this.answerUnforwardable(route.message);
      return;
    }
    if (!this.toUpstream.writeLine(route.raw ?? stringifyJson(route.message)))
      this.holds.holdClientInput('upstream', this.options.upstream.input);
  }

  /** Requests that can no longer reach the server still deserve an answer. */
  private answerUnforwardable(message: unknown): void {
    const items = Array.isArray(message) ? message : [message];
    for (const item of items) {
      if (!isObject(item) || typeof item['method'] !== 'string' || !Object.hasOwn(item, 'id')) continue;
      const key = idKey(item['id']);
      const pending = key === undefined ? undefined : this.pendingRequests.get(key);
      if (key !== undefined) this.pendingRequests.delete(key);
      if (pending?.ticket) this.complete(pending.ticket, {kind: 'upstream-exited'});
      this.writeClient(errorResponse(item['id'] as JsonRpcId, upstreamExitedError('it is no longer running')));
    }
  }

  private onClientInputEnd(): void {
    if (this.clientInputEnded) return;
    this.clientInputEnded = true;
    this.clientFramer.end();
    this.ownRequests.failAll(new Error('the client closed the connection'));
    this.maybeEndUpstreamInput();
  }

  private maybeEndUpstreamInput(): void {
    if (!this.clientInputEnded || this.decisionsInFlight > 0 || this.upstreamInputEnded) return;
    this.upstreamInputEnded = true;
    this.toUpstream.flush();
    this.options.upstream.input.end();
    this.resolveClientDone();
  }

  private onClientOversize(info: OversizeLine): void {
    const summary = summariseOversize(info);
    this.diagnostics.warn(
      `the client sent a ${info.size}-byte message, over the ${this.maxMessageBytes}-byte limit (--max-message-bytes); not forwarded`,
    );
    const error = tooLargeError(info.size, this.maxMessageBytes, 'client');
    if (summary.id === undefined) return;
    if (summary.isResponse) {
      if (!this.ownRequests.fail(idKey(summary.id), new Error('the client answered with a message over the size limit'))) {
        this.applyRoute({kind: 'forward', message: {jsonrpc: '2.0', id: summary.id, error}});
      }
      return;
    }
    this.writeClient(errorResponse(summary.id, error));
  }

  // -------------------------------------------------------------------------------------------
  // server → client

  private onServerLine(original: Buffer): void {
    let line = original;
    let scan = scanEnvelope(line);
    if (scan.kind === 'invalid' || scan.kind === 'scalar' || (line.length <= STRICT_PARSE_LIMIT && !isStrictJson(line))) {
      this.diagnostics.diverted(line);
      return;
    }
    if (scan.depth > MAX_NESTING_DEPTH) {
      this.refuseDeepServerMessage(line, scan);
      return;
    }
    if (scan.duplicateKeys) {
      // Parsers disagree on duplicate keys; send the client the reading thoth acted on.
      line = Buffer.from(stringifyJson(parseJson(line.toString('utf8'))));
      scan = scanEnvelope(line);
    }
    if (scan.kind === 'array') {
      this.track(this.onServerBatch(line), false);
      return;
    }
    if (scan.members.has('method')) {
      this.onServerRequestOrNotification(line, scan);
      return;
    }
    const key = idKeyFromToken(memberText(line, scan.members.get('id')));
    const pending = key === undefined ? undefined : this.pendingRequests.get(key);
    if (!pending) {
      this.writeClient(line);
      return;
    }
    this.pendingRequests.delete(key!);
    if (pending.method === 'tools/list') {
      this.track(this.forwardToolsList(line), false);
      return;
    }
    if (pending.method === 'initialize') this.recordServerCapabilities(line);
    this.writeClient(line);
    if (pending.ticket) this.complete(pending.ticket, outcomeOf(line, scan));
  }

  /** Once per session, and only read: the initialize response still goes out byte for byte. */
  private recordServerCapabilities(line: Buffer): void {
    let message: unknown;
    try {
      message = parseJson(line.toString('utf8'));
    } catch {
      return;
    }
    const result = isObject(message) && isObject(message['result']) ? message['result'] : undefined;
    const capabilities = result && isObject(result['capabilities']) ? result['capabilities'] : undefined;
    const tools = capabilities && isObject(capabilities['tools']) ? capabilities['tools'] : undefined;
    this.serverToolsListChanged = tools?.['listChanged'] === true;
  }

  /**
   * A policy reload changed what tools/list filtering hides. thoth sends the client
   * `notifications/tools/list_changed` itself, so that it lists the tools again, but only when
   * the server declared `tools.listChanged`: the client then expects that notification on this
   * connection, and thoth does not rewrite the server's capabilities to promise it. Otherwise the
   * client sees the new list at its next tools/list; calls are enforced by the new policy either way.
   */
  private onPolicyToolsListChanged(): void {
    if (this.clientGone || this.clientInputEnded || this.serverToolsListChanged === undefined) return;
    if (!this.serverToolsListChanged) {
      this.diagnostics.warn(
        'the tools the policy hides changed; the server did not declare tools.listChanged, so the client sees the new list when it next lists tools',
      );
      return;
    }
    this.writeClient('{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}');
  }

  /**
   * A server message nested beyond the bound is not relayed (the client, and thoth's own audit of
   * the answer, would have to walk it): the request it answers gets -32600 instead, a request of
   * the server's gets -32600 back, a notification is dropped.
   */
  private refuseDeepServerMessage(line: Buffer, scan: EnvelopeScan): void {
    const problem: MessageProblem = {
      kind: 'too-deep',
      detail: `nested ${scan.depth} levels deep, more than ${MAX_NESTING_DEPTH}`,
      pointer: '',
    };
    const error: JsonRpcErrorObject = {
      code: ErrorCode.INVALID_REQUEST,
      message: `thoth: refused the server's message: ${problem.detail}`,
      data: {reason: problem.kind, detail: problem.detail},
    };
    let items: unknown[] = [undefined];
    if (scan.kind === 'array') {
      try {
        // Plain JSON.parse: it is iterative in V8, whereas the large-integer reviver recurses.
        items = JSON.parse(line.toString('utf8')) as unknown[];
      } catch {
        items = [];
      }
    }
    for (const item of items) {
      const member = (name: string): unknown => {
        if (item !== undefined) return isObject(item) ? item[name] : undefined;
        const text = memberText(line, scan.members.get(name));
        return text === undefined ? undefined : parseJson(text);
      };
      const has = (name: string): boolean => (item !== undefined ? isObject(item) && Object.hasOwn(item, name) : scan.members.has(name));
      const method = member('method');
      const id = has('id') ? (member('id') as JsonRpcId) : undefined;
      const key = idKey(id);
      if (typeof method === 'string') {
        this.recordRefusal({from: 'server', messageKind: key === undefined ? 'notification' : 'request', problem, method, id});
        if (key !== undefined) this.applyRoute({kind: 'forward', message: {jsonrpc: '2.0', id, error}});
        continue;
      }
      this.recordRefusal({from: 'server', messageKind: 'response', problem, id});
      const pending = key === undefined ? undefined : this.pendingRequests.get(key);
      if (!pending) continue;
      this.pendingRequests.delete(key!);
      this.writeClient(errorResponse(pending.id, error));
      if (pending.ticket) this.complete(pending.ticket, {kind: 'error', error});
    }
  }

  private onServerRequestOrNotification(line: Buffer, scan: EnvelopeScan): void {
    const method = memberText(line, scan.members.get('method'));
    if (method === '"roots/list"') {
      const key = idKeyFromToken(memberText(line, scan.members.get('id')));
      if (key !== undefined) this.rootsRequests.add(key);
    }
    if (method === '"notifications/tools/list_changed"') {
      const governance = this.governance;
      governance?.toolsListHook?.onToolsChanged?.(governance.context);
    }
    this.writeClient(line);
  }

  private async forwardToolsList(line: Buffer): Promise<void> {
    let governance: GovernanceHandle;
    try {
      governance = await this.options.governance;
    } catch {
      this.writeClient(line);
      return;
    }
    const hook = governance.toolsListHook;
    if (!hook) {
      this.writeClient(line);
      return;
    }
    const message = parseJson(line.toString('utf8'));
    if (!isObject(message) || !isObject(message['result'])) {
      this.writeClient(line);
      return;
    }
    const rewritten = await this.rewriteToolsList(governance, message['result']);
    this.writeClient(rewritten ? stringifyJson({...message, result: rewritten}) : line);
  }

  /** The tools/list hook's rewrite of a result (hidden tools, pins); undefined leaves it as it is. */
  private async rewriteToolsList(governance: GovernanceHandle | undefined, result: JsonObject): Promise<JsonObject | undefined> {
    const hook = governance?.toolsListHook;
    if (!governance || !hook) return undefined;
    try {
      return await hook.onToolsList(result, governance.context);
    } catch (error) {
      // Hiding is a convenience: a call to a tool that should have been hidden is still enforced.
      this.diagnostics.warn(`tools/list could not be checked (${errorMessage(error)}); calls are still enforced`);
      return undefined;
    }
  }

  private async onServerBatch(line: Buffer): Promise<void> {
    const items = parseJson(line.toString('utf8')) as unknown[];
    let changed = false;
    for (let index = 0; index < items.length; index++) {
      const item = items[index];
      if (!isObject(item) || Object.hasOwn(item, 'method')) continue;
      const key = idKey(item['id']);
      const pending = key === undefined ? undefined : this.pendingRequests.get(key);
      if (!pending) continue;
      this.pendingRequests.delete(key!);
      if (pending.ticket) {
        const outcome: CallOutcome = Object.hasOwn(item, 'result')
          ? {kind: 'result', resultJson: Buffer.from(stringifyJson(item['result']))}
          : {kind: 'error', error: asErrorObject(item['error'])};
        this.complete(pending.ticket, outcome);
      }
      if (pending.method === 'tools/list' && isObject(item['result'])) {
        const governance = await this.options.governance.catch(() => undefined);
        const rewritten = await this.rewriteToolsList(governance, item['result']);
        if (rewritten) {
          items[index] = {...item, result: rewritten};
          changed = true;
        }
      }
    }
    this.writeClient(changed ? stringifyJson(items) : line);
  }

  private onServerOversize(info: OversizeLine): void {
    const summary = summariseOversize(info);
    this.diagnostics.warn(
      `the server sent a ${info.size}-byte message, over the ${this.maxMessageBytes}-byte limit (--max-message-bytes); not relayed`,
    );
    if (summary.id === undefined) return;
    const error = tooLargeError(info.size, this.maxMessageBytes, 'server');
    if (summary.isResponse) {
      const key = idKey(summary.id);
      const pending = key === undefined ? undefined : this.pendingRequests.get(key);
      if (!pending) return;
      this.pendingRequests.delete(key!);
      this.writeClient(errorResponse(pending.id, error));
      if (pending.ticket) this.complete(pending.ticket, {kind: 'error', error});
      return;
    }
    // A request from the server: answer it so the server does not wait forever.
    this.applyRoute({kind: 'forward', message: {jsonrpc: '2.0', id: summary.id, error}});
  }

  // -------------------------------------------------------------------------------------------
  // plumbing

  private complete(ticket: CallTicket, outcome: CallOutcome): void {
    this.governance?.governor.complete(ticket, ticket.context, outcome);
  }

  /** Writes one message line to the client, holding the server's output while the client is slow. */
  private writeClient(data: Buffer | string): void {
    if (this.clientGone) return;
    if (!this.toClient.writeLine(data)) {
      this.holds.holdUpstreamOutput();
      this.holds.holdClientInput('client', this.options.client.output);
    }
  }

  /** RelayOptions.collectGarbage on the next turn, once however many large messages this turn wrote out. */
  private collectSoon(): void {
    const collect = this.options.collectGarbage;
    if (collect === undefined || this.collectionScheduled) return;
    this.collectionScheduled = true;
    setImmediate(() => {
      this.collectionScheduled = false;
      collect();
    }).unref();
  }

  private track(work: Promise<unknown>, isDecision: boolean): void {
    if (isDecision) this.decisionsInFlight++;
    const done = (): void => {
      this.inFlight.delete(tracked);
      if (isDecision) this.decisionDone();
    };
    const tracked: Promise<void> = work.then(done, (error: unknown) => {
      this.diagnostics.warn(`internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      done();
    });
    this.inFlight.add(tracked);
  }
}

/**
 * The call as the enforcer sees it. `argumentsJson` is what is forwarded: the client's own text
 * of the arguments when its bytes go out as they are (a slice: no copy), else their
 * re-serialisation.
 */
function toolCall(name: string, args: unknown, original: Original | undefined): ToolCall {
  let json: string | undefined;
  if (original !== undefined) {
    const {argumentsStart, argumentsEnd} = original.reading;
    json = argumentsStart === -1 ? (args === undefined ? '{}' : undefined) : original.text.slice(argumentsStart, argumentsEnd);
  }
  return {
    name,
    arguments: args,
    get argumentsJson() {
      json ??= stringifyJson(args ?? {});
      return json;
    },
  };
}

/**
 * The ticket a forwarded call waits with, without its arguments: TOOL_CALL_POST names the tool
 * only, and a call waiting for its answer should not keep a 10 MB argument (or the text it was
 * read from) alive for as long.
 */
function lightTicket(ticket: CallTicket): CallTicket {
  return {...ticket, call: {name: ticket.call.name, arguments: undefined, argumentsJson: ''}};
}

/** The client's bytes when forwarding them is safe (single-reading.ts): valid UTF-8, no duplicate key, canonical numbers. */
function singleReading(line: Buffer, text: string, parsedKeys: number): Original | undefined {
  const reading = readText(text);
  if (reading.keys !== parsedKeys || !reading.canonicalNumbers || !isUtf8(line)) return undefined;
  return {line, text, reading};
}

function parseLeniently(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isStrictJson(line: Buffer): boolean {
  try {
    JSON.parse(line.toString('utf8'));
    return true;
  } catch {
    return false;
  }
}
