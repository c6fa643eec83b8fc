import type {Readable, Writable} from 'node:stream';

import type {ClientInfo, DecisionContext, ToolCall} from '../enforcer/types.js';
import {LazyCancellation} from '../governance/cancellation.js';
import type {CallTicket, Governor} from '../governance/governor.js';
import type {CallOutcome, ClientChannel, ToolsListHook} from '../governance/types.js';
import type {Diagnostics} from './diagnostics.js';
import {scanEnvelope, memberText, type EnvelopeScan} from './envelope-scan.js';
import {DEFAULT_MAX_MESSAGE_BYTES, LineFramer, type OversizeLine} from './framing.js';
import {
  ErrorCode,
  LargeNumber,
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
} from './json-rpc.js';

/**
 * What the relay needs from governance once it is ready (it loads after the server is spawned).
 * `governor` and `context` change together when the policy is reloaded: a call reads both once,
 * when it starts, and is decided and recorded with them.
 */
export interface GovernanceHandle {
  readonly governor: Governor;
  readonly context: DecisionContext;
  readonly toolsListHook?: ToolsListHook | undefined;
  /** Subscribes to changes of what tools/list filtering hides (a policy reload). */
  onToolsListChanged?(listener: () => void): void;
}

/** State of one `thoth run` session that the relay fills in and governance reads. */
export interface SessionState {
  readonly sessionId: string;
  /** The latest tools forwarded, in order (seed 002 `sessionToolCalls`; bounded, see KEPT_TOOL_CALLS). */
  readonly sessionToolCalls: string[];
  /** Every tool forwarded in this session, counted. */
  sessionToolCallCount?: number;
  client?: ClientInfo | undefined;
  /**
   * The client's roots, as absolute local paths (from the `file://` URIs of its latest answer to
   * the server's `roots/list`): servers resolve relative paths against them, so path rules do too.
   */
  clientRoots?: readonly string[] | undefined;
}

export interface RelayOptions {
  client: {input: Readable; output: Writable};
  upstream: {input: Writable; output: Readable};
  governance: Promise<GovernanceHandle>;
  session: SessionState;
  diagnostics: Diagnostics;
  maxMessageBytes?: number;
}

interface PendingRequest {
  id: JsonRpcId;
  method: string;
  ticket?: CallTicket;
}

interface OwnRequest {
  settle(message: JsonObject): void;
  fail(error: Error): void;
}

type Route = {kind: 'forward'; message: unknown} | {kind: 'reply'; text: string} | {kind: 'drop'};

/** How many of the latest tool names a session keeps (enforcers and audit use the last 32). */
const KEPT_TOOL_CALLS = 256;
/** Methods already in canonical form (lowercase ASCII) skip the Unicode normalisation. */
const PLAIN_METHOD = /^[a-z0-9_./-]+$/;
/** Small lines from the server are also fully parsed, which catches what the scanner does not. */
const STRICT_PARSE_LIMIT = 64 * 1024;
const SMALL_WRITE = 16 * 1024;
const NEWLINE = Buffer.from('\n');

/**
 * Relays newline-delimited JSON-RPC between the client (our stdin/stdout) and the upstream server.
 * Client → server messages are parsed and re-serialised (what the server receives is what was
 * evaluated); server → client messages are scanned, not parsed, and passed on byte for byte
 * unless thoth must look inside (responses to governed calls, tools/list).
 */
export class Relay {
  private readonly options: RelayOptions;
  private readonly diagnostics: Diagnostics;
  private readonly maxMessageBytes: number;
  private readonly clientFramer: LineFramer;
  private readonly serverFramer: LineFramer;
  private readonly pendingRequests = new Map<string, PendingRequest>();
  private readonly pendingDecisions = new Map<string, LazyCancellation>();
  private readonly ownRequests = new Map<string, OwnRequest>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly clientInputHolds = new Set<string>();
  private upstreamOutputHeld = false;
  /** From the server's initialize result: undefined until it has answered. */
  private serverToolsListChanged: boolean | undefined;
  private decisionsInFlight = 0;
  private ownRequestCounter = 0;
  private clientInputEnded = false;
  private clientGone = false;
  private upstreamGone = false;
  private upstreamInputEnded = false;
  private governance: GovernanceHandle | undefined;
  private readonly toUpstream: CoalescingOutput;
  private readonly toClient: CoalescingOutput;
  private resolveClientDone!: () => void;
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
    this.toUpstream = new CoalescingOutput(options.upstream.input);
    this.toClient = new CoalescingOutput(options.client.output);
    this.channel = this.createChannel();
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
      if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') this.diagnostics.warn(`writing to the server failed: ${error.message}`);
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
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** Resolves once everything written to the client has been handed to the OS. */
  flushClient(): Promise<void> {
    const output = this.options.client.output;
    if (this.clientGone || output.writableEnded || output.destroyed) return Promise.resolve();
    return new Promise((resolve) => output.write('', () => resolve()));
  }

  // -------------------------------------------------------------------------------------------
  // client → server

  private onClientLine(line: Buffer): void {
    let message: unknown;
    try {
      message = parseJson(line.toString('utf8'));
    } catch {
      this.diagnostics.warn(`the client sent a line that is not JSON (${line.length} bytes); answered with a parse error, not forwarded`);
      this.writeClient(errorResponse(null, {code: ErrorCode.PARSE_ERROR, message: 'Parse error: the message is not valid JSON'}));
      return;
    }
    if (Array.isArray(message)) {
      this.onClientBatch(message);
      return;
    }
    const route = this.routeClientMessage(message);
    if (route instanceof Promise) this.track(route.then((resolved) => this.applyRoute(resolved)), true);
    else this.applyRoute(route);
  }

  /** JSON-RPC batches (protocol 2025-03-26): each element is governed on its own. */
  private onClientBatch(items: unknown[]): void {
    const routes = items.map((item) => (isObject(item) ? this.routeClientMessage(item) : ({kind: 'forward', message: item} as Route)));
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

  private routeClientMessage(message: unknown): Route | Promise<Route> {
    if (!isObject(message)) return {kind: 'forward', message};
    const method = message['method'];
    const hasId = Object.hasOwn(message, 'id');
    if (typeof method === 'string') {
      const canonical = PLAIN_METHOD.test(method) ? method : normaliseMethod(method);
      if (canonical === 'tools/call') return this.governToolCall(message, hasId);
      if (method === 'notifications/cancelled' && this.cancelPendingDecision(message)) return {kind: 'drop'};
      if (method === 'initialize') this.recordClientInfo(message);
      if (hasId) this.trackRequest(message['id'] as JsonRpcId, canonical);
      return {kind: 'forward', message};
    }
    if (hasId) {
      const key = idKey(message['id']);
      const own = key === undefined ? undefined : this.ownRequests.get(key);
      if (own) {
        own.settle(message);
        return {kind: 'drop'};
      }
    }
    return {kind: 'forward', message};
  }

  private async governToolCall(message: JsonObject, hasId: boolean): Promise<Route> {
    const id = message['id'] as JsonRpcId;
    const params = isObject(message['params']) ? message['params'] : undefined;
    const name = params?.['name'];
    if (!hasId) {
      this.diagnostics.warn('the client sent tools/call as a notification (no id); refused, not forwarded');
      return {kind: 'drop'};
    }
    if (typeof name !== 'string' || name === '') {
      return this.refuse(id, 'malformed tools/call: params.name must be a non-empty string');
    }
    const key = idKey(id);
    const controller = new LazyCancellation();
    if (key !== undefined) this.pendingDecisions.set(key, controller);
    let governance: GovernanceHandle;
    try {
      governance = await this.options.governance;
    } catch (error) {
      return this.refuse(id, `thoth could not start its enforcer (${error instanceof Error ? error.message : String(error)})`);
    }
    try {
      const call = toolCall(name, params?.['arguments']);
      // Once per call: a policy reload while it is being decided does not change its policy.
      const {governor, context} = governance;
      const outcome = await governor.govern(call, context, idToJson(id), this.channel, controller);
      if (controller.aborted) {
        // Cancelled while deciding: the server never sees it, and a cancelled request gets no reply.
        if (outcome.action === 'forward') governor.complete(outcome.ticket, context, {kind: 'cancelled'});
        return {kind: 'drop'};
      }
      if (outcome.action === 'refuse') return {kind: 'reply', text: errorResponse(id, outcome.error)};
      message['method'] = 'tools/call';
      this.recordToolCall(name);
      this.trackRequest(id, 'tools/call', outcome.ticket);
      return {kind: 'forward', message};
    } finally {
      if (key !== undefined && this.pendingDecisions.get(key) === controller) this.pendingDecisions.delete(key);
    }
  }

  /** A session can run for weeks: keep the latest names, count them all. */
  private recordToolCall(name: string): void {
    const session = this.options.session;
    session.sessionToolCallCount = (session.sessionToolCallCount ?? session.sessionToolCalls.length) + 1;
    session.sessionToolCalls.push(name);
    if (session.sessionToolCalls.length > 2 * KEPT_TOOL_CALLS) session.sessionToolCalls.splice(0, session.sessionToolCalls.length - KEPT_TOOL_CALLS);
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
    const text = `${stringifyJson(route.message)}\n`;
    if (!this.toUpstream.write(text)) this.holdClientInput('upstream', this.options.upstream.input);
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
    for (const own of this.ownRequests.values()) own.fail(new Error('the client closed the connection'));
    this.maybeEndUpstreamInput();
  }

  private maybeEndUpstreamInput(): void {
    if (!this.clientInputEnded || this.decisionsInFlight > 0 || this.upstreamInputEnded) return;
    this.upstreamInputEnded = true;
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
      const own = this.ownRequests.get(idKey(summary.id) ?? '');
      if (own) own.fail(new Error('the client answered with a message over the size limit'));
      else this.applyRoute({kind: 'forward', message: {jsonrpc: '2.0', id: summary.id, error}});
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
      this.diagnostics.warn('the tools the policy hides changed; the server did not declare tools.listChanged, so the client sees the new list when it next lists tools');
      return;
    }
    this.writeClient('{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}');
  }

  private onServerRequestOrNotification(line: Buffer, scan: EnvelopeScan): void {
    if (memberText(line, scan.members.get('method')) === '"notifications/tools/list_changed"') {
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
    try {
      const rewritten = await hook.onToolsList(message['result'], governance.context);
      this.writeClient(rewritten ? stringifyJson({...message, result: rewritten}) : line);
    } catch (error) {
      this.diagnostics.warn(`tools/list could not be checked (${error instanceof Error ? error.message : String(error)}); calls are still enforced`);
      this.writeClient(line);
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
        const rewritten = await governance?.toolsListHook?.onToolsList(item['result'], governance.context).catch(() => undefined);
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
  // thoth → client requests (approval prompts), in an id space the server cannot collide with

  private createChannel(): ClientChannel {
    const session = this.options.session;
    return {
      get capabilities() {
        return session.client?.capabilities;
      },
      request: (method, params, {timeoutMs, signal}) => this.requestClient(method, params, timeoutMs, signal),
    };
  }

  private requestClient(method: string, params: JsonObject, timeoutMs: number, signal?: AbortSignal): Promise<unknown> {
    if (this.clientGone || this.clientInputEnded) return Promise.reject(new Error('the client is no longer connected'));
    const id = `thoth:${this.options.session.sessionId}:${++this.ownRequestCounter}`;
    const key = idKey(id)!;
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.ownRequests.delete(key);
      };
      const cancel = (reason: string): void => {
        this.writeClient(JSON.stringify({jsonrpc: '2.0', method: 'notifications/cancelled', params: {requestId: id, reason}}));
      };
      const onAbort = (): void => {
        cleanup();
        cancel('thoth no longer needs the answer');
        reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      const timer = setTimeout(() => {
        cleanup();
        cancel('timed out');
        reject(new Error(`the client did not answer ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      if (signal?.aborted) {
        onAbort();
        return;
      }
      signal?.addEventListener('abort', onAbort, {once: true});
      this.ownRequests.set(key, {
        settle: (message) => {
          cleanup();
          if (Object.hasOwn(message, 'error')) {
            const error = asErrorObject(message['error']);
            reject(Object.assign(new Error(`the client answered ${method} with an error: ${error.message}`), {rpcError: error}));
          } else {
            resolve(message['result']);
          }
        },
        fail: (error) => {
          cleanup();
          reject(error);
        },
      });
      this.writeClient(JSON.stringify({jsonrpc: '2.0', id, method, params}));
    });
  }

  // -------------------------------------------------------------------------------------------
  // plumbing

  private complete(ticket: CallTicket, outcome: CallOutcome): void {
    this.governance?.governor.complete(ticket, ticket.context, outcome);
  }

  /** Writes one message line to the client, holding the server's output while the client is slow. */
  private writeClient(data: Buffer | string): void {
    if (this.clientGone) return;
    const output = this.options.client.output;
    let ok: boolean;
    if (typeof data === 'string') {
      ok = this.toClient.write(`${data}\n`);
    } else if (data.length < SMALL_WRITE) {
      ok = this.toClient.write(Buffer.concat([data, NEWLINE]));
    } else {
      this.toClient.write(data);
      ok = this.toClient.write(NEWLINE);
    }
    if (!ok) {
      this.holdUpstreamOutput();
      this.holdClientInput('client', output);
    }
  }

  private holdUpstreamOutput(): void {
    if (this.upstreamOutputHeld) return;
    this.upstreamOutputHeld = true;
    const upstreamOutput = this.options.upstream.output;
    upstreamOutput.pause();
    this.options.client.output.once('drain', () => {
      this.upstreamOutputHeld = false;
      upstreamOutput.resume();
    });
  }

  private holdClientInput(reason: string, sink: Writable): void {
    if (this.clientInputHolds.has(reason)) return;
    this.clientInputHolds.add(reason);
    const input = this.options.client.input;
    input.pause();
    // Whichever comes first ends the hold and removes the other listener: a session has many
    // backpressure episodes, and a 'close' listener left behind by each would pile up.
    const release = (): void => {
      sink.off('drain', release);
      sink.off('close', release);
      this.clientInputHolds.delete(reason);
      if (this.clientInputHolds.size === 0) input.resume();
    };
    sink.on('drain', release);
    sink.on('close', release);
  }

  private track(work: Promise<unknown>, isDecision: boolean): void {
    if (isDecision) this.decisionsInFlight++;
    const done = (): void => {
      this.inFlight.delete(tracked);
      if (isDecision) {
        this.decisionsInFlight--;
        this.maybeEndUpstreamInput();
      }
    };
    const tracked: Promise<void> = work.then(done, (error: unknown) => {
      this.diagnostics.warn(`internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      done();
    });
    this.inFlight.add(tracked);
  }
}

/**
 * Writes made in one burst (one chunk's worth of messages, or the decisions settled in one
 * microtask drain) leave in one writev: under load a syscall per message was thoth's largest
 * cost. The flush is a nextTick, so it runs before control returns to the event loop: no extra
 * loop iteration (setImmediate cost a second epoll_wait per message when calls are sequential).
 */
class CoalescingOutput {
  private corked = false;
  constructor(private readonly stream: Writable) {}

  write(chunk: string | Buffer): boolean {
    if (!this.corked && !this.stream.writableEnded && !this.stream.destroyed) {
      this.corked = true;
      this.stream.cork();
      process.nextTick(() => {
        this.corked = false;
        this.stream.uncork();
      });
    }
    return this.stream.write(chunk);
  }
}

function toolCall(name: string, args: unknown): ToolCall {
  let json: string | undefined;
  return {
    name,
    arguments: args,
    get argumentsJson() {
      json ??= stringifyJson(args ?? {});
      return json;
    },
  };
}

function isStrictJson(line: Buffer): boolean {
  try {
    JSON.parse(line.toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

function outcomeOf(line: Buffer, scan: EnvelopeScan): CallOutcome {
  const result = scan.members.get('result');
  if (result) return {kind: 'result', resultJson: line.subarray(result.start, result.end)};
  const error = scan.members.get('error');
  if (error) {
    try {
      return {kind: 'error', error: asErrorObject(JSON.parse(line.toString('utf8', error.start, error.end)))};
    } catch {
      // fall through
    }
  }
  return {kind: 'error', error: {code: ErrorCode.INTERNAL_ERROR, message: 'the server answered without a result or an error'}};
}

function asErrorObject(value: unknown): JsonRpcErrorObject {
  if (isObject(value) && typeof value['code'] === 'number' && typeof value['message'] === 'string') {
    return Object.hasOwn(value, 'data') ? {code: value['code'], message: value['message'], data: value['data']} : {code: value['code'], message: value['message']};
  }
  return {code: ErrorCode.INTERNAL_ERROR, message: 'malformed error object'};
}

function upstreamExitedError(description: string): JsonRpcErrorObject {
  return {code: ErrorCode.UPSTREAM_EXITED, message: `thoth: the MCP server exited before answering (${description})`};
}

function tooLargeError(size: number, limit: number, from: 'client' | 'server'): JsonRpcErrorObject {
  return {
    code: ErrorCode.MESSAGE_TOO_LARGE,
    message: `thoth: the ${from === 'client' ? 'request' : "server's message"} was ${size} bytes, over thoth's ${limit}-byte limit`,
    data: {size, limit, fix: 'raise the limit with thoth run --max-message-bytes'},
  };
}

const TAIL_ID = /"id"\s*:\s*(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|"(?:[^"\\]|\\.)*")\s*\}\s*$/;

/** What can be learnt about an over-long line from its head and tail: its id and whether it answers. */
export function summariseOversize(info: OversizeLine): {id?: JsonRpcId; isResponse: boolean} {
  const head = scanEnvelope(info.head, {partial: true});
  let idToken = memberText(info.head, head.members.get('id'));
  if (idToken === undefined) idToken = TAIL_ID.exec(info.tail.toString('utf8'))?.[1];
  const isResponse = (head.keysSeen.has('result') || head.keysSeen.has('error')) && !head.keysSeen.has('method');
  const id = idFromToken(idToken);
  return id === undefined ? {isResponse} : {id, isResponse};
}

function idFromToken(token: string | undefined): JsonRpcId | undefined {
  if (token === undefined) return undefined;
  const trimmed = token.trim();
  try {
    if (trimmed.startsWith('"')) return JSON.parse(trimmed) as string;
  } catch {
    return undefined;
  }
  if (!/^-?\d/.test(trimmed)) return undefined;
  const value = Number(trimmed);
  return Number.isSafeInteger(value) ? value : new LargeNumber(trimmed);
}
