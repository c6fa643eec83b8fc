import {homedir} from 'node:os';
import {basename, isAbsolute, relative} from 'node:path';

import {ApprovalStepUp} from '../approvals/step-up.js';
import {errorMessage} from '../cli/errors.js';
import type {DecisionContext, EnforcementMode, Enforcer} from '../enforcer/types.js';
import type {AuditSink, StepUpHandler, ToolsListHook} from '../governance/types.js';
import {PinGuard} from '../pins/guard.js';
import {thothHome} from '../profile/paths.js';
import {BaselineStore} from './baseline-store.js';
import type {CompileOptions} from './compile.js';
import {EmbeddedEnforcer, FailClosedEnforcer} from './enforcer.js';
import type {ProtectedPaths} from './engine.js';
import {readIntentMap} from './intent-map.js';
import {loadPolicy} from './load.js';
import type {CompiledPolicy} from './model.js';
import {PathReader} from './path-reader.js';
import {resolveSessionSettings} from './session-settings.js';
import {PolicyToolsListHook} from './tools-list-hook.js';

export interface PolicyGovernanceInput {
  /** --policy. */
  policyFile?: string | undefined;
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
  /** For POLICY_LOADED, APPROVAL_*, PIN_* and TOOLS_HIDDEN events. */
  audit?: AuditSink | undefined;
  now?: () => Date;
  /** Tests: a stand-in for the file-system root in front of the managed policy location. */
  managedRoot?: string;
  compile?: CompileOptions;
}

export interface PolicyGovernance {
  enforcer: Enforcer;
  stepUp?: StepUpHandler;
  toolsListHook?: ToolsListHook;
  policy?: CompiledPolicy;
  close(): Promise<void>;
}

/**
 * Builds the embedded enforcer of one `thoth run` session: load the policy (failing closed),
 * settle mode and intent, open the agent's baseline and pins, and the approval handler.
 */
export async function createPolicyGovernance(input: PolicyGovernanceInput): Promise<PolicyGovernance> {
  const {context, env, warn} = input;
  const home = thothHome(env);
  const event = (type: string, ctx: DecisionContext, fields: Record<string, unknown>): void => {
    try {
      input.audit?.event(type, ctx, fields);
    } catch (error) {
      warn(`audit event ${type} could not be recorded: ${errorMessage(error)}`);
    }
  };
  const failClosed = (message: string, ruleId: string): PolicyGovernance => {
    warn(`${message}; every tool call will be refused until it is fixed`);
    event('POLICY_LOAD_FAILED', context, {message});
    if (input.mode !== undefined) context.mode = input.mode;
    if (input.intent !== undefined) context.intent = input.intent;
    return {enforcer: new FailClosedEnforcer(message, ruleId), close: async () => undefined};
  };

  const loaded = await loadPolicy({
    flag: input.policyFile,
    env,
    ...(input.managedRoot !== undefined ? {managedRoot: input.managedRoot} : {}),
    ...(input.compile !== undefined ? {compile: input.compile} : {}),
  });
  if (!loaded.ok) return failClosed(loaded.failure.message, 'policy:invalid');
  const policy = loaded.policy;

  const intentMap = await readIntentMap(home);
  if (!intentMap.ok) return failClosed(intentMap.message, 'intent-map:invalid');
  for (const warning of intentMap.warnings) warn(warning);

  const settings = resolveSessionSettings(policy, {
    agentId: context.agentId,
    flagMode: input.mode,
    flagModeSource: input.modeSource,
    envMode: env['THOTH_ENFORCEMENT_MODE'],
    flagIntent: input.intent,
    intentMap: intentMap.map,
  });
  for (const note of settings.notes) warn(note);
  context.mode = settings.mode;
  if (settings.intent !== undefined) context.intent = settings.intent;
  else delete context.intent;

  event('POLICY_LOADED', context, {
    source: policy.source.kind,
    path: policy.source.path,
    version: policy.version,
    hash: policy.hash,
    rules: policy.ruleCount,
    mode: settings.mode,
    modeSource: settings.modeSource,
    intent: settings.intent ?? null,
    intentSource: settings.intentSource,
  });

  const now = input.now ?? (() => new Date());
  let baseline: BaselineStore | undefined;
  if (settings.mode !== 'observe') {
    try {
      baseline = await BaselineStore.open({home, agentId: context.agentId, now, warn});
    } catch (error) {
      warn(`the progressive baseline of agent "${context.agentId}" could not be opened (${errorMessage(error)}); this session learns in memory only`);
    }
  }
  const pins = policy.pinsEnabled
    ? new PinGuard({home, agentId: context.agentId, now, warn, event: (type, fields) => event(type, context, fields)})
    : undefined;

  const enforcer = new EmbeddedEnforcer({policy, baseline, pins, protectedPaths: protectedPaths(policy, home), now});
  const stepUp = new ApprovalStepUp({
    home,
    now,
    warn,
    event,
    settings: {
      policyVersion: policy.version,
      ttlMs: policy.approvals.ttlMs,
      elicitation: policy.approvals.elicitation,
      elicitationTimeoutMs: policy.approvals.elicitationTimeoutMs,
    },
    onApproved: (call) => enforcer.learn(call),
  });
  const governance: PolicyGovernance = {
    enforcer,
    stepUp,
    policy,
    close: () => enforcer.close(),
  };
  if (input.filterTools || pins) {
    governance.toolsListHook = new PolicyToolsListHook({policy, filter: input.filterTools, pins, event});
  }
  return governance;
}

/**
 * thoth's profile directory and the policy file itself: no tool argument may point into them.
 * Each is kept as written and where its links lead (a profile on another volume, macOS
 * `/var` → `/private/var`), resolved once for the session.
 */
export function protectedPaths(policy: CompiledPolicy, home: string, userHome: string = homedir()): ProtectedPaths {
  const directories: string[] = [];
  const files: string[] = [];
  const tokens = new Set<string>();
  const reader = new PathReader(policy.paths);
  const homePath = reader.read(home);
  if (homePath !== undefined) {
    directories.push(homePath.lexical, ...homePath.resolved);
    tokens.add(basename(homePath.lexical).toLowerCase());
  }
  if (policy.source.kind !== 'builtin') {
    const file = reader.read(policy.source.path);
    if (file !== undefined) {
      files.push(file.lexical, ...file.resolved);
      tokens.add(basename(file.lexical).toLowerCase());
    }
  }
  const mentioned = [home];
  if (policy.source.kind !== 'builtin') mentioned.push(policy.source.path);
  const underUserHome = relative(userHome, home);
  if (underUserHome !== '' && !underUserHome.startsWith('..') && !isAbsolute(underUserHome)) mentioned.push(`~/${underUserHome}`);
  // A whole path component: `~/.thoth` but not `~/.thothful`.
  const alternatives = mentioned.map((text) => `${text.replace(/[\\/]+$/, '').split(/[\\/]+/).map(escapeRegExp).join('[\\\\/]+')}(?=$|[\\\\/\\s"'\`;|&)])`);
  // Also the commands that decide approvals and pins, as a shell tool would run them.
  alternatives.push('\\bthoth(?:\\.cmd|\\.exe)?["\']?\\s+(?:approve|deny|pins\\s+accept)\\b');
  return {directories, files, tokens: [...tokens].filter((token) => token !== ''), mentions: new RegExp(alternatives.join('|'), 'i')};
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
