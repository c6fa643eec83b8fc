import type {RunOptions} from '../core/run-flags.js';
import type {SessionState} from '../governance/types.js';
import {createDiagnostics} from '../proxy/diagnostics.js';
import {Relay} from '../proxy/relay.js';
import {describeExit, exitCodeOf, type Upstream} from '../proxy/upstream.js';
import type {RunSettings} from '../settings/for-run.js';
import {withTimeout} from '../util/with-timeout.js';
import {garbageCollector} from '../util/garbage-collector.js';

export interface RelaySessionInput {
  options: RunOptions;
  runSettings: RunSettings;
  session: SessionState;
  /** The server, spawned already (run/main.ts); its output waits in the pipe until the relay reads it. */
  upstream: Upstream;
}

/**
 * `thoth run` once the server is spawned: loaded while the server boots, so that none of this
 * delays its start. Governance (./compose.ts) loads alongside; the relay holds every tools/call
 * until it is in force. Relays until either side ends, then exits with the server's exit code.
 */
export async function relaySession({options, runSettings, session, upstream}: RelaySessionInput): Promise<void> {
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
