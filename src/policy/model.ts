import type {DecisionKind, EnforcementMode} from '../core/decision.js';
import {DEFAULT_MAX_MESSAGE_BYTES} from '../core/limits.js';
import type {PathReader} from './path-reader.js';
import type {CaseSetting, PathEnvironment} from './paths.js';
import type {ToolPatternSet} from './tool-patterns.js';

/** The policy document as written (see schemas/policy.schema.json for every field). */
export interface PolicyDocument {
  $schema?: string;
  version?: string;
  description?: string;
  defaults?: AgentSettingsDocument;
  agents?: Record<string, AgentDocument>;
  intents?: Record<string, {description?: string; tools: string | string[]}>;
  rules?: RuleDocument[];
  progressive?: Partial<ProgressiveSettings>;
  approvals?: {ttl_seconds?: number; elicitation?: boolean; elicitation_timeout_seconds?: number};
  pins?: {enabled?: boolean};
  paths?: {case_insensitive?: CaseSetting};
}

export interface AgentSettingsDocument {
  mode?: EnforcementMode;
  lock_mode?: boolean;
  approved_scope?: string | string[];
  intent?: string;
  max_argument_bytes?: number;
}

export interface AgentDocument extends AgentSettingsDocument {
  description?: string;
  rules?: RuleDocument[];
}

export interface RuleDocument {
  id?: string;
  description?: string;
  tool?: string | string[];
  tool_regex?: string;
  args?: Record<string, MatcherDocument>;
  match?: 'any' | 'all';
  decision: DecisionKind;
  reason?: string;
}

export interface MatcherDocument {
  present?: boolean;
  equals?: unknown;
  one_of?: unknown[];
  glob?: string | string[];
  regex?: string | string[];
  ignore_case?: boolean;
  path_within?: string | string[];
  path_glob?: string | string[];
  min?: number;
  max?: number;
  max_length?: number;
  not?: MatcherDocument;
}

export interface ProgressiveSettings {
  learning_calls: number;
  learning_sessions: number;
  step_ups_before_block: number;
  burst_per_minute: number;
  burst_factor: number;
}

export const PROGRESSIVE_DEFAULTS: ProgressiveSettings = {
  learning_calls: 50,
  learning_sessions: 3,
  step_ups_before_block: 3,
  burst_per_minute: 30,
  burst_factor: 3,
};

/**
 * Transparency by default: any call the relay carries (its message bound) is decided on its
 * merits, not refused for its size. A policy may set a lower max_argument_bytes.
 */
export const DEFAULT_MAX_ARGUMENT_BYTES = DEFAULT_MAX_MESSAGE_BYTES;
export const DEFAULT_APPROVAL_TTL_SECONDS = 600;
export const DEFAULT_ELICITATION_TIMEOUT_SECONDS = 45;

// ---------------------------------------------------------------------------------------------
// Compiled form: everything a decision needs, prepared once at load time.

/** Where the policy came from, highest precedence first. */
export type PolicySourceKind = 'flag' | 'env' | 'managed' | 'profile' | 'builtin';

export interface PolicySource {
  kind: PolicySourceKind;
  /** The file, or `<built-in>`. */
  path: string;
}

/**
 * Tri-state result of a check: `undefined` means the value could not be interpreted (or, for a
 * path, its lexical and resolved readings disagree) and is resolved by the caller in the
 * restrictive direction. `paths` reads path arguments for the decision under way.
 */
export type Check = (value: unknown, paths: PathReader) => boolean | undefined;

/**
 * The arguments a selector names. Servers that match keys ignoring case (Go, .NET) also take
 * `PATH` or `paTh` (and `Pſth`: see fold-key.ts) for `path`, so each key that folds to the
 * selector's key gives a group of its own, read in the rule's restrictive direction.
 */
export interface Selection {
  /** The values under each matching key (array arguments flattened to their elements). */
  groups: readonly (readonly unknown[])[];
  /** Whether one of them is the key exactly as written (what a case-sensitive server sees). */
  exact: boolean;
}

export interface CompiledArgCondition {
  /** The key as written: a name, a JSON pointer, or `*`. */
  selector: string;
  /** What the selector names in these arguments; undefined when nothing, under any spelling of the key. */
  select(args: unknown): Selection | undefined;
  /** `present` as written: true requires the argument, false requires it absent. */
  present: boolean | undefined;
  /** The remaining checks, applied to each selected value; undefined when there are none. */
  check: Check | undefined;
  /** For traces: `path path_within ~/work`. */
  describe: string;
}

export interface CompiledRule {
  id: string;
  /** `rule:<id>`, as reported in decisions. */
  ruleId: string;
  decision: DecisionKind;
  reason: string;
  tools: ToolPatternSet;
  toolRegex?: RegExp;
  conditions: readonly CompiledArgCondition[];
  quantifier: 'any' | 'all';
  /** Where it was written, for `policy explain` (`agents.fs.rules[2]`). */
  location: string;
}

export interface CompiledAgent {
  /** The entry's key, or undefined for agents that only get the defaults. */
  name: string | undefined;
  mode: EnforcementMode | undefined;
  lockMode: boolean;
  scope: ToolPatternSet;
  scopeDeclared: boolean;
  intent: string | undefined;
  maxArgumentBytes: number;
  /** Agent rules first, then the global rules. */
  rules: readonly CompiledRule[];
  /** The rules whose tool pattern matches `tool`, in order (cached per tool name). */
  rulesFor(tool: string): readonly CompiledRule[];
}

export interface CompiledIntent {
  name: string;
  description: string | undefined;
  tools: ToolPatternSet;
}

export interface CompiledPolicy {
  source: PolicySource;
  /** The document's own `version` label, if any. */
  label: string | undefined;
  /** `<label>@<hash>`: what approvals are bound to. Any edit of the document changes it. */
  version: string;
  /** sha256 of the canonical document. */
  hash: string;
  intents: ReadonlyMap<string, CompiledIntent>;
  progressive: ProgressiveSettings;
  approvals: {ttlMs: number; elicitation: boolean; elicitationTimeoutMs: number};
  pinsEnabled: boolean;
  paths: PathEnvironment;
  /** The agent's effective settings (its entry merged over the defaults). */
  agent(agentId: string): CompiledAgent;
  /** Count of rules across the document (for POLICY_LOADED and `policy validate`). */
  ruleCount: number;
  agentNames: readonly string[];
}

export interface PolicyProblem {
  file: string;
  pointer: string;
  line?: number;
  column?: number;
  message: string;
}
