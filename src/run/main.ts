import {randomUUID} from 'node:crypto';

import {GOVERNED_SESSION_ENV} from '../approvals/governed-session.js';
import {describeError, formatErrorLine} from '../util/error-format.js';
import {prepareRunSettings, type RunSettings} from '../settings/for-run.js';
import type {SessionState} from '../governance/types.js';
import {planSpawn} from '../proxy/resolve-executable.js';
import {parseRunArgs, type RunOptions} from '../core/run-flags.js';
import {startUpstream} from '../proxy/upstream.js';

/**
 * Secrets meant for thoth are not passed on to a third-party server, nor is wrap-config's record
 * of the entry's original env (it may hold the values thoth replaced).
 */
const NOT_FOR_UPSTREAM = ['THOTH_API_KEY', 'THOTH_GOVAPI_BEARER_TOKEN', 'THOTH_GOVAPI_API_KEY', 'THOTH_WRAP_ORIGINAL'];
const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * `thoth run`: spawn the server first (the client is waiting for it), then load the rest of the
 * session (./relay-session.ts: diagnostics, the relay, governance) while the server boots, relay
 * until either side ends, and exit with the server's exit code.
 *
 * This module is what stands between the client's launch and the server's: it imports only what
 * the spawn needs (flags, settings, the executable, the child), statically, so that the build's
 * bundle (dist/run-bundle/) loads it in one go.
 */
export async function runMain(argv: readonly string[]): Promise<void> {
  let options: RunOptions;
  let plan;
  let runSettings: RunSettings;
  try {
    options = parseRunArgs(argv);
    // Settings come before the spawn: a forbidden user (root in fleet use) must not start the
    // server at all, and an invalid managed setting fails closed here.
    runSettings = await prepareRunSettings(options);
    plan = planSpawn(options.command, options.args);
  } catch (error) {
    const described = describeError(error);
    process.stderr.write(formatErrorLine(described).replace(/^thoth: /, '[thoth] '));
    process.exitCode = described.exitCode;
    return;
  }

  const session: SessionState = {sessionId: randomUUID(), sessionToolCalls: []};
  const upstream = startUpstream(plan, {env: upstreamEnvironment(process.env, session.sessionId)});
  for (const signal of FORWARDED_SIGNALS) {
    process.on(signal, () => {
      upstream.forwardSignal(signal);
      // A server that ignores the signal is stopped the hard way.
      void upstream.shutdown(options.shutdownGraceMs);
    });
  }
  const {relaySession} = await import('./relay-session.js');
  await relaySession({options, runSettings, session, upstream});
}

/**
 * The server's environment. It also carries the session id under THOTH_GOVERNED_SESSION, so that
 * `thoth approve` run by whatever the server starts (an agent's shell) knows it is inside a
 * governed session and refuses (approvals/governed-session.ts; it checks the parent processes too).
 */
export function upstreamEnvironment(env: NodeJS.ProcessEnv, sessionId?: string): NodeJS.ProcessEnv {
  const copy = {...env};
  for (const name of NOT_FOR_UPSTREAM) delete copy[name];
  if (sessionId !== undefined) copy[GOVERNED_SESSION_ENV] = sessionId;
  return copy;
}
