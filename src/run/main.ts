import {randomUUID} from 'node:crypto';

import {GOVERNED_SESSION_ENV} from '../approvals/governed-session.js';
import {describeError, formatErrorLine} from '../util/error-format.js';
import type {RunSettings} from '../settings/for-run.js';
import {createDiagnostics} from '../proxy/diagnostics.js';
import type {SessionState} from '../governance/types.js';
import {Relay} from '../proxy/relay.js';
import {planSpawn} from '../proxy/resolve-executable.js';
import {parseRunArgs, type RunOptions} from '../core/run-flags.js';
import {describeExit, exitCodeOf, startUpstream} from '../proxy/upstream.js';
import {garbageCollector} from '../util/garbage-collector.js';
import {withTimeout} from '../util/with-timeout.js';

/**
 * Secrets meant for thoth are not passed on to a third-party server, nor is wrap-config's record
 * of the entry's original env (it may hold the values thoth replaced).
 */
const NOT_FOR_UPSTREAM = ['THOTH_API_KEY', 'THOTH_GOVAPI_BEARER_TOKEN', 'THOTH_GOVAPI_API_KEY', 'THOTH_WRAP_ORIGINAL'];
const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * `thoth run`: spawn the server first (the client is waiting for it), then load governance,
 * relay until either side ends, and exit with the server's exit code.
 */
export async function runMain(argv: readonly string[]): Promise<void> {
  let options: RunOptions;
  let plan;
  let runSettings: RunSettings;
  try {
    options = parseRunArgs(argv);
    // Settings come before the spawn: a forbidden user (root in fleet use) must not start the
    // server at all, and an invalid managed setting fails closed here.
    const {prepareRunSettings} = await import('../settings/for-run.js');
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
  const {settings} = runSettings;
  const diagnostics = createDiagnostics(settings.values.logFile ? {logFile: settings.values.logFile} : {});
  for (const warning of runSettings.warnings) diagnostics.warn(warning);
  const governance = import('./compose.js').then((compose) =>
    compose.composeRunGovernance(options, session, {env: process.env, settings, warn: (message) => diagnostics.warn(message)}),
  );
  governance.catch((error: unknown) => diagnostics.warn(`governance failed to start; every tool call will be refused: ${String(error)}`));

  const relay = new Relay({
    client: {input: process.stdin, output: process.stdout},
    upstream: {input: upstream.stdin, output: upstream.stdout},
    governance,
    session,
    diagnostics,
    maxMessageBytes: options.maxMessageBytes,
    collectGarbage: garbageCollector(),
  });
  relay.start();

  for (const signal of FORWARDED_SIGNALS) {
    process.on(signal, () => {
      upstream.forwardSignal(signal);
      // A server that ignores the signal is stopped the hard way.
      void upstream.shutdown(options.shutdownGraceMs);
    });
  }
  void relay.clientDone.then(() => upstream.shutdown(options.shutdownGraceMs));

  const exit = await upstream.exited;
  if (exit.spawnError) diagnostics.warn(`the server could not be started: ${exit.spawnError.message}`);
  await upstream.outputClosed(1000);
  relay.upstreamExited(describeExit(exit));
  await withTimeout(relay.settle(), 2000);
  const setup = await withTimeout(
    governance.catch(() => undefined),
    2000,
  );
  if (setup) await withTimeout(setup.close(), 2000);
  await withTimeout(relay.flushClient(), 2000);
  await diagnostics.close();
  process.exit(exitCodeOf(exit));
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
