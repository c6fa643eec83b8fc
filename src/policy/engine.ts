import type {Decision, DecisionKind, EnforcementMode, ToolCall} from '../core/decision.js';
import {needsTokenising} from './command-words.js';
import {quantify} from './matchers.js';
import type {Check, CompiledAgent, CompiledArgCondition, CompiledPolicy, CompiledRule, Selection} from './model.js';
import {memoForThisTurn, PathReader} from './path-reader.js';
import {isAnchored, isWithin} from './paths.js';
import type {ProgressiveSession} from './progressive.js';
import {shellWord} from '../core/shell-word.js';

/**
 * The embedded decision, in the documented order (docs/policy.md#how-a-call-is-decided):
 *   1. tool pins: a tool whose definition changed since it was pinned is blocked
 *   2. session intent: a tool outside the intent is blocked (an undefined intent allows nothing)
 *   3. argument size: over max_argument_bytes is blocked
 *   4. thoth's own files: a path argument inside the profile directory or the policy is blocked
 *      (as written or through a symbolic link)
 *   5. rules: every matching rule counts, the most restrictive wins (block > step_up > allow)
 *   6. approved scope: in scope is allowed
 *   7. the mode, for what is left: block / step_up / progressive
 * `observe` runs the same steps as `block` and then allows, recording what would have happened.
 */

export interface EngineCall {
  call: ToolCall;
  agentId: string;
  mode: EnforcementMode;
  intent: string | undefined;
  /** Tool + canonical-arguments hash; identifies a call across retries (computed only when needed). */
  fingerprint: () => string;
  nowMs: number;
}

export interface EngineHooks {
  /** 'changed' when the tool's definition changed since it was pinned; another string when pins cannot be checked. */
  pinProblem?(tool: string): string | undefined;
  /** Normalised paths no tool may touch: the profile directory and the policy file (and where their links lead). */
  protectedPaths?: ProtectedPaths;
  /** The progressive judge; without one, progressive falls back to step_up for out-of-scope calls. */
  progressive?: ProgressiveSession;
}

export interface ProtectedPaths {
  directories: readonly string[];
  files: readonly string[];
  /**
   * Lower-case fragments (the protected names' last components) one of which a string must
   * contain to be worth normalising; `%` is always checked (file:// URLs can encode anything).
   */
  tokens: readonly string[];
  /**
   * Matches text that mentions a protected location or a thoth approval command anywhere in a
   * string (a shell command such as `cat ~/.thoth/approvals.json` or `thoth approve ID`): a
   * model must not read or grant its own approvals.
   */
  mentions?: RegExp;
}

const RESTRICTIVENESS: Record<DecisionKind, number> = {allow: 0, step_up: 1, block: 2};

const headers = new WeakMap<CompiledPolicy, string>();

export function decide(policy: CompiledPolicy, input: EngineCall, hooks: EngineHooks = {}): Decision {
  const agent = policy.agent(input.agentId);
  let header = headers.get(policy);
  if (header === undefined) {
    header = `policy ${policy.source.kind} ${policy.source.path} (version ${policy.version})`;
    headers.set(policy, header);
  }
  const trace: string[] = [header];
  // Links are followed afresh for every call: they can change between two calls (answers are
  // shared only with the decisions of the same turn, which nothing forwarded can separate).
  const paths = new PathReader(policy.paths, memoForThisTurn());
  if (input.mode === 'observe') {
    const would = decideInMode(policy, agent, input, hooks, 'block', trace, paths);
    const decision: Decision = {
      decision: 'allow',
      observed: would.decision,
      reason:
        would.decision === 'allow'
          ? `observe mode: ${would.reason}`
          : `observe mode: allowed, but block mode would have refused it: ${would.reason}`,
      ruleId: would.ruleId,
      trace: [...trace, `observe: allow (would have been ${would.decision})`],
    };
    if (would.details) decision.details = would.details;
    return decision;
  }
  const decision = decideInMode(policy, agent, input, hooks, input.mode, trace, paths);
  trace.push(conclusion(decision));
  decision.trace = trace;
  return decision;
}

/** `→ allow (rule)`: the same few strings for nearly every call. */
const conclusions = new Map<string, Map<string, string>>();

function conclusion(decision: Decision): string {
  let byRule = conclusions.get(decision.decision);
  if (byRule === undefined) conclusions.set(decision.decision, (byRule = new Map()));
  let text = byRule.get(decision.ruleId);
  if (text === undefined) {
    text = `→ ${decision.decision} (${decision.ruleId})`;
    if (byRule.size >= 256) byRule.clear();
    byRule.set(decision.ruleId, text);
  }
  return text;
}

/**
 * The scope line of the trace, per agent, agent id and tool: a string per call otherwise. The id
 * is part of the key: agents the policy does not name share one compiled agent, and the line
 * names the id the call came with.
 */
const scopeLines = new WeakMap<CompiledAgent, Map<string, string>>();

function scopeLine(agent: CompiledAgent, agentId: string, tool: string, inScope: boolean): string {
  let lines = scopeLines.get(agent);
  if (lines === undefined) scopeLines.set(agent, (lines = new Map()));
  const key = `${inScope ? '+' : '-'}${agentId}\u0000${tool}`;
  let line = lines.get(key);
  if (line === undefined) {
    line = agent.scopeDeclared
      ? `scope: "${tool}" is ${inScope ? '' : 'not '}in the approved scope of agent "${agentId}" (${agent.scope.patterns.join(', ') || 'empty'})`
      : `scope: agent "${agentId}" has no approved scope`;
    if (lines.size >= 256) lines.clear();
    lines.set(key, line);
  }
  return line;
}

function decideInMode(
  policy: CompiledPolicy,
  agent: CompiledAgent,
  input: EngineCall,
  hooks: EngineHooks,
  mode: Exclude<EnforcementMode, 'observe'>,
  trace: string[],
  paths: PathReader,
): Decision {
  const {call, agentId} = input;
  const tool = call.name;

  const pinProblem = hooks.pinProblem?.(tool);
  if (pinProblem !== undefined && pinProblem !== 'changed') {
    trace.push(`pin: ${pinProblem}`);
    return {
      decision: 'block',
      ruleId: 'pin:unverifiable',
      reason: `${pinProblem}; calls are refused until the pin file is repaired or removed`,
    };
  }
  if (pinProblem === 'changed') {
    trace.push(`pin: the definition of "${tool}" changed since it was pinned`);
    return {
      decision: 'block',
      ruleId: 'pin:changed',
      reason: `the definition of tool "${tool}" changed since it was first approved (a possible rug pull); calls are refused until someone reviews it and runs: thoth pins accept --agent-id ${shellWord(agentId)} --tool ${shellWord(tool)}`,
    };
  }

  if (input.intent !== undefined) {
    const intent = policy.intents.get(input.intent);
    if (intent === undefined) {
      trace.push(`intent "${input.intent}": not defined in the policy`);
      return {
        decision: 'block',
        ruleId: 'intent:undefined',
        reason: `session intent "${input.intent}" is not defined in the policy (${policy.source.path}), so no tool is allowed: define it under "intents" or fix the intent in intent_map.json / --session-intent`,
      };
    }
    if (!intent.tools.matches(tool)) {
      trace.push(`intent "${intent.name}": "${tool}" is not among its tools (${intent.tools.patterns.join(', ')})`);
      return {
        decision: 'block',
        ruleId: `intent:${intent.name}`,
        reason: `tool "${tool}" is outside session intent "${intent.name}" (minimum necessary: only ${intent.tools.patterns.join(', ')})`,
      };
    }
    trace.push(`intent "${intent.name}": "${tool}" is allowed`);
  }

  // A UTF-16 unit is at most 3 UTF-8 bytes: only text that could be over the limit is counted
  // (counting a 10 MB argument byte by byte took longer than the rest of its decision).
  const json = call.argumentsJson;
  const bytes = json.length * 3 <= agent.maxArgumentBytes ? 0 : Buffer.byteLength(json, 'utf8');
  if (bytes > agent.maxArgumentBytes) {
    trace.push(`size: ${bytes} bytes > ${agent.maxArgumentBytes}`);
    return {
      decision: 'block',
      ruleId: 'limit:max_argument_bytes',
      reason: `the arguments are ${bytes} bytes, more than the ${agent.maxArgumentBytes} allowed for agent "${agentId}" (max_argument_bytes)`,
    };
  }

  const touched = hooks.protectedPaths ? touchesProtected(call.arguments, hooks.protectedPaths, paths) : undefined;
  paths.moveNotes(trace);
  if (touched !== undefined) {
    const shown = touched.raw.length > 120 ? `${touched.raw.slice(0, 120)}…` : touched.raw;
    const through =
      touched.through !== undefined
        ? ` (through a symbolic link to ${touched.through})`
        : touched.as !== undefined
          ? ` (read as ${shorten(touched.as)})`
          : '';
    trace.push(`thoth files: "${shown}"${through} is protected`);
    return {
      decision: 'block',
      ruleId: 'builtin:protect-thoth-files',
      reason: `the arguments name "${shown}"${through}, which belongs to thoth itself (its profile, approvals, audit log, policy or approval commands); no tool may read or change it`,
    };
  }

  const winner = matchRules(agent.rulesFor(tool), call, trace, paths);
  if (winner !== undefined) {
    return {decision: winner.decision, ruleId: winner.ruleId, reason: winner.reason, details: {rule: winner.location}};
  }

  const inScope = agent.scope.matches(tool);
  trace.push(scopeLine(agent, agentId, tool, inScope));

  if (mode === 'progressive' && hooks.progressive) {
    const verdict = hooks.progressive.judge({
      call,
      agentId,
      inScope,
      scopeDeclared: agent.scopeDeclared,
      settings: policy.progressive,
      nowMs: input.nowMs,
      fingerprint: input.fingerprint,
    });
    trace.push(verdict.trace);
    const decision: Decision = {decision: verdict.decision, ruleId: verdict.ruleId, reason: verdict.reason};
    if (verdict.details) decision.details = verdict.details;
    return decision;
  }

  if (inScope) {
    return {decision: 'allow', ruleId: 'scope:approved', reason: `"${tool}" is in the approved scope of agent "${agentId}"`};
  }
  const outside = agent.scopeDeclared
    ? `"${tool}" is outside the approved scope of agent "${agentId}" (${agent.scope.patterns.join(', ') || 'empty'})`
    : `agent "${agentId}" has no approved scope in the policy`;
  if (mode === 'block') return {decision: 'block', ruleId: 'mode:block', reason: `${outside} and the enforcement mode is block`};
  return {decision: 'step_up', ruleId: `mode:${mode}`, reason: `${outside}, so a person must approve it`};
}

/** Of the rules for this tool, every one whose conditions hold counts; the most restrictive, earliest one wins. */
function matchRules(rules: readonly CompiledRule[], call: ToolCall, trace: string[], paths: PathReader): CompiledRule | undefined {
  let winner: CompiledRule | undefined;
  // Rules of one tool mostly select the same arguments (`path`, `command`): each is selected once.
  const selections: Selections = new Map();
  for (const rule of rules) {
    const holds = conditionsHold(rule, call.arguments, paths, selections);
    // Say where a path led before the rule that looked at it.
    paths.moveNotes(trace);
    if (!holds) continue;
    trace.push(`${rule.ruleId} (${rule.location}) matches → ${rule.decision}`);
    if (winner === undefined || RESTRICTIVENESS[rule.decision] > RESTRICTIVENESS[winner.decision]) winner = rule;
  }
  if (winner !== undefined && trace.length > 0) trace.push(`most restrictive: ${winner.ruleId} → ${winner.decision}`);
  return winner;
}

/** What each selector picked out of one call's arguments (a selection is only read, never changed). */
type Selections = Map<string, Selection | undefined>;

export function conditionsHold(rule: CompiledRule, args: unknown, paths: PathReader, selections?: Selections): boolean {
  // Unknown values resolve in the restrictive direction: they do not help an allow rule.
  const restrictive = rule.decision !== 'allow';
  for (const condition of rule.conditions) {
    const selection = selectOnce(condition, args, selections);
    if (condition.present === false) {
      // Absent for a block rule if a case-sensitive server misses the exact key; for an allow
      // rule only if no server finds it under any spelling.
      if (restrictive ? selection?.exact === true : selection !== undefined) return false;
      continue;
    }
    if (selection === undefined) return false;
    // `present: true` vouches for an allow rule only if every server sees the argument.
    if (!restrictive && condition.present === true && !selection.exact) return false;
    if (condition.check === undefined) continue;
    const check = condition.check;
    // A block rule applies if the values under any spelling of the key match; an allow rule
    // only if those under every spelling do (a Go server takes the last, thoth cannot know which).
    if (!groupsHold(selection.groups, check, rule.quantifier, restrictive, paths)) return false;
  }
  return true;
}

function selectOnce(condition: CompiledArgCondition, args: unknown, selections: Selections | undefined): Selection | undefined {
  if (selections === undefined) return condition.select(args);
  if (selections.has(condition.selector)) return selections.get(condition.selector);
  const selection = condition.select(args);
  selections.set(condition.selector, selection);
  return selection;
}

/** Restrictive: the check holds for some group; otherwise for every group. */
function groupsHold(
  groups: readonly (readonly unknown[])[],
  check: Check,
  quantifier: 'any' | 'all',
  restrictive: boolean,
  paths: PathReader,
): boolean {
  if (restrictive) {
    for (const group of groups) if (quantify(group, check, quantifier, true, paths)) return true;
    return false;
  }
  for (const group of groups) if (!quantify(group, check, quantifier, false, paths)) return false;
  return true;
}

/**
 * The first string argument that mentions, normalises or leads through a symbolic link into a
 * protected location, if any (`through`: where the link led; `as`: the reading that landed
 * inside, for a relative path read against another base or a word of a command).
 *
 * Every string is a candidate, and every word of one that may be a shell command
 * (`echo x > ~/.thoth/approvals.json`): a link's name need not mention `.thoth`. However long
 * the string, it is normalised first (`~/./././…/.thoth` is short once normalised). A string
 * whose links cannot be followed (ELOOP, EACCES) is checked as written only: this check reads
 * contents and messages too and refuses without appeal, and the server, running as the same
 * user, fails on the same path.
 */
function touchesProtected(
  args: unknown,
  protectedPaths: ProtectedPaths,
  paths: PathReader,
): {raw: string; through?: string; as?: string} | undefined {
  const strings: string[] = [];
  collectStrings(args, strings, 0);
  const inside = (path: string): boolean =>
    protectedPaths.directories.some((dir) => isWithin(path, dir)) || protectedPaths.files.includes(path);
  for (const raw of strings) {
    if (protectedPaths.mentions?.test(raw) === true) return {raw};
    if (!paths.followsLinks && !mayLandInside(raw, protectedPaths, paths)) continue;
    const argument = paths.readArgument(raw);
    for (const reading of [argument.whole, ...argument.words.map((word) => word.reading)]) {
      const form = reading?.forms.find(inside);
      if (form === undefined) continue;
      if (reading!.resolved.includes(form)) return {raw, through: form};
      // Say where a word of a command, or a relative path read against another base, led.
      return reading === argument.whole && form === reading!.lexical ? {raw} : {raw, as: form};
    }
  }
  return undefined;
}

/**
 * Without links followed, an absolute string that names no protected component (nor hides one
 * in %-escapes) cannot land inside. A relative one or a command can, read against a base.
 */
function mayLandInside(raw: string, protectedPaths: ProtectedPaths, paths: PathReader): boolean {
  const lower = raw.toLowerCase();
  if (lower.includes('%') || protectedPaths.tokens.some((token) => lower.includes(token))) return true;
  return !isAnchored(raw, paths.env.flavour) || needsTokenising(raw);
}

function collectStrings(value: unknown, out: string[], depth: number): void {
  if (typeof value === 'string') {
    if (value.length > 0) out.push(value);
  } else if (depth < 64 && typeof value === 'object' && value !== null) {
    if (Array.isArray(value)) for (const item of value) collectStrings(item, out, depth + 1);
    else for (const key of Object.keys(value)) collectStrings((value as Record<string, unknown>)[key], out, depth + 1);
  }
}

/**
 * Why `tool` can never be allowed for this agent, mode and intent, whatever its arguments; or
 * undefined. Used to hide tools from tools/list. Observe mode never hides anything.
 */
export function neverAllowed(
  policy: CompiledPolicy,
  agentId: string,
  mode: EnforcementMode,
  intent: string | undefined,
  tool: string,
): string | undefined {
  if (mode === 'observe') return undefined;
  if (intent !== undefined) {
    const definition = policy.intents.get(intent);
    if (definition === undefined) return `session intent "${intent}" is not defined`;
    if (!definition.tools.matches(tool)) return `outside session intent "${intent}"`;
  }
  const rules = policy.agent(agentId).rulesFor(tool);
  const blocker = rules.find((rule) => rule.decision === 'block' && rule.conditions.length === 0);
  if (blocker !== undefined) return `always blocked by ${blocker.ruleId}`;
  if (mode === 'block' && !policy.agent(agentId).scope.matches(tool) && !rules.some((rule) => rule.decision === 'allow')) {
    return 'outside the approved scope in block mode';
  }
  return undefined;
}

function shorten(text: string): string {
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}
