import {basename, extname} from 'node:path';

import {isEnforcementMode, type EnforcementMode} from '../core/decision.js';
import {BUILTIN_POLICY} from '../policy/builtin-policy.js';
import type {PolicyDocument} from '../policy/model.js';
import type {SettingKey} from '../settings/definitions.js';
import type {ResolveSettingsOptions} from '../settings/resolve.js';
import type {RunSettingFlags} from '../settings/for-run.js';
import {optionError} from './errors.js';

/**
 * The options of every SDK entry point. Those that are settings act like the flags of
 * `thoth run` (flags > environment > managed preferences > settings.json > defaults), and like
 * flags they lose to managed preferences for the settings where a managed value wins (policy
 * file, audit directory, mode...): the SDK is another front door, not a way around the fleet's
 * settings.
 */
export interface GovernanceOptions {
  /**
   * Who is calling: the name policies refer to under `agents` (`--agent-id`). Default: the
   * program's file name without extension (`agent` for `node agent.mjs`); for governClient, the
   * name the MCP server gave in `initialize`.
   */
  agentId?: string;
  /**
   * Tools this agent is approved to call (exact names or globs): the agent's `approved_scope`
   * in the policy the program supplies (the `policy` object, or the built-in policy when there
   * is none). Cannot be combined with a policy file: set `approved_scope` in the file.
   */
  approvedScope?: string | readonly string[];
  /** `--tenant-id` (THOTH_TENANT_ID). */
  tenantId?: string;
  /** `--enforcement-mode`: progressive, step_up, block or observe (THOTH_ENFORCEMENT_MODE). */
  enforcement?: EnforcementMode;
  /** `--session-intent`: why this session exists; the intent's tools are the only ones it may call. */
  sessionIntent?: string;
  /**
   * A policy file (`--policy`; reloaded when it changes) or a policy document (validated against
   * schemas/policy.schema.json when the session starts). A policy installed at the managed
   * location or named by managed preferences wins over either.
   */
  policy?: string | PolicyDocument;
  /** `--audit-dir` (THOTH_AUDIT_DIR; default ~/.thoth/audit; a managed THOTH_AUDIT_DIR wins). */
  auditDir?: string;
  /** The environment settings are read from (THOTH_HOME, THOTH_*). Default: process.env. */
  env?: NodeJS.ProcessEnv;
  /**
   * thoth's diagnostics (a step-up's approve command, policy reloads, refused overrides): one line
   * each, for the operator, never the model. Default: stderr with a `[thoth]` prefix (and
   * THOTH_LOG_FILE when set).
   */
  onWarning?: (message: string) => void;
}

/**
 * How settings are read besides `env` (managed preferences, platform, home, working directory).
 * Not an option: a program could otherwise switch managed preferences off. Tests pass it to the
 * ThothSession constructor.
 */
export type SettingsIo = Omit<ResolveSettingsOptions, 'flags' | 'flagOrigins' | 'env' | 'profileDir'>;

/** How the settings resolver names the SDK's options in origins, warnings and refused overrides. */
export const SDK_FLAG_ORIGINS: Partial<Record<SettingKey, string>> = {
  tenantId: 'tenantId option (SDK)',
  enforcementMode: 'enforcement option (SDK)',
  policyFile: 'policy option (SDK)',
  auditDir: 'auditDir option (SDK)',
};

/** What `policy` is called where a file name would appear (errors, POLICY_LOADED). */
export const INLINE_POLICY_LABEL = '<sdk policy object>';

export interface SessionPlan {
  agentId: string;
  sessionIntent: string | undefined;
  /** The options that are settings, as `thoth run`'s flags. */
  flags: RunSettingFlags;
  /** The program's policy document (policy object and/or approvedScope), as JSON text. */
  inlinePolicy: {label: string; text: string; origin: string} | undefined;
}

/**
 * Checks the options and turns them into what the composition takes. Pure; throws
 * SDK_OPTION_INVALID (one line naming the option) for a value that cannot be used, at the call
 * that passed it rather than at the first tool call.
 */
export function planSession(options: GovernanceOptions, defaultAgentId: () => string): SessionPlan {
  const agentId = options.agentId ?? defaultAgentId();
  if (typeof agentId !== 'string' || agentId === '' || agentId.length > 256)
    throw optionError('agentId', 'must be a non-empty string of at most 256 characters', 'pass the name your policy uses under "agents"');
  for (const name of ['tenantId', 'sessionIntent', 'auditDir'] as const) {
    const value = options[name];
    if (value !== undefined && (typeof value !== 'string' || value === ''))
      throw optionError(name, 'must be a non-empty string', 'or leave it out');
  }
  if (options.enforcement !== undefined && !isEnforcementMode(options.enforcement))
    throw optionError('enforcement', `is ${JSON.stringify(options.enforcement)}`, 'use progressive, step_up, block or observe');
  const scope = scopeOf(options.approvedScope);
  const policy = options.policy;
  if (policy !== undefined && typeof policy !== 'string' && (typeof policy !== 'object' || policy === null || Array.isArray(policy)))
    throw optionError('policy', 'must be a policy file path or a policy object', 'see docs/policy.md');
  if (typeof policy === 'string' && policy === '') throw optionError('policy', 'is empty', 'name a policy file or pass a policy object');
  if (typeof policy === 'string' && scope !== undefined)
    throw optionError('approvedScope', 'cannot be combined with a policy file', `set agents.${agentId}.approved_scope in ${policy}`);

  const flags: RunSettingFlags = {};
  if (options.tenantId !== undefined) flags.tenantId = options.tenantId;
  if (options.enforcement !== undefined) flags.enforcementMode = options.enforcement;
  if (options.auditDir !== undefined) flags.auditDir = options.auditDir;
  if (typeof policy === 'string') flags.policy = policy;

  let document: PolicyDocument | undefined = typeof policy === 'object' ? policy : undefined;
  if (scope !== undefined) document = withApprovedScope(document, agentId, scope);
  return {
    agentId,
    sessionIntent: options.sessionIntent,
    flags,
    inlinePolicy:
      document === undefined ? undefined : {label: INLINE_POLICY_LABEL, text: policyText(document), origin: SDK_FLAG_ORIGINS.policyFile!},
  };
}

function scopeOf(value: GovernanceOptions['approvedScope']): string | string[] | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && value !== '') return value;
  if (Array.isArray(value) && value.every((item) => typeof item === 'string' && item !== '')) return [...(value as string[])];
  throw optionError('approvedScope', 'must be a tool name or glob, or a list of them', 'e.g. ["read_file", "search_*"]');
}

/**
 * The program's policy with `scope` as the agent's approved scope; without a policy object, the
 * built-in policy (its credential-file rule included) with that scope.
 */
function withApprovedScope(document: PolicyDocument | undefined, agentId: string, scope: string | string[]): PolicyDocument {
  const base: PolicyDocument = document ?? {...BUILTIN_POLICY, version: `${BUILTIN_POLICY.version}+sdk-scope`};
  const agents = (base.agents ?? {}) as Record<string, unknown>;
  const entry = agents[agentId];
  if (entry !== undefined && (typeof entry !== 'object' || entry === null)) return base; // the schema check reports it
  const existing = (entry as {approved_scope?: unknown} | undefined)?.approved_scope;
  if (existing !== undefined && JSON.stringify(existing) !== JSON.stringify(scope))
    throw optionError('approvedScope', `differs from agents.${agentId}.approved_scope in the policy object`, 'set the scope in one place');
  return {...base, agents: {...base.agents, [agentId]: {...(entry as object | undefined), approved_scope: scope}}};
}

/** Indented, so that a schema error's line and column point somewhere a person can find. */
function policyText(document: PolicyDocument): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(document, null, 2);
  } catch (error) {
    throw optionError(
      'policy',
      `cannot be serialised as JSON (${error instanceof Error ? error.message : String(error)})`,
      'pass plain data',
    );
  }
  if (text === undefined) throw optionError('policy', 'is not a JSON value', 'pass a policy object');
  return text;
}

/** The program's name: `agent` for `node agent.mjs`. */
export function programName(argv: readonly string[] = process.argv): string {
  const script = argv[1];
  if (script === undefined || script === '' || script.startsWith('-')) return 'sdk-agent';
  const name = basename(script, extname(script));
  return name === '' ? 'sdk-agent' : name.slice(0, 256);
}
