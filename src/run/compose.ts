import {homedir} from 'node:os';
import {basename} from 'node:path';

import {FileAuditSink} from '../audit/sink.js';
import {auditSettingsFromResolved, type AuditSettings} from '../audit/settings.js';
import type {DecisionContext} from '../core/decision.js';
import type {InlinePolicy} from '../policy/load.js';
import {createPolicySession, type PolicyGeneration, type PolicySessionInput} from '../policy/session.js';
import {isDirectory, serverDirectories} from '../policy/server-directories.js';
import {describeOverride, type ResolvedSettings, type SettingOverride} from '../settings/resolve.js';
import type {GovernanceHandle, SessionState} from '../governance/types.js';
import type {RunOptions} from '../core/run-flags.js';
import {Governor} from '../governance/governor.js';
import {SwitchableGovernance, type GovernanceState} from '../governance/switchable.js';
import {errorMessage} from '../core/errors.js';

export interface RunGovernance extends GovernanceHandle {
  /** Flushes and releases what governance holds (audit log, remote connections). */
  close(): Promise<void>;
}

export interface ComposeIo {
  env: NodeJS.ProcessEnv;
  /** The resolved settings (flags > env > managed preferences > profile > defaults). */
  settings: ResolvedSettings;
  warn(message: string): void;
}

/**
 * What a front door (`thoth run`, the SDK) tells the composition about the session it governs;
 * everything else comes from the resolved settings.
 */
export interface GovernanceRequest {
  agentId: string;
  /** --session-intent, or the SDK's sessionIntent. */
  sessionIntent?: string | undefined;
  /** Extra SESSION_START fields saying what is governed (thoth run: the upstream command line). */
  sessionStart: Record<string, unknown>;
  /** Where a relative path argument may resolve besides the working directory and the home (PathEnvironment.relativeBases). */
  relativeBases?: () => readonly string[];
  /**
   * A policy document handed over in memory (the SDK's policy object), in place of a policy file
   * flag: the managed location and a managed preference naming a file still win over it.
   * `origin` names it in warnings and SETTING_OVERRIDE_REFUSED.
   */
  inlinePolicy?: (InlinePolicy & {origin: string}) | undefined;
}

/**
 * `thoth run`'s governance: the front-door-neutral composition below, for the server's command
 * line (the agent id derived from it, SESSION_START naming it, relative paths against its directories).
 */
export async function composeRunGovernance(options: RunOptions, session: SessionState, io: ComposeIo): Promise<RunGovernance> {
  return composeGovernance(
    {
      agentId: options.agentId ?? deriveAgentId(options.command, options.args),
      sessionIntent: options.sessionIntent,
      sessionStart: {upstream: {command: options.command, args: options.args}},
      relativeBases: relativeBasesFor(options, session),
    },
    session,
    io,
  );
}

/**
 * The one place where a governed session assembles its governance, whichever front door it
 * came through (`thoth run`, the SDK): enforcer, step-up handling, tools/list hook and audit sink.
 * `thoth run` calls it after the server has been spawned, so whatever loads here does not delay
 * the server's start.
 */
export async function composeGovernance(request: GovernanceRequest, session: SessionState, io: ComposeIo): Promise<RunGovernance> {
  const context = buildContext(request, session, io.settings);
  context.endpointId = await endpointId(io);
  // Invalid THOTH_AUDIT_* settings throw here: governance fails to start, every call is refused.
  // --audit-dir reaches the settings through the resolver (settings/for-run.ts), where a managed
  // THOTH_AUDIT_DIR wins over it.
  const auditSettings = auditSettingsFromResolved(io.settings);
  const audit = createAuditSink(auditSettings, request, context, io);
  for (const override of io.settings.overrides) audit?.event('SETTING_OVERRIDE_REFUSED', context, overrideEventFields(override));
  // The control plane (docs/control-plane.md), started alongside the policy: only
  // with a tenant or a URL configured, and imported lazily so that a local run never loads undici.
  const controlPlane = controlPlaneConfigured(io.settings)
    ? startControlPlane(context, audit ? auditSettings.dir : undefined, io)
    : undefined;
  controlPlane?.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
  // The embedded enforcer: policy, intent, mode, approvals, pins (src/policy). It settles
  // context.mode and context.intent from the flags, intent_map.json and the policy.
  const {values, origins} = io.settings;
  // The policy decides the mode unless a layer above it chose one (flag, env, managed, profile).
  const modeSource = origins.enforcementMode?.source;
  const policy = await createPolicySession({
    ...policySource(request, io, audit, context),
    mode: modeSource === undefined || modeSource === 'default' ? undefined : values.enforcementMode,
    modeSource: modeSource === 'default' ? undefined : modeSource,
    intent: request.sessionIntent,
    // THOTH_FILTER_TOOLS / --no-filter-tools, resolved (managed wins); anything but an explicit off filters.
    filterTools: values.filterTools !== false,
    context,
    env: io.env,
    warn: io.warn,
    audit,
    reloadIntervalMs: values.policyReloadIntervalMs,
    // A grant of `thoth approve` counts only with its sealed record in this session's own trail.
    approvals: {trail: {auditDir: auditSettings.dir, keyFile: auditSettings.keyFile}, cliApprovals: values.cliApprovals},
    ...(request.relativeBases ? {relativeBases: request.relativeBases} : {}),
  });
  const fleet = await controlPlane?.catch(async (error: unknown) => {
    await policy.close();
    throw error;
  });
  // Per policy generation: with a usable remote enforcer, the embedded decision first, then the
  // remote one, the more restrictive wins; remote step-ups wait for central approval within the
  // policy's elicitation timeout (below the client's tool timeout). Otherwise the policy's
  // enforcer as it is. The audit sink is shared: one chain for the whole session.
  const stateFor = (generation: PolicyGeneration): GovernanceState => {
    const {enforcer, stepUp} = fleet
      ? fleet.govern(
          {enforcer: generation.enforcer, stepUp: generation.stepUp},
          generation.policy?.approvals.elicitationTimeoutMs ?? DEFAULT_HOLD_BUDGET_MS,
        )
      : generation;
    const governor = new Governor({enforcer, ...(stepUp ? {stepUp} : {}), ...(audit ? {audit} : {}), warn: io.warn});
    return {governor, context: generation.context, toolsListHook: generation.toolsListHook};
  };
  const handle = new SwitchableGovernance(stateFor(policy.current));
  // A new policy applies to the calls that start after it is loaded (docs/policy.md#policy-changes-reach-running-sessions).
  policy.onSwap((next, previous) => handle.swap(stateFor(next), next.toolsListKey !== previous.toolsListKey));
  policy.watch();
  return Object.assign(handle, {
    async close() {
      await policy.close();
      await audit?.close();
      // After the audit log is sealed, so that SESSION_END can still be shipped.
      await fleet?.close();
    },
  });
}

/**
 * Where the server may resolve a relative path, besides thoth's working directory and the
 * user's home (which path rules always use): the directories on its command line, found once
 * now, and the client's roots as the relay last learned them.
 */
function relativeBasesFor(options: RunOptions, session: SessionState): () => readonly string[] {
  const fromCommandLine = serverDirectories(options.args, {cwd: process.cwd(), home: homedir(), isDirectory});
  return () =>
    session.clientRoots === undefined || session.clientRoots.length === 0 ? fromCommandLine : [...fromCommandLine, ...session.clientRoots];
}

/** SETTING_OVERRIDE_REFUSED: which setting, what tried to set it and which managed preference won; never a value. */
export function overrideEventFields(override: SettingOverride): Record<string, unknown> {
  return {
    setting: override.name,
    attemptedSource: override.attempted.source,
    attempted: override.attempted.origin,
    managedOrigin: override.managed,
  };
}

/** What a remote step-up may hold a call for when no policy says (its elicitation timeout's default). */
const DEFAULT_HOLD_BUDGET_MS = 45_000;

/** A tenant (URLs derived) or an explicit enforcer/GovAPI URL: only then is anything ever sent. */
function controlPlaneConfigured(settings: ResolvedSettings): boolean {
  return settings.values.enforcerUrl !== undefined || settings.values.govapiUrl !== undefined;
}

async function startControlPlane(context: DecisionContext, auditDir: string | undefined, io: ComposeIo) {
  const {startRunControlPlane} = await import('./control-plane-session.js');
  return startRunControlPlane({
    settings: io.settings,
    env: io.env,
    endpointId: context.endpointId ?? 'unknown',
    // The shipper's spool is this session's audit directory (nothing to ship when the trail is off).
    auditDir,
    warn: io.warn,
  });
}

/**
 * Where the policy comes from: the settings' policy file (flag, env, managed preference), or the
 * front door's document in memory. A managed preference naming a file wins over that document as
 * over a flag: refused, on stderr and in the trail.
 */
function policySource(
  request: GovernanceRequest,
  io: ComposeIo,
  audit: FileAuditSink | undefined,
  context: DecisionContext,
): Pick<PolicySessionInput, 'policyFile' | 'policyFileOrigin' | 'inlinePolicy'> {
  const {values, origins} = io.settings;
  const inline = request.inlinePolicy;
  if (inline === undefined) return {policyFile: values.policyFile, policyFileOrigin: origins.policyFile};
  if (origins.policyFile?.source === 'managed') {
    const override: SettingOverride = {
      key: 'policyFile',
      name: 'THOTH_POLICY_FILE',
      attempted: {source: 'flag', origin: inline.origin},
      managed: origins.policyFile.origin,
    };
    io.warn(describeOverride(override));
    audit?.event('SETTING_OVERRIDE_REFUSED', context, overrideEventFields(override));
    return {policyFile: values.policyFile, policyFileOrigin: origins.policyFile};
  }
  return {inlinePolicy: {label: inline.label, text: inline.text}, policyFileOrigin: {source: 'flag', origin: inline.origin}};
}

/** The audit trail (src/audit): this session's own hash chain under --audit-dir / THOTH_AUDIT_DIR. */
function createAuditSink(
  settings: AuditSettings,
  request: GovernanceRequest,
  context: DecisionContext,
  io: ComposeIo,
): FileAuditSink | undefined {
  if (!settings.enabled) {
    io.warn('the audit trail is off (THOTH_AUDIT=off): tool calls are not recorded');
    return undefined;
  }
  return new FileAuditSink({settings, context, warn: io.warn, sessionStart: request.sessionStart});
}

export function buildContext(
  request: Pick<GovernanceRequest, 'agentId' | 'sessionIntent'>,
  session: SessionState,
  settings: ResolvedSettings,
): DecisionContext {
  const {values} = settings;
  const context: DecisionContext = {
    agentId: request.agentId,
    sessionId: session.sessionId,
    // Provisional: createPolicySession settles mode and intent with the policy.
    mode: values.enforcementMode ?? 'progressive',
    sessionToolCalls: session.sessionToolCalls,
  };
  if (request.sessionIntent !== undefined) context.intent = request.sessionIntent;
  if (values.tenantId !== undefined) context.tenantId = values.tenantId;
  if (values.userId !== undefined) context.userId = values.userId;
  // The relay fills the session in as it goes (the client introduces itself in `initialize`,
  // possibly before governance is ready): every decision reads it through this reference.
  context.session = session;
  return context;
}

/** The documented identity order (docs/fleet.md); on macOS/Windows this runs ioreg/reg.exe, so never before the spawn. */
async function endpointId(io: ComposeIo): Promise<string> {
  const {resolveEndpointIdentity} = await import('../fleet/identity.js');
  try {
    return (await resolveEndpointIdentity({settings: io.settings, env: io.env})).endpointId;
  } catch (error) {
    io.warn(`endpoint identity could not be resolved (${errorMessage(error)}); recording "unknown"`);
    return 'unknown';
  }
}

/** Without --agent-id: the package an `npx`/`uvx` runs, else the executable's name. */
export function deriveAgentId(command: string, args: readonly string[]): string {
  const program = basename(command)
    .replace(/\.(exe|cmd|bat)$/i, '')
    .toLowerCase();
  if (['npx', 'uvx', 'bunx', 'pnpx'].includes(program)) {
    const target = args.find((arg) => !arg.startsWith('-'));
    if (target) return target.replace(/@[^@/]+$/, '');
  }
  return basename(command).replace(/\.(exe|cmd|bat)$/i, '');
}
