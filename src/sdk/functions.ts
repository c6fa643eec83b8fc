import type {GovernanceOptions} from './options.js';
import {ThothSession, toolEntries, type Governed, type ToolFunctions} from './session.js';

/** Options of an entry point: the session's options, or a session to share (one audit chain, one tool history). */
export type SdkOptions = GovernanceOptions | {session: ThothSession};

const sessions = new WeakMap<object, ThothSession>();

/** A new governed session (see ThothSession). Share it across entry points with `{session}`. */
export function createSession(options: GovernanceOptions = {}): ThothSession {
  return new ThothSession(options);
}

/** The session that governs what an entry point returned, to `close()` it or `ready()` it. */
export function sessionOf(governed: object): ThothSession | undefined {
  return sessions.get(governed);
}

/** The session `options` names, or a new one for them. */
export function sessionFor(options: SdkOptions | undefined, describe?: ConstructorParameters<typeof ThothSession>[1]): ThothSession {
  if (options !== undefined && 'session' in options) {
    if (!(options.session instanceof ThothSession)) throw new TypeError('thoth-mcp/sdk: option "session" is not a ThothSession');
    return options.session;
  }
  return new ThothSession(options, describe);
}

/** Remembers which session governs `governed` (sessionOf). */
export function governedBy<T extends object>(governed: T, session: ThothSession): T {
  sessions.set(governed, session);
  return governed;
}

/** `fn` governed as the tool `name` (ThothSession.wrapToolFunc): refusals throw ToolCallRefusedError. */
export function wrapToolFunc<A, R, Rest extends unknown[]>(
  name: string,
  fn: (args: A, ...rest: Rest) => R | Promise<R>,
  options?: SdkOptions,
): (args: A, ...rest: Rest) => Promise<R> {
  // Before a session starts: a mistake must not leave an empty session behind.
  if (typeof fn !== 'function') throw new TypeError(`thoth-mcp/sdk: the tool "${name}" is not a function`);
  const session = sessionFor(options);
  return governedBy(session.wrapToolFunc(name, fn), session);
}

/** The same record of tool functions, each governed under its key. */
export function instrument<F extends ToolFunctions>(fns: F, options?: SdkOptions): Governed<F> {
  toolEntries(fns);
  const session = sessionFor(options);
  return governedBy(session.instrument(fns), session);
}
