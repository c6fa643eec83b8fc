import {canonicalJson, sha256Hex} from '../core/canonical-json.js';
import {compileArgCondition, type CompileProblem} from './matchers.js';
import {
  DEFAULT_APPROVAL_TTL_SECONDS,
  DEFAULT_ELICITATION_TIMEOUT_SECONDS,
  DEFAULT_MAX_ARGUMENT_BYTES,
  PROGRESSIVE_DEFAULTS,
  type AgentDocument,
  type CompiledAgent,
  type CompiledIntent,
  type CompiledPolicy,
  type CompiledRule,
  type PolicyDocument,
  type PolicySource,
  type RuleDocument,
} from './model.js';
import {pathEnvironment, type PathEnvironment} from './paths.js';
import {compileToolPatterns} from './tool-patterns.js';
import {errorMessage} from '../core/errors.js';

export interface CompileOptions {
  /** Overrides for path normalisation (tests inject home, cwd, flavour, case folding). */
  paths?: Partial<PathEnvironment>;
  platform?: NodeJS.Platform;
}

export type CompileResult = {ok: true; policy: CompiledPolicy} | {ok: false; problems: CompileProblem[]};

/**
 * Turns a schema-valid policy document into what decisions run on: tool patterns as sets and
 * regular expressions, paths normalised, agents merged over the defaults. Everything a schema
 * cannot say (regular expressions that do not compile, relative paths, unknown intents,
 * duplicate rule ids) is reported here, located by JSON pointer.
 */
export function compilePolicy(doc: PolicyDocument, source: PolicySource, options: CompileOptions = {}): CompileResult {
  const problems: CompileProblem[] = [];
  const paths = pathEnvironment(doc.paths?.case_insensitive ?? 'auto', options.paths, options.platform);

  const intents = new Map<string, CompiledIntent>();
  for (const [name, intent] of Object.entries(doc.intents ?? {})) {
    intents.set(name, {name, description: intent.description, tools: compileToolPatterns(intent.tools)});
  }

  const seenIds = new Map<string, string>();
  const compileRules = (rules: readonly RuleDocument[] | undefined, pointer: string, location: string): CompiledRule[] =>
    (rules ?? []).map((rule, index) => compileRule(rule, `${pointer}/${index}`, `${location}[${index}]`, paths, problems, seenIds));

  const globalRules = compileRules(doc.rules, '/rules', 'rules');
  const agentRules = new Map<string, CompiledRule[]>();
  for (const [name, agent] of Object.entries(doc.agents ?? {})) {
    agentRules.set(name, compileRules(agent.rules, `/agents/${escapePointer(name)}/rules`, `agents.${name}.rules`));
    checkIntentReference(agent.intent, `/agents/${escapePointer(name)}/intent`, intents, problems);
  }
  checkIntentReference(doc.defaults?.intent, '/defaults/intent', intents, problems);

  if (problems.length > 0) return {ok: false, problems};

  const hash = sha256Hex(canonicalJson(doc));
  const label = doc.version;
  const defaults = doc.defaults ?? {};
  const agentCache = new Map<string, CompiledAgent>();
  const defaultAgent = buildAgent(undefined, undefined, defaults, globalRules, []);

  const policy: CompiledPolicy = {
    source,
    label,
    version: `${label ?? 'unversioned'}@sha256:${hash.slice(0, 16)}`,
    hash: `sha256:${hash}`,
    intents,
    progressive: {...PROGRESSIVE_DEFAULTS, ...doc.progressive},
    approvals: {
      ttlMs: (doc.approvals?.ttl_seconds ?? DEFAULT_APPROVAL_TTL_SECONDS) * 1000,
      elicitation: doc.approvals?.elicitation ?? true,
      elicitationTimeoutMs: (doc.approvals?.elicitation_timeout_seconds ?? DEFAULT_ELICITATION_TIMEOUT_SECONDS) * 1000,
    },
    pinsEnabled: doc.pins?.enabled ?? true,
    paths,
    ruleCount: globalRules.length + [...agentRules.values()].reduce((sum, rules) => sum + rules.length, 0),
    agentNames: Object.keys(doc.agents ?? {}),
    agent(agentId: string): CompiledAgent {
      const cached = agentCache.get(agentId);
      if (cached) return cached;
      const entry = doc.agents !== undefined && Object.hasOwn(doc.agents, agentId) ? doc.agents[agentId] : undefined;
      const agent = entry === undefined ? defaultAgent : buildAgent(agentId, entry, defaults, globalRules, agentRules.get(agentId) ?? []);
      agentCache.set(agentId, agent);
      return agent;
    },
  };
  return {ok: true, policy};
}

function buildAgent(
  name: string | undefined,
  entry: AgentDocument | undefined,
  defaults: NonNullable<PolicyDocument['defaults']>,
  globalRules: readonly CompiledRule[],
  ownRules: readonly CompiledRule[],
): CompiledAgent {
  const scope = entry?.approved_scope ?? defaults.approved_scope;
  const rules = [...ownRules, ...globalRules];
  // Sessions call few distinct tools: match the tool patterns once per name, not per call.
  const byTool = new Map<string, readonly CompiledRule[]>();
  const rulesFor = (tool: string): readonly CompiledRule[] => {
    let found = byTool.get(tool);
    if (found === undefined) {
      found = rules.filter((rule) => rule.tools.matches(tool) && (rule.toolRegex === undefined || rule.toolRegex.test(tool)));
      if (byTool.size >= MAX_CACHED_TOOLS) byTool.clear();
      byTool.set(tool, found);
    }
    return found;
  };
  return {
    name,
    mode: entry?.mode ?? defaults.mode,
    lockMode: entry?.lock_mode ?? defaults.lock_mode ?? false,
    scope: compileToolPatterns(scope),
    scopeDeclared: scope !== undefined,
    intent: entry?.intent ?? defaults.intent,
    maxArgumentBytes: entry?.max_argument_bytes ?? defaults.max_argument_bytes ?? DEFAULT_MAX_ARGUMENT_BYTES,
    rules,
    rulesFor,
  };
}

const MAX_CACHED_TOOLS = 4096;

function compileRule(
  rule: RuleDocument,
  pointer: string,
  location: string,
  paths: PathEnvironment,
  problems: CompileProblem[],
  seenIds: Map<string, string>,
): CompiledRule {
  const id = rule.id ?? location;
  if (rule.id !== undefined) {
    const earlier = seenIds.get(rule.id);
    if (earlier !== undefined)
      problems.push({pointer: `${pointer}/id`, message: `duplicate rule id "${rule.id}" (also at ${earlier}); give each rule its own id`});
    else seenIds.set(rule.id, location);
  }
  if (rule.tool === undefined && rule.tool_regex === undefined) {
    problems.push({pointer, message: 'a rule needs "tool" (exact names or globs) or "tool_regex"'});
  }
  let toolRegex: RegExp | undefined;
  if (rule.tool_regex !== undefined) {
    try {
      toolRegex = new RegExp(rule.tool_regex, 'u');
    } catch (error) {
      problems.push({pointer: `${pointer}/tool_regex`, message: `invalid regular expression: ${errorMessage(error)}`});
    }
  }
  const conditions = Object.entries(rule.args ?? {}).map(([selector, matcher]) =>
    compileArgCondition(selector, matcher, `${pointer}/args/${escapePointer(selector)}`, paths, problems),
  );
  const compiled: CompiledRule = {
    id,
    ruleId: `rule:${id}`,
    decision: rule.decision,
    reason:
      rule.reason ??
      `policy rule "${id}" ${rule.decision === 'allow' ? 'allows' : rule.decision === 'block' ? 'blocks' : 'requires approval for'} this call`,
    // Only tool_regex given: every name passes the pattern part and the regex decides.
    tools: rule.tool === undefined ? compileToolPatterns('*') : compileToolPatterns(rule.tool),
    conditions,
    quantifier: rule.match ?? (rule.decision === 'allow' ? 'all' : 'any'),
    location,
  };
  if (toolRegex !== undefined) compiled.toolRegex = toolRegex;
  return compiled;
}

function checkIntentReference(
  intent: string | undefined,
  pointer: string,
  intents: ReadonlyMap<string, CompiledIntent>,
  problems: CompileProblem[],
): void {
  if (intent !== undefined && !intents.has(intent)) {
    const known = [...intents.keys()];
    problems.push({
      pointer,
      message: `intent "${intent}" is not defined under "intents"${known.length > 0 ? ` (defined: ${known.join(', ')})` : ''}`,
    });
  }
}

export function escapePointer(segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1');
}
