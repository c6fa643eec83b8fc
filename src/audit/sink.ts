import {setImmediate as yieldToEventLoop} from 'node:timers/promises';

import {errorMessage} from '../core/errors.js';
import type {DecisionContext} from '../core/decision.js';
import type {AuditSink, CallOutcome, PostCallRecord, PreCallRecord} from '../governance/types.js';
import {chainWriterFor, type ChainWriter} from './chain-writer.js';
import {buildContent, buildContentSync, buildValueContent, type ContentFields} from './content.js';
import {EventIdGenerator} from './event-id.js';
import {
  EVENT_TYPE_PATTERN,
  EventEncoder,
  genericEvent,
  serialiseEvent,
  type AuditEvent,
  type EncodedEvent,
  type PostSnapshot,
} from './events.js';
import {loadOrCreateKey, type AuditKey} from './key.js';
import type {AuditSettings} from './settings.js';

export interface FileAuditSinkOptions {
  settings: AuditSettings;
  /** The session as known at start-up (agent, session id, mode...). */
  context: DecisionContext;
  /** thoth's diagnostics (stderr); never stdout. */
  warn?: (message: string) => void;
  /** Extra fields of SESSION_START (upstream command, thoth version...), redacted like any event. */
  sessionStart?: Record<string, unknown>;
  clock?: () => number;
  /** The chain id (a UUIDv7 by default); tests pass their own. */
  chain?: string;
  key?: AuditKey;
}

/**
 * The AuditSink of `thoth run`: every event goes to this session's own hash chain in the audit
 * directory. TOOL_CALL_PRE is awaited (and rejects when the line cannot be written, so the
 * governor refuses the call); TOOL_CALL_POST is prepared off the relay's path (results may be
 * many MB) and appended in the background; close() waits for all of it, writes SESSION_END and
 * seals the chain.
 */
export class FileAuditSink implements AuditSink {
  readonly chain: string;
  private readonly settings: AuditSettings;
  private readonly clock: () => number;
  private readonly ids: EventIdGenerator;
  private readonly warnRaw: (message: string) => void;
  private writer: Promise<ChainWriter> | undefined;
  private openWriterNow: ChainWriter | undefined;
  private readonly background = new Set<Promise<void>>();
  private lastContext: DecisionContext;
  private readonly startedAt: number;
  private readonly counts = {total: 0, allow: 0, block: 0, step_up: 0};
  private closing: Promise<void> | undefined;
  private readonly encoder = new EventEncoder();
  /** TOOL_CALL_POSTs waiting behind one whose content is large (prepared in chunks, in order). */
  private posts: Array<{record: PostCallRecord; at: PostSnapshot}> = [];
  private postsScheduled = false;
  private readonly recentWarnings = new Map<string, number>();

  constructor(private readonly options: FileAuditSinkOptions) {
    this.settings = options.settings;
    this.clock = options.clock ?? Date.now;
    this.ids = new EventIdGenerator(this.clock);
    this.chain = options.chain ?? this.ids.next();
    this.warnRaw = options.warn ?? (() => undefined);
    this.lastContext = options.context;
    this.startedAt = this.clock();
    this.event('SESSION_START', options.context, {pid: process.pid, ...options.sessionStart});
  }

  toolCallPre(record: PreCallRecord): Promise<string> {
    return new Promise((resolve, reject) =>
      this.toolCallPreThen(record, (eventId, error) => (error === undefined ? resolve(eventId) : reject(error))),
    );
  }

  /** toolCallPre without a promise: the record shares the turn's write, `done` hears when it is with the OS. */
  toolCallPreThen(record: PreCallRecord, done: (eventId: string, error?: unknown) => void): void {
    this.lastContext = record.context;
    const eventId = this.ids.next();
    const time = this.clock();
    const options = {maxBytes: this.settings.contentMaxBytes};
    const parsed = {value: record.call.arguments};
    let content: ContentFields | undefined;
    try {
      content = buildContentSync(record.call.argumentsJson, options, parsed);
    } catch (error) {
      done('', error);
      return;
    }
    if (content !== undefined) {
      this.appendPre(record, content, eventId, time, done);
      return;
    }
    // Arguments over STRUCTURED_LIMIT are hashed in chunks that yield to the relay.
    buildContent(record.call.argumentsJson, options, parsed).then(
      (large) => this.appendPre(record, large, eventId, time, done),
      (error: unknown) => done('', error),
    );
  }

  private appendPre(
    record: PreCallRecord,
    content: ContentFields,
    eventId: string,
    time: number,
    done: (eventId: string, error?: unknown) => void,
  ): void {
    let json: EncodedEvent;
    try {
      json = this.encoder.pre(record, content, eventId, time);
    } catch (error) {
      done('', error);
      return;
    }
    const written = (error?: unknown): void => {
      if (error !== undefined) {
        done('', error);
        return;
      }
      this.counts.total++;
      this.counts[record.decision.decision]++;
      done(eventId);
    };
    if (this.openWriterNow) this.openWriterNow.appendThen(json, written);
    else this.getWriter().then((writer) => writer.appendThen(json, written), written);
  }

  /**
   * The response has already been handed to the client. A small result is recorded right away
   * (its record shares the turn's write); a large one is hashed in chunks that yield to the relay,
   * and the calls that end meanwhile queue behind it so that POSTs keep their order.
   */
  toolCallPost(record: PostCallRecord): void {
    this.lastContext = record.context;
    // Everything but the content is taken now: the session's tool list keeps growing meanwhile.
    const at = this.encoder.snapshot(record.context, this.ids.next(), this.clock());
    if (this.posts.length === 0) {
      let content: ContentFields | undefined | 'large';
      try {
        content = this.outcomeContentSync(record.outcome);
      } catch (error) {
        this.warn(`audit: TOOL_CALL_POST for tool "${record.call.name}" could not be prepared: ${errorMessage(error)}`);
        return;
      }
      if (content !== 'large') {
        this.appendPost(record, content, at);
        return;
      }
    }
    this.posts.push({record, at});
    if (this.postsScheduled) return;
    this.postsScheduled = true;
    this.track(() => this.processPosts(), 'TOOL_CALL_POST');
  }

  /** The queued POSTs in order, once the relay has had its turn: large contents hashed in chunks. */
  private async processPosts(): Promise<void> {
    await yieldToEventLoop();
    while (this.posts.length > 0) {
      const {record, at} = this.posts[0]!;
      try {
        const sync = this.outcomeContentSync(record.outcome);
        const content = sync === 'large' ? await this.outcomeContent(record.outcome) : sync;
        this.appendPost(record, content, at);
      } catch (error) {
        this.warn(`audit: TOOL_CALL_POST for tool "${record.call.name}" could not be prepared: ${errorMessage(error)}`);
      }
      this.posts.shift();
    }
    this.postsScheduled = false;
  }

  private appendPost(record: PostCallRecord, content: ContentFields | undefined, at: PostSnapshot): void {
    const onError = (error: unknown): void =>
      this.warn(`audit: TOOL_CALL_POST for tool "${record.call.name}" could not be written: ${errorMessage(error)}`);
    let json: EncodedEvent;
    try {
      json = this.encoder.post(record, content, at);
    } catch (error) {
      this.warn(`audit: TOOL_CALL_POST for tool "${record.call.name}" could not be prepared: ${errorMessage(error)}`);
      return;
    }
    // Nobody waits for a POST: once the writer is open, no promise per record.
    if (this.openWriterNow) this.openWriterNow.appendDetached(json, onError);
    else this.appendJson(json).catch(onError);
  }

  event(type: string, context: DecisionContext, fields: Record<string, unknown>): void {
    if (!EVENT_TYPE_PATTERN.test(type)) {
      this.warn(`audit: ignored an event with an invalid type ${JSON.stringify(type)}`);
      return;
    }
    this.lastContext = context;
    this.appendInBackground(genericEvent(type, context, fields, this.ids.next(), this.clock()), type);
  }

  /** Waits for every event handed over so far to be written (or to have failed). */
  async flush(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
    // Events handed to a writer that is still opening wait behind `this.writer`.
    await this.writer?.then((writer) => writer.idle()).catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    await this.flush();
    const end = genericEvent(
      'SESSION_END',
      this.lastContext,
      {
        durationMs: this.clock() - this.startedAt,
        toolCalls: {total: this.counts.total, allowed: this.counts.allow, blocked: this.counts.block, stepUp: this.counts.step_up},
      },
      this.ids.next(),
      this.clock(),
    );
    try {
      await this.append(end);
    } catch (error) {
      this.warn(`audit: SESSION_END could not be written: ${errorMessage(error)}`);
    }
    try {
      const writer = await this.writer;
      await writer?.close();
    } catch (error) {
      this.warn(`audit: the chain could not be sealed: ${errorMessage(error)}`);
    }
  }

  /** The content of TOOL_CALL_POST when it can be had at once; 'large' for a result over STRUCTURED_LIMIT. */
  private outcomeContentSync(outcome: CallOutcome): ContentFields | undefined | 'large' {
    const options = {maxBytes: this.settings.contentMaxBytes};
    switch (outcome.kind) {
      case 'result':
        return buildContentSync(outcome.resultJson, options) ?? 'large';
      case 'error':
      case 'refused':
        return buildValueContent(outcome.error, options);
      default:
        return undefined;
    }
  }

  private async outcomeContent(outcome: CallOutcome): Promise<ContentFields | undefined> {
    return outcome.kind === 'result' ? buildContent(outcome.resultJson, {maxBytes: this.settings.contentMaxBytes}) : undefined;
  }

  private append(event: AuditEvent): Promise<void> {
    return this.appendJson(serialiseEvent(event));
  }

  private appendJson(json: EncodedEvent): Promise<void> {
    // Once open, straight to the writer: records of one turn then share a write.
    if (this.openWriterNow) return this.openWriterNow.append(json);
    return this.getWriter().then((writer) => writer.append(json));
  }

  /** Opens lazily; a failed attempt (key, directory) is retried by the next event. */
  private getWriter(): Promise<ChainWriter> {
    if (!this.writer) {
      const attempt = this.openWriter();
      this.writer = attempt;
      attempt.then(
        (writer) => {
          this.openWriterNow = writer;
        },
        () => {
          if (this.writer === attempt) this.writer = undefined;
        },
      );
    }
    return this.writer;
  }

  private async openWriter(): Promise<ChainWriter> {
    const key = this.options.key ?? (await loadOrCreateKey(this.settings.keyFile, (message) => this.warn(message)));
    return chainWriterFor(
      this.settings,
      key,
      {chain: this.chain, agentId: this.options.context.agentId, sessionId: this.options.context.sessionId},
      this.clock,
      (message) => this.warn(message),
    );
  }

  /** Fire and forget: the writer keeps the order, flush() waits for it, failures go to stderr. */
  private appendInBackground(event: AuditEvent, what: string): void {
    this.append(event).catch((error: unknown) => this.warn(`audit: ${what} could not be written: ${errorMessage(error)}`));
  }

  private track(job: () => Promise<void>, what: string): void {
    const promise = job().catch((error: unknown) => this.warn(`audit: ${what} could not be written: ${errorMessage(error)}`));
    this.background.add(promise);
    void promise.finally(() => this.background.delete(promise));
  }

  /** The same failure repeats for every call while a disk is full: say it once every 10 s. */
  private warn(message: string): void {
    const now = this.clock();
    const last = this.recentWarnings.get(message);
    if (last !== undefined && now - last < 10_000) return;
    this.recentWarnings.set(message, now);
    this.warnRaw(message);
  }
}
