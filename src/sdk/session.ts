import {GOVERNED_SESSION_ENV} from '../approvals/governed-session.js';
import type {DecisionContext, EnforcementMode} from '../core/decision.js';
import {errorMessage} from '../core/errors.js';
import type {SessionState, ToolsListHook} from '../governance/types.js';
import {terminalSafe} from '../util/terminal-text.js';
import {sdkRefusal, ToolCallRefusedError} from './errors.js';
import type {CallShape, GovernedResult} from './govern-call.js';
import {planSession, programName, type GovernanceOptions, type SessionPlan, type SettingsIo} from './options.js';
import type {StartedGovernance} from './start.js';
import {withTimeout} from '../util/with-timeout.js';

export type {CallShape, GovernedResult} from './govern-call.js';

export interface SessionInfo {
  sessionId: string;
  agentId: string;
  /** The mode in force, as the policy settled it. */
  mode: EnforcementMode;
  intent?: string;
}

/** How long close() waits for calls still running before it seals the trail. */
const CLOSE_WAIT_MS = 2000;

const openSessions = new Set<ThothSession>();
let exitHookInstalled = false;

/**
 * One governed agent session: its own policy generation, approvals, pins and audit chain, as one
 * `thoth run` session has. Governance starts in the background when the session is created (the
 * first call waits for it); `close()` seals the audit trail, and sessions still open when the
 * event loop empties are closed then.
 */
export class ThothSession {
  readonly sessionId: string;
  readonly agentId: string;
  private readonly state: SessionState;
  private readonly started: Promise<StartedGovernance>;
  private readonly warnEarly: (message: string) => void;
  private readonly inFlight = new Set<Promise<unknown>>();
  private closing: Promise<void> | undefined;
  private nextRequestId = 1;

  /**
   * `describe` (@internal): the front door's default agent id and what SESSION_START records
   * about the program (governClient adds the server it talks to); `settingsIo` for tests.
   */
  constructor(
    options: GovernanceOptions = {},
    describe: {defaultAgentId?: () => string; sessionStart?: Record<string, unknown>; settingsIo?: SettingsIo} = {},
  ) {
    const plan: SessionPlan = planSession(options, describe.defaultAgentId ?? (() => programName()));
    this.agentId = plan.agentId;
    this.sessionId = globalThis.crypto.randomUUID();
    this.state = {sessionId: this.sessionId, sessionToolCalls: []};
    this.warnEarly = options.onWarning ?? ((message) => process.stderr.write(`[thoth] warning: ${terminalSafe(message)}\n`));
    // Whatever this program starts (a shell tool) inherits it: `thoth approve` run from there refuses.
    process.env[GOVERNED_SESSION_ENV] = this.sessionId;
    const sessionStart = {sdk: {program: process.argv[1] ?? process.execPath, ...describe.sessionStart}};
    const track = (running: Promise<unknown>): void => {
      this.inFlight.add(running);
      const done = (): void => void this.inFlight.delete(running);
      running.then(done, done);
    };
    // The governance core loads here, in the background: importing the SDK stays cheap.
    this.started = import('./start.js').then((start) =>
      start.startGovernance(plan, this.state, options, sessionStart, track, describe.settingsIo),
    );
    this.started.catch((error: unknown) =>
      this.warnEarly(`governance failed to start; every tool call will be refused: ${errorMessage(error)}`),
    );
    openSessions.add(this);
    installExitHook();
  }

  /** Resolves once governance is up (policy loaded or failed closed, audit trail open); rejects with why it could not start. */
  async ready(): Promise<SessionInfo> {
    const {context} = (await this.started).governance;
    return {
      sessionId: this.sessionId,
      agentId: context.agentId,
      mode: context.mode,
      ...(context.intent !== undefined ? {intent: context.intent} : {}),
    };
  }

  /**
   * `fn` governed: each call is decided before `fn` runs, recorded (TOOL_CALL_PRE, then
   * TOOL_CALL_POST with the result), and refused with ToolCallRefusedError when policy blocks it
   * or a person has to approve it. The first argument is the tool's arguments; the rest are
   * passed through.
   */
  wrapToolFunc<A, R, Rest extends unknown[]>(
    name: string,
    fn: (args: A, ...rest: Rest) => R | Promise<R>,
  ): (args: A, ...rest: Rest) => Promise<R> {
    if (typeof fn !== 'function') throw new TypeError(`thoth-mcp/sdk: the tool "${name}" is not a function`);
    const governed = async (args: A, ...rest: Rest): Promise<R> => {
      const result = await this.govern(name, args, () => fn(args, ...rest));
      if (!result.ok) throw new ToolCallRefusedError(name, result.error);
      return result.value;
    };
    return governed;
  }

  /** Every function of `fns` governed under its key (see wrapToolFunc). */
  instrument<F extends ToolFunctions>(fns: F): Governed<F> {
    // fromEntries defines own properties: a tool named "__proto__" stays a tool.
    return Object.fromEntries(toolEntries(fns).map(([name, fn]) => [name, this.wrapToolFunc(name, fn)])) as unknown as Governed<F>;
  }

  /**
   * The core of every front door of the SDK: decide, record, run, record. `run` is called only
   * when the call is allowed; what it throws is recorded and rethrown.
   */
  async govern<T>(name: string, args: unknown, run: () => T | Promise<T>, shape: CallShape<T> = {}): Promise<GovernedResult<T>> {
    if (this.closing) return {ok: false, error: sdkRefusal('the thoth session is closed, so the call was not run', 'session-closed')};
    if (typeof name !== 'string' || name === '')
      return {ok: false, error: sdkRefusal('a tool call needs a non-empty tool name', 'protocol')};
    const requestId = shape.requestId ?? String(this.nextRequestId++);
    let started: StartedGovernance;
    try {
      started = await this.started;
    } catch (error) {
      return {ok: false, error: sdkRefusal(`thoth could not start its enforcer (${errorMessage(error)})`, 'governance-unavailable')};
    }
    return started.govern(name, args, run, {...shape, requestId});
  }

  /** @internal The tools/list hook of the policy in force (filtering and pins), with the context to run it in; undefined until governance is up or when it failed. */
  async toolsListHook(): Promise<{hook: ToolsListHook | undefined; context: DecisionContext; warn: (message: string) => void} | undefined> {
    try {
      const started = await this.started;
      const {toolsListHook, context} = started.governance;
      return {hook: toolsListHook, context, warn: started.warn};
    } catch {
      return undefined;
    }
  }

  /**
   * Ends the session: calls still running get a moment to finish, then SESSION_END is written and
   * the chain sealed (`thoth audit verify` reports an unsealed chain of a process that is gone).
   * Later calls are refused. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      openSessions.delete(this);
      await withTimeout(Promise.allSettled([...this.inFlight]), CLOSE_WAIT_MS);
      const started = await this.started.catch(() => undefined);
      await started?.close();
    })();
    return this.closing;
  }
}

/** A record of tool functions: each takes the tool's arguments (and anything else its caller passes). */
export type ToolFunctions = Record<string, (args: never, ...rest: never[]) => unknown>;

/** The same record, governed: each function keeps its parameters and resolves with what it returned. */
export type Governed<F extends ToolFunctions> = {[K in keyof F]: (...args: Parameters<F[K]>) => Promise<Awaited<ReturnType<F[K]>>>};

/** The own enumerable function-valued entries of `fns` (anything else is a mistake worth saying). */
export function toolEntries(fns: object): Array<[string, (args: unknown, ...rest: unknown[]) => unknown]> {
  if (typeof fns !== 'object' || fns === null) throw new TypeError('thoth-mcp/sdk: expected a record of tool functions');
  return Object.entries(fns).map(([name, fn]) => {
    if (typeof fn !== 'function') throw new TypeError(`thoth-mcp/sdk: the tool "${name}" is not a function`);
    return [name, fn as (args: unknown, ...rest: unknown[]) => unknown];
  });
}

/** Sessions the program never closed are closed when its event loop empties, so their chains are sealed. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('beforeExit', () => {
    for (const session of [...openSessions]) void session.close();
  });
}
