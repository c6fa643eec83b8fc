import {join} from 'node:path';

import {AUDIT_KEY_FILE_NAME} from '../settings/audit-defaults.js';
import {errorMessage} from '../core/errors.js';
import type {DecisionContext, EnforcementMode} from '../core/decision.js';
import type {AuditSink} from '../governance/types.js';
import {thothHome} from '../profile/paths.js';
import {DEFAULT_POLICY_RELOAD_INTERVAL_MS} from '../settings/definitions.js';
import type {CompileOptions} from './compile.js';
import {
  contextWith,
  failedGeneration,
  policyGeneration,
  sameGeneration,
  SessionResources,
  type PolicyGeneration,
  type SessionApprovals,
} from './generation.js';
import {intentMapPath, readIntentMap} from './intent-map.js';
import {policyCandidates, policyFromSnapshot, type InlinePolicy, type PolicySnapshot} from './load.js';
import {resolveSessionSettings} from './session-settings.js';
import {PolicySourceWatcher, type PolicyChange} from './source-watch.js';

export {protectedPaths} from './protected-paths.js';
export type {PolicyGeneration} from './generation.js';

export interface PolicySessionInput {
  /** --policy, or THOTH_POLICY_FILE as the settings resolved it. */
  policyFile?: string | undefined;
  /** A policy document in memory (the SDK's policy object), in place of --policy; policyFileOrigin says who handed it over. */
  inlinePolicy?: InlinePolicy | undefined;
  /** Where policyFile came from: a managed preference makes it a managed source (it wins over flags and environment). */
  policyFileOrigin?: {source: 'flag' | 'env' | 'managed' | 'profile' | 'default'; origin: string} | undefined;
  /** --enforcement-mode, or the mode a settings layer above the policy chose. */
  mode?: EnforcementMode | undefined;
  /** Where `mode` came from (recorded in POLICY_LOADED); default 'flag'. */
  modeSource?: 'flag' | 'env' | 'managed' | 'profile' | undefined;
  /** --session-intent. */
  intent?: string | undefined;
  /** false with --no-filter-tools. */
  filterTools: boolean;
  /** The session's context; its `mode` and `intent` are set here from flags, intent map and policy. */
  context: DecisionContext;
  env: NodeJS.ProcessEnv;
  warn(message: string): void;
  /** For POLICY_LOADED, POLICY_LOAD_FAILED, APPROVAL_*, PIN_* and TOOLS_HIDDEN events. */
  audit?: AuditSink | undefined;
  now?: () => Date;
  /** Tests: a stand-in for the file-system root in front of the managed policy location. */
  managedRoot?: string;
  compile?: CompileOptions;
  /** How often the policy sources are checked for changes once `watch()` is called (THOTH_POLICY_RELOAD_INTERVAL_MS). */
  reloadIntervalMs?: number;
  /** Where grants are checked and whether command-line grants count; default: the profile's audit trail, on. */
  approvals?: SessionApprovals;
  /**
   * The directories besides thoth's working directory and the user's home that the server may
   * resolve a relative path against (its command line's directories, the client's roots): path
   * rules read relative arguments against each (PathEnvironment.relativeBases).
   */
  relativeBases?: () => readonly string[];
}

/**
 * A policy the administrator installed governs; a --policy or THOTH_POLICY_FILE that named
 * another file was refused. Say so on stderr and in the trail, as for other managed settings.
 */
function recordIgnoredPolicyFile(
  input: PolicySessionInput,
  generation: PolicyGeneration,
  warn: (message: string) => void,
  event: (type: string, context: DecisionContext, fields: Record<string, unknown>) => void,
): void {
  const source = generation.policy?.source;
  // A managed preference naming the file was settled by the settings resolver, overrides included.
  if (source?.kind !== 'managed' || input.policyFileOrigin?.source === 'managed') return;
  const attempts: Array<{source: 'flag' | 'env'; origin: string; path: string}> = [];
  const origin = input.policyFileOrigin;
  const named = input.inlinePolicy?.label ?? input.policyFile;
  if (named !== undefined && named !== '' && origin?.source !== 'managed') {
    attempts.push({source: origin?.source === 'env' ? 'env' : 'flag', origin: origin?.origin ?? '--policy', path: named});
  }
  const fromEnv = input.env['THOTH_POLICY_FILE'];
  if (fromEnv !== undefined && fromEnv !== '' && fromEnv !== input.policyFile)
    attempts.push({source: 'env', origin: 'THOTH_POLICY_FILE', path: fromEnv});
  for (const attempt of attempts) {
    warn(`${attempt.origin} named a policy file, but the policy installed at ${source.path} is managed and governs this session`);
    event('SETTING_OVERRIDE_REFUSED', generation.context, {
      setting: 'THOTH_POLICY_FILE',
      attemptedSource: attempt.source,
      attempted: attempt.origin,
      managedOrigin: source.path,
    });
  }
}

export interface PolicySession {
  /** The generation in force. Replaced whole when the policy changes; read it once per call. */
  readonly current: PolicyGeneration;
  /** Called after each swap (never for a change that leaves the decisions as they were). */
  onSwap(listener: (next: PolicyGeneration, previous: PolicyGeneration) => void): void;
  /** Starts checking the policy sources for changes (after the caller has subscribed). */
  watch(): void;
  /** One check now, as the timer would run it (tests). */
  checkNow(): Promise<PolicyChange | undefined>;
  /** Stops watching (waiting for a reload in progress) and saves the baseline. */
  close(): Promise<void>;
}

interface Failure {
  message: string;
  ruleId: string;
  /** POLICY_LOAD_FAILED fields naming what failed. */
  fields: Record<string, unknown>;
}

type Settled = {ok: true; generation: PolicyGeneration; notes: string[]} | {ok: false; failure: Failure};

/**
 * The embedded enforcer of one `thoth run` session: loads the policy (failing closed), settles
 * mode and intent, builds what depends on the policy (enforcer, approvals, tools/list hook) over
 * what outlives it (baseline, pins), and rebuilds that whenever the policy source changes.
 *
 * A reload that fails (bad JSON, schema violation, a named file deleted) fails closed exactly
 * as at start-up, and the next valid file recovers: keeping the last good policy instead would
 * let a broken push leave a fleet on a policy the security team has already replaced, without
 * anything refusing calls to say so.
 */
export async function createPolicySession(input: PolicySessionInput): Promise<PolicySession> {
  const {env, warn} = input;
  const home = thothHome(env);
  const now = input.now ?? (() => new Date());
  const event = (type: string, ctx: DecisionContext, fields: Record<string, unknown>): void => {
    try {
      input.audit?.event(type, ctx, fields);
    } catch (error) {
      warn(`audit event ${type} could not be recorded: ${errorMessage(error)}`);
    }
  };
  const approvals: SessionApprovals = input.approvals ?? {
    trail: {auditDir: join(home, 'audit'), keyFile: join(home, AUDIT_KEY_FILE_NAME)},
    cliApprovals: true,
  };
  let current: PolicyGeneration;
  const resources = new SessionResources({
    home,
    agentId: input.context.agentId,
    now,
    warn,
    event: (type, fields) => event(type, current.context, fields),
  });
  const listeners: Array<(next: PolicyGeneration, previous: PolicyGeneration) => void> = [];

  const compile: CompileOptions | undefined =
    input.relativeBases === undefined
      ? input.compile
      : {...input.compile, paths: {...input.compile?.paths, relativeBases: input.relativeBases}};

  /** Loads a snapshot into a generation whose context is `context` (settled in place). */
  const settle = async (snapshot: PolicySnapshot, context: DecisionContext): Promise<Settled> => {
    const loaded = await policyFromSnapshot(snapshot, compile);
    if (!loaded.ok) {
      const {source} = loaded.failure;
      const status = snapshot.content !== undefined ? 'invalid' : 'error';
      return {
        ok: false,
        failure: {
          message: loaded.failure.message,
          ruleId: 'policy:invalid',
          fields: {status, source: source.kind, policyFile: source.path},
        },
      };
    }
    const {policy} = loaded;
    const intentMap = await readIntentMap(home);
    if (!intentMap.ok)
      return {
        ok: false,
        failure: {
          message: intentMap.message,
          ruleId: 'intent-map:invalid',
          fields: {status: 'invalid', source: 'intent_map', policyFile: intentMapPath(home)},
        },
      };
    const settings = resolveSessionSettings(policy, {
      agentId: context.agentId,
      flagMode: input.mode,
      flagModeSource: input.modeSource,
      envMode: env['THOTH_ENFORCEMENT_MODE'],
      flagIntent: input.intent,
      intentMap: intentMap.map,
    });
    context.mode = settings.mode;
    if (settings.intent !== undefined) context.intent = settings.intent;
    else delete context.intent;
    const generation = await policyGeneration({
      policy,
      settings,
      context,
      resources,
      home,
      filterTools: input.filterTools,
      now,
      warn,
      event,
      approvals,
    });
    return {ok: true, generation, notes: [...intentMap.warnings, ...settings.notes]};
  };

  /** A failed load's generation (settling `context`): the flags' mode and intent, else those in force until now. */
  const failed = (failure: Failure, context: DecisionContext, previous?: PolicyGeneration): PolicyGeneration => {
    context.mode = input.mode ?? previous?.context.mode ?? context.mode;
    const intent = input.intent ?? (previous ? previous.context.intent : context.intent);
    if (intent !== undefined) context.intent = intent;
    else delete context.intent;
    return failedGeneration(context, failure.message, failure.ruleId);
  };

  const loadedFields = (generation: PolicyGeneration): Record<string, unknown> => {
    const {policy, settings} = generation;
    if (!policy || !settings) return {};
    return {
      status: policy.source.kind === 'builtin' ? 'default' : 'loaded',
      source: policy.source.kind,
      ...(policy.source.kind === 'builtin' ? {} : {policyFile: policy.source.path}),
      policyVersion: policy.version,
      policySha256: policy.hash.replace(/^sha256:/, ''),
      rules: policy.ruleCount,
      modeSource: settings.modeSource,
      intentSource: settings.intentSource,
    };
  };

  const watcher = new PolicySourceWatcher({
    candidates: policyCandidates({
      ...(input.policyFileOrigin?.source === 'managed'
        ? {managedFile: input.policyFile}
        : {flag: input.policyFile, inline: input.inlinePolicy}),
      env,
      ...(input.managedRoot !== undefined ? {managedRoot: input.managedRoot} : {}),
    }),
    intervalMs: input.reloadIntervalMs ?? DEFAULT_POLICY_RELOAD_INTERVAL_MS,
    onChange: (change) => reload(change),
    warn,
  });

  const reload = async (change: PolicyChange): Promise<void> => {
    const previous = current;
    const reloadFields = {reload: true, change: change.change, previousVersion: previous.policy?.version ?? null};
    // A context of its own: the generation in force keeps its mode and intent until the swap.
    const context = contextWith(input.context, previous.context.mode, previous.context.intent);
    let settled: Settled;
    try {
      settled = await settle(change.snapshot, context);
    } catch (error) {
      settled = {
        ok: false,
        failure: {
          message: `the policy could not be reloaded (${errorMessage(error)})`,
          ruleId: 'policy:invalid',
          fields: {status: 'error'},
        },
      };
    }
    const next = settled.ok ? settled.generation : failed(settled.failure, context, previous);
    if (sameGeneration(previous, next)) {
      warn(`the policy source changed (${change.change}) but what it decides did not; nothing to reload`);
      return;
    }
    current = next;
    if (!settled.ok) {
      const {failure} = settled;
      warn(`policy reload: ${failure.message}; every tool call will be refused until it is fixed (${change.change})`);
      event('POLICY_LOAD_FAILED', current.context, {...failure.fields, message: failure.message, ...reloadFields});
    } else {
      for (const note of settled.notes) warn(note);
      const {policy} = current;
      warn(`policy reloaded (${change.change}): ${policy!.version} from ${policy!.source.path}, ${current.context.mode} mode`);
      event('POLICY_LOADED', current.context, {...loadedFields(current), ...reloadFields});
    }
    for (const listener of listeners) {
      try {
        listener(current, previous);
      } catch (error) {
        warn(`after the policy reload: ${errorMessage(error)}`);
      }
    }
  };

  const first = await settle(await watcher.initial(), input.context);
  if (first.ok) {
    current = first.generation;
    for (const note of first.notes) warn(note);
    event('POLICY_LOADED', current.context, {...loadedFields(current), reload: false});
    recordIgnoredPolicyFile(input, current, warn, event);
  } else {
    warn(`${first.failure.message}; every tool call will be refused until it is fixed`);
    current = failed(first.failure, input.context);
    event('POLICY_LOAD_FAILED', current.context, {...first.failure.fields, message: first.failure.message, reload: false});
  }

  return {
    get current() {
      return current;
    },
    onSwap: (listener) => listeners.push(listener),
    watch: () => watcher.start(),
    checkNow: () => watcher.check(),
    async close() {
      await watcher.stop();
      await resources.close();
    },
  };
}
