import {basename} from 'node:path';

import {AllowAllEnforcer, isEnforcementMode, type DecisionContext, type EnforcementMode, type Enforcer} from '../enforcer/types.js';
import type {GovernanceHandle, SessionState} from '../proxy/relay.js';
import type {RunOptions} from '../proxy/run-flags.js';
import {Governor} from './governor.js';

export interface GovernanceSetup extends GovernanceHandle {
  /** Flushes and releases what governance holds (audit log, remote connections). */
  close(): Promise<void>;
}

export interface ComposeIo {
  env: NodeJS.ProcessEnv;
  warn(message: string): void;
}

/**
 * The one place where `thoth run` assembles its governance from the run options: enforcer,
 * step-up handling, tools/list hook and audit sink. Called after the server has been spawned,
 * so whatever loads here does not delay the server's start.
 */
export async function createGovernance(options: RunOptions, session: SessionState, io: ComposeIo): Promise<GovernanceSetup> {
  const context = buildContext(options, session, io.env);
  const enforcer: Enforcer = new AllowAllEnforcer();
  const governor = new Governor({enforcer, warn: io.warn});
  return {
    governor,
    context,
    async close() {
      await enforcer.close?.();
      await governor.auditSink.close();
    },
  };
}

export function buildContext(options: RunOptions, session: SessionState, env: NodeJS.ProcessEnv): DecisionContext {
  const envMode = env['THOTH_ENFORCEMENT_MODE'];
  const mode: EnforcementMode = options.enforcementMode ?? (isEnforcementMode(envMode) ? envMode : 'progressive');
  const context: DecisionContext = {
    agentId: options.agentId ?? nonEmpty(env['THOTH_AGENT_ID']) ?? deriveAgentId(options.command, options.args),
    sessionId: session.sessionId,
    mode,
    sessionToolCalls: session.sessionToolCalls,
  };
  const intent = options.sessionIntent;
  const tenantId = options.tenantId ?? nonEmpty(env['THOTH_TENANT_ID']);
  const userId = nonEmpty(env['THOTH_USER_ID']);
  const endpointId = nonEmpty(env['THOTH_ENDPOINT_ID']);
  if (intent !== undefined) context.intent = intent;
  if (tenantId !== undefined) context.tenantId = tenantId;
  if (userId !== undefined) context.userId = userId;
  if (endpointId !== undefined) context.endpointId = endpointId;
  // The client introduces itself in `initialize`, possibly before governance is ready.
  Object.defineProperty(context, 'client', {get: () => session.client, enumerable: true});
  return context;
}

/** Without --agent-id: the package an `npx`/`uvx` runs, else the executable's name. */
export function deriveAgentId(command: string, args: readonly string[]): string {
  const program = basename(command).replace(/\.(exe|cmd|bat)$/i, '').toLowerCase();
  if (['npx', 'uvx', 'bunx', 'pnpx'].includes(program)) {
    const target = args.find((arg) => !arg.startsWith('-'));
    if (target) return target.replace(/@[^@/]+$/, '');
  }
  return basename(command).replace(/\.(exe|cmd|bat)$/i, '');
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
