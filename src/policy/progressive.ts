import type {DecisionKind, ToolCall} from '../core/decision.js';
import {LargeNumber} from '../core/json-rpc.js';
import type {ProgressiveSettings} from './model.js';

/**
 * The `progressive` mode, precisely (docs/policy.md#progressive-mode says the same):
 *
 * The baseline of an agent is what it was allowed to do before: per tool, how many calls and
 * which argument names; overall, calls, sessions and the busiest minute. It is LEARNING until it
 * holds `learning_calls` allowed calls from `learning_sessions` sessions (this one included),
 * then ESTABLISHED.
 *
 * A call that no rule decided is judged, in this order:
 *  1. novel tool: outside the approved scope and never allowed before. While learning this is
 *     allowed (and learned) when the agent has no approved scope at all; otherwise it escalates.
 *  2. novel argument (established only): an argument name never seen in allowed calls of a
 *     known tool.
 *  3. burst (established only): more calls in the last 60 s of this session than
 *     max(burst_per_minute, burst_factor x the busiest minute of the baseline as it was when
 *     the session started; a session cannot raise its own limit).
 * Anything else is allowed, and allowed calls (and approved ones) are added to the baseline.
 *
 * Escalation: the first `step_ups_before_block` distinct escalated calls of a session (distinct
 * = tool + canonical arguments; a retry is the same call) become step_up; every later one is
 * blocked for the rest of the session. A call keeps the level it first got, so the retry of an
 * approved call still finds its grant.
 */

export interface ToolBaseline {
  calls: number;
  firstSeen: string;
  lastSeen: string;
  argumentNames: string[];
}

export interface BaselineData {
  version: 1;
  agentId: string;
  createdAt: string;
  updatedAt: string;
  calls: number;
  sessions: number;
  peakPerMinute: number;
  tools: Record<string, ToolBaseline>;
}

/** What the judge reads; the store keeps it current (disk + this session's unsaved calls). */
export interface BaselineView {
  readonly data: BaselineData;
  /** Whether this session is already counted in `data.sessions`. */
  readonly sessionCounted: boolean;
}

export type ProgressiveTrigger = 'novel-tool' | 'out-of-scope' | 'novel-argument' | 'burst';

export interface ProgressiveVerdict {
  decision: DecisionKind;
  ruleId: string;
  reason: string;
  trace: string;
  details?: Record<string, unknown>;
}

export const MAX_TOOLS_PER_BASELINE = 2000;
export const MAX_ARGUMENT_NAMES_PER_TOOL = 128;
const WINDOW_MS = 60_000;

export function emptyBaseline(agentId: string, now: Date): BaselineData {
  const at = now.toISOString();
  return {version: 1, agentId, createdAt: at, updatedAt: at, calls: 0, sessions: 0, peakPerMinute: 0, tools: {}};
}

/** Top-level argument names of a call (what `novel-argument` compares). */
export function argumentNames(call: ToolCall): string[] {
  const args = call.arguments;
  if (typeof args !== 'object' || args === null || Array.isArray(args) || args instanceof LargeNumber) return [];
  return Object.keys(args);
}

const ALLOW_WHILE_LEARNING = 'progressive: learning; no novelty → allow';
const ALLOW_ESTABLISHED = 'progressive: established; no novelty → allow';

/**
 * One session's view of progressive mode: the sliding window of calls and the escalations so
 * far. The baseline itself is shared (see BaselineStore).
 */
export class ProgressiveSession {
  private readonly window: number[] = [];
  private readonly escalated = new Map<string, DecisionKind>();
  private startPeak: number | undefined;

  constructor(private readonly baseline: () => BaselineView) {}

  /** Every call counts towards the burst window, whatever its decision. */
  noteCall(nowMs: number): void {
    this.prune(nowMs);
    this.window.push(nowMs);
  }

  /** Calls in the last minute (including the one being decided). */
  callsInWindow(nowMs: number): number {
    this.prune(nowMs);
    return this.window.length;
  }

  judge(input: {
    call: ToolCall;
    agentId: string;
    inScope: boolean;
    scopeDeclared: boolean;
    settings: ProgressiveSettings;
    nowMs: number;
    /** Identifies the call for escalation counting (tool + canonical-arguments hash); computed only when escalating. */
    fingerprint: () => string;
  }): ProgressiveVerdict {
    const {call, agentId, inScope, scopeDeclared, settings, nowMs} = input;
    const view = this.baseline();
    const data = view.data;
    this.startPeak ??= data.peakPerMinute;
    const sessions = data.sessions + (view.sessionCounted ? 0 : 1);
    const learning = data.calls < settings.learning_calls || sessions < settings.learning_sessions;
    const known = Object.hasOwn(data.tools, call.name) ? data.tools[call.name] : undefined;

    let trigger: ProgressiveTrigger | undefined;
    let why = '';
    if (!inScope && known === undefined && (scopeDeclared || !learning)) {
      trigger = learning ? 'out-of-scope' : 'novel-tool';
      why = learning
        ? `"${call.name}" is outside the approved scope of agent "${agentId}" and has not been approved before`
        : `"${call.name}" has never been allowed for agent "${agentId}" (known tools: ${listSome(Object.keys(data.tools))})`;
    } else if (!learning && known !== undefined) {
      const seen = new Set(known.argumentNames);
      const novel = argumentNames(call).filter((name) => !seen.has(name));
      if (novel.length > 0 && known.argumentNames.length < MAX_ARGUMENT_NAMES_PER_TOOL) {
        trigger = 'novel-argument';
        why = `argument${novel.length > 1 ? 's' : ''} ${novel.map((n) => `"${n}"`).join(', ')} never seen in allowed calls of "${call.name}" (known: ${listSome(known.argumentNames)})`;
      }
    }
    if (trigger === undefined && !learning) {
      const limit = Math.max(settings.burst_per_minute, Math.ceil(settings.burst_factor * this.startPeak));
      const count = this.callsInWindow(nowMs);
      if (count > limit) {
        trigger = 'burst';
        why = `${count} calls in the last minute, above the limit of ${limit} (the larger of ${settings.burst_per_minute} and ${settings.burst_factor} x the busiest baseline minute, ${this.startPeak})`;
      }
    }

    if (trigger === undefined) {
      // An allow names no running counter: its reason and trace stay the same from call to call,
      // so the audit trail serialises and redacts them once (nearly every call is an allow).
      // The counts are in the baseline file and in every escalation's reason.
      const ruleId = learning ? 'progressive:learning' : inScope ? 'scope:approved' : 'progressive:baseline';
      const reason = learning
        ? `progressive mode is learning the baseline of agent "${agentId}" (until ${settings.learning_calls} calls over ${settings.learning_sessions} sessions): the call is allowed and learned`
        : inScope
          ? `"${call.name}" is in the approved scope of agent "${agentId}" and matches its baseline`
          : `"${call.name}" matches the baseline of agent "${agentId}"`;
      return {decision: 'allow', ruleId, reason, trace: learning ? ALLOW_WHILE_LEARNING : ALLOW_ESTABLISHED};
    }

    const phase = learning
      ? `learning (${data.calls}/${settings.learning_calls} calls, ${sessions}/${settings.learning_sessions} sessions)`
      : `established (${data.calls} calls over ${data.sessions} sessions)`;
    const fingerprint = input.fingerprint();
    let level = this.escalated.get(fingerprint);
    if (level === undefined) {
      const distinct = this.escalated.size + 1;
      level = distinct > settings.step_ups_before_block ? 'block' : 'step_up';
      this.escalated.set(fingerprint, level);
    }
    const count = this.escalated.size;
    const reason =
      level === 'step_up'
        ? `progressive: ${why}; a person must approve it (escalation ${Math.min(count, settings.step_ups_before_block)} of ${settings.step_ups_before_block} allowed this session before blocking; an approved call joins the baseline)`
        : `progressive: ${why}; blocked because this session already had ${settings.step_ups_before_block} novel or anomalous call${settings.step_ups_before_block === 1 ? '' : 's'} escalated to approval`;
    return {
      decision: level,
      ruleId: `progressive:${trigger}`,
      reason,
      trace: `progressive: ${phase}; ${trigger}: ${why} → ${level}`,
      details: {
        progressive: {
          trigger,
          phase: learning ? 'learning' : 'established',
          escalationsThisSession: count,
          stepUpsBeforeBlock: settings.step_ups_before_block,
          baselineCalls: data.calls,
          baselineSessions: data.sessions,
        },
      },
    };
  }

  private prune(nowMs: number): void {
    let drop = 0;
    while (drop < this.window.length && this.window[drop]! <= nowMs - WINDOW_MS) drop++;
    if (drop > 0) this.window.splice(0, drop);
  }
}

/** Adds one allowed call to baseline data (mutates `data`). */
export function learnCall(data: BaselineData, call: ToolCall, at: Date, callsInWindow: number): void {
  const iso = at.toISOString();
  data.calls += 1;
  data.updatedAt = iso;
  data.peakPerMinute = Math.max(data.peakPerMinute, callsInWindow);
  let tool = Object.hasOwn(data.tools, call.name) ? data.tools[call.name] : undefined;
  if (tool === undefined) {
    if (Object.keys(data.tools).length >= MAX_TOOLS_PER_BASELINE) return;
    tool = {calls: 0, firstSeen: iso, lastSeen: iso, argumentNames: []};
    // defineProperty: a tool named "__proto__" must be stored, not change the prototype.
    Object.defineProperty(data.tools, call.name, {value: tool, enumerable: true, writable: true, configurable: true});
  }
  tool.calls += 1;
  tool.lastSeen = iso;
  for (const name of argumentNames(call)) {
    if (tool.argumentNames.length >= MAX_ARGUMENT_NAMES_PER_TOOL) break;
    if (!tool.argumentNames.includes(name)) tool.argumentNames.push(name);
  }
}

/**
 * Adds `delta` (what one session learned since it last saved, itself built with learnCall) to
 * `into`. Merging counts instead of replaying calls keeps a session's unsaved learning O(tools),
 * whatever the call rate, and loses nothing when saving falls behind.
 */
export function mergeBaseline(into: BaselineData, delta: BaselineData): void {
  if (delta.calls === 0) return;
  into.calls += delta.calls;
  if (delta.updatedAt > into.updatedAt) into.updatedAt = delta.updatedAt;
  into.peakPerMinute = Math.max(into.peakPerMinute, delta.peakPerMinute);
  for (const [name, learned] of Object.entries(delta.tools)) {
    let tool = Object.hasOwn(into.tools, name) ? into.tools[name] : undefined;
    if (tool === undefined) {
      if (Object.keys(into.tools).length >= MAX_TOOLS_PER_BASELINE) continue;
      tool = {calls: 0, firstSeen: learned.firstSeen, lastSeen: learned.lastSeen, argumentNames: []};
      Object.defineProperty(into.tools, name, {value: tool, enumerable: true, writable: true, configurable: true});
    }
    tool.calls += learned.calls;
    if (learned.firstSeen < tool.firstSeen) tool.firstSeen = learned.firstSeen;
    if (learned.lastSeen > tool.lastSeen) tool.lastSeen = learned.lastSeen;
    for (const argument of learned.argumentNames) {
      if (tool.argumentNames.length >= MAX_ARGUMENT_NAMES_PER_TOOL) break;
      if (!tool.argumentNames.includes(argument)) tool.argumentNames.push(argument);
    }
  }
}

function listSome(items: readonly string[]): string {
  if (items.length === 0) return 'none';
  const shown = items.slice(0, 6).join(', ');
  return items.length > 6 ? `${shown}, and ${items.length - 6} more` : shown;
}
