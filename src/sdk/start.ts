import {Writable} from 'node:stream';

import {composeGovernance, type RunGovernance} from '../run/compose.js';
import {createDiagnostics} from '../proxy/diagnostics.js';
import type {SessionState} from '../governance/types.js';
import {prepareRunSettings} from '../settings/for-run.js';
import {governCall, type CallShape, type GovernedResult} from './govern-call.js';
import {SDK_FLAG_ORIGINS, type GovernanceOptions, type SessionPlan, type SettingsIo} from './options.js';

/**
 * The heavy half of an SDK session, loaded on its first use (importing the SDK stays cheap):
 * settings resolved exactly as `thoth run` resolves them (profile bootstrap, managed preferences,
 * the run-user check), then the same composition `thoth run` uses.
 */
export interface StartedGovernance {
  governance: RunGovernance;
  warn(message: string): void;
  /** One governed call (govern-call.ts). */
  govern<T>(name: string, args: unknown, run: () => T | Promise<T>, shape: CallShape<T> & {requestId: string}): Promise<GovernedResult<T>>;
  /** Seals the audit trail (SESSION_END), stops policy watching and the control plane, closes the log file. */
  close(): Promise<void>;
}

export async function startGovernance(
  plan: SessionPlan,
  session: SessionState,
  options: GovernanceOptions,
  sessionStart: Record<string, unknown>,
  track: (running: Promise<unknown>) => void,
  settingsIo: SettingsIo = {},
): Promise<StartedGovernance> {
  const env = options.env ?? process.env;
  // Invalid settings, or root where the fleet forbids it, throw here: every call is then refused.
  const {settings, warnings} = await prepareRunSettings(plan.flags, {...settingsIo, env, flagOrigins: SDK_FLAG_ORIGINS});
  const onWarning = options.onWarning;
  const diagnostics = createDiagnostics({
    // A program that takes the warnings itself gets no copy on its stderr; THOTH_LOG_FILE still gets one.
    stderr: onWarning ? discard() : process.stderr,
    ...(settings.values.logFile ? {logFile: settings.values.logFile} : {}),
  });
  const warn = (message: string): void => {
    diagnostics.warn(message);
    onWarning?.(message);
  };
  for (const warning of warnings) warn(warning);
  let governance: RunGovernance;
  try {
    governance = await composeGovernance(
      {agentId: plan.agentId, sessionIntent: plan.sessionIntent, sessionStart, inlinePolicy: plan.inlinePolicy},
      session,
      {env, settings, warn},
    );
  } catch (error) {
    await diagnostics.close();
    throw error;
  }
  const callSession = {governance, state: session, warn, track};
  return {
    governance,
    warn,
    govern: (name, args, run, shape) => governCall(callSession, name, args, run, shape),
    async close() {
      await governance.close();
      await diagnostics.close();
    },
  };
}

function discard(): NodeJS.WritableStream {
  return new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
}
