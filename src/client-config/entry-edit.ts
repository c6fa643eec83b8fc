import {getNodeValue, parse, parseTree, type Edit, type Node, type ParseError} from 'jsonc-parser';

import {describeLauncher, isThothProcessKey, isWrapEnvKey} from './drift.js';
import {deepEqual} from './json-diff.js';
import {
  applyTextEdits,
  insertArrayPrefixEdit,
  insertPropertyEdit,
  removeArrayPrefixEdit,
  removeMemberEdit,
  replaceValueEdit,
  type Layout,
} from './text-edits.js';
import {WRAP_RECORD_KEY, decodeRecord, emptyRecord, encodeRecord, isEmptyRecord, type HeldEnv, type WrapRecord} from './wrap-record.js';
import {
  MANAGED_FLAGS,
  parseCommand,
  runPrefix,
  sameFlags,
  sameLauncher,
  type Launcher,
  type ParsedCommand,
  type RunFlag,
} from './wrapped-command.js';

/**
 * Wrapping and unwrapping one server entry, as text. An entry is edited on its own snippet (the
 * object's text, which is valid JSON by itself), one small edit at a time, so each step can rely
 * on fresh offsets; the document-level plan then replaces the entry's range with the result.
 */

export interface EntryLayout extends Layout {
  jsonc: boolean;
}

/** What an entry should look like once governed; `flags` are the managed values already merged. */
export interface WrapTarget {
  launcher: Launcher;
  flags: RunFlag[];
  /** Env keys thoth sets, with their values. */
  env: Record<string, string>;
}

/** The settings given for this run; unset values keep what an already-wrapped entry has. */
export interface WrapSettings {
  launcher: Launcher;
  tenantId?: string;
  enforcementMode?: string;
  /** Applies to every server (the --intent flag). */
  intent?: string;
  /** Server name → intent (intent_map.json); used when `intent` is not set. */
  intentMap: Record<string, string>;
  env: Record<string, string>;
  /** Only with --embed-api-key. */
  apiKey?: string;
}

export interface EntryView {
  node: Node;
  command?: Node;
  args?: Node;
  env?: Node;
  value: Record<string, unknown>;
}

export function viewEntry(text: string, jsonc: boolean): EntryView {
  const node = parseTree(text, [], {allowTrailingComma: jsonc, disallowComments: !jsonc});
  if (!node || node.type !== 'object') throw new Error('entry is not an object');
  const view: EntryView = {node, value: getNodeValue(node) as Record<string, unknown>};
  for (const property of node.children ?? []) {
    const key = property.children?.[0]?.value;
    const value = property.children?.[1];
    if (!value) continue;
    if (key === 'command' && value.type === 'string') view.command = value;
    else if (key === 'args' && value.type === 'array') view.args = value;
    else if (key === 'env' && value.type === 'object') view.env = value;
  }
  return view;
}

export function parseEntryCommand(value: Record<string, unknown>): ParsedCommand {
  const command = value['command'];
  if (typeof command !== 'string') return {kind: 'plain'};
  const args = Array.isArray(value['args']) ? (value['args'] as unknown[]).filter((a): a is string => typeof a === 'string') : [];
  return parseCommand(command, args);
}

/** The record of an entry's env block; undefined when there is none. */
export function entryRecord(value: Record<string, unknown>): WrapRecord | {problem: string} | undefined {
  const env = value['env'];
  if (env === null || typeof env !== 'object' || Array.isArray(env)) return undefined;
  if (!Object.hasOwn(env, WRAP_RECORD_KEY)) return undefined;
  return decodeRecord((env as Record<string, unknown>)[WRAP_RECORD_KEY]);
}

type Step = (view: EntryView, text: string) => Edit | Edit[] | undefined;

function step(text: string, layout: EntryLayout, fn: Step): string {
  const view = viewEntry(text, layout.jsonc);
  const edits = fn(view, text);
  if (edits === undefined) return text;
  return applyTextEdits(text, Array.isArray(edits) ? edits : [edits]);
}

function propertyOf(value: Node | undefined): Node | undefined {
  return value?.parent?.type === 'property' ? value.parent : undefined;
}

function envMember(env: Node, key: string): Node | undefined {
  return env.children?.find((property) => property.children?.[0]?.value === key);
}

/** Wraps a plain (not wrapped) stdio entry. */
export function wrapEntry(text: string, target: WrapTarget, layout: EntryLayout): string {
  const initial = viewEntry(text, layout.jsonc);
  const command = initial.value['command'];
  if (typeof command !== 'string') throw new Error('entry has no command');
  const record = emptyRecord();

  // Variables of the original entry that would configure thoth itself (THOTH_*, NODE_OPTIONS...):
  // wrap-config does not write them, so thoth must not read them. Taken out first, put back last.
  const held = holdEnv(text, target, layout);
  record.held = held.held;
  let next = step(held.text, layout, (view, current) => {
    const edits: Edit[] = [replaceValueEdit(view.command!, JSON.stringify(target.launcher.command))];
    const prefix = [...target.launcher.prefix, ...runPrefix(target.flags, command)];
    if (view.args) {
      edits.push(insertArrayPrefixEdit(current, view.args, prefix, layout));
    } else {
      record.noArgs = true;
      edits.push(...insertPropertyEdit(current, view.node, 'args', prefix, layout));
    }
    return edits;
  });

  const envKeys = Object.keys(target.env);
  if (envKeys.length === 0 && !record.noArgs && record.held.length === 0) return next;

  const existing = initial.value['env'];
  const originalEnv =
    existing !== null && typeof existing === 'object' && !Array.isArray(existing) ? (existing as Record<string, unknown>) : undefined;
  record.noEnv = originalEnv === undefined;
  const additions: Array<[string, unknown]> = [];
  const replacements: Array<[string, string]> = [];
  for (const key of envKeys) {
    const wanted = target.env[key]!;
    if (originalEnv && Object.hasOwn(originalEnv, key)) {
      if (originalEnv[key] === wanted) {
        // Already the wanted value: nothing to edit. A key thoth reads is still recorded as
        // written, so that repair and unwrap keep it (they drop unaccounted THOTH_* keys).
        if (isThothProcessKey(key)) record.replaced[key] = originalEnv[key];
        continue;
      }
      record.replaced[key] = originalEnv[key];
      replacements.push([key, wanted]);
    } else {
      record.added.push(key);
      additions.push([key, wanted]);
    }
  }
  if (!isEmptyRecord(record)) {
    // A record left behind by a hand-made unwrap means nothing any more: it is overwritten in place.
    if (originalEnv && Object.hasOwn(originalEnv, WRAP_RECORD_KEY)) replacements.push([WRAP_RECORD_KEY, encodeRecord(record)]);
    else additions.push([WRAP_RECORD_KEY, encodeRecord(record)]);
  }
  if (!originalEnv) {
    if (additions.length === 0) return next;
    return step(next, layout, (v, current) => insertPropertyEdit(current, v.node, 'env', Object.fromEntries(additions), layout));
  }
  for (const [key, wanted] of replacements) {
    next = step(next, layout, (v) => replaceValueEdit(envMember(v.env!, key)!.children![1]!, JSON.stringify(wanted)));
  }
  // Inserted one at a time, each after the current last member, so each comes out again exactly.
  for (const [key, value] of additions) {
    next = step(next, layout, (v, current) => insertPropertyEdit(current, v.env!, key, value, layout));
  }
  return next;
}

/**
 * Takes out the env members of the original entry that thoth must not read (those not in
 * `target.env`), one at a time, each as one contiguous piece of text: the member and the separator
 * after it, or before it when it is the last, or everything between the braces when it is the
 * only one. Putting the pieces back in reverse order gives the original text exactly.
 */
function holdEnv(text: string, target: WrapTarget, layout: EntryLayout): {text: string; held: HeldEnv[]} {
  const initial = viewEntry(text, layout.jsonc);
  const env = initial.value['env'];
  if (!initial.env || env === null || typeof env !== 'object' || Array.isArray(env)) return {text, held: []};
  const keys = Object.keys(env).filter((key) => key !== WRAP_RECORD_KEY && isThothProcessKey(key) && !Object.hasOwn(target.env, key));
  const held: HeldEnv[] = [];
  let next = text;
  for (const key of keys) {
    // A key written twice is taken out twice (JSON readers keep the last).
    for (let guard = 0; guard < 64; guard++) {
      const view = viewEntry(next, layout.jsonc);
      const member = view.env ? envMember(view.env, key) : undefined;
      if (!view.env || !member) break;
      const range = holdRange(view.env, member);
      held.push({
        key,
        value: getNodeValue(member.children![1]!),
        text: next.slice(range.offset, range.offset + range.length),
        at: range.offset - view.env.offset,
      });
      next = applyTextEdits(next, [{...range, content: ''}]);
    }
  }
  return {text: next, held};
}

function holdRange(env: Node, member: Node): {offset: number; length: number} {
  const members = env.children ?? [];
  const index = members.indexOf(member);
  const next = members[index + 1];
  const previous = members[index - 1];
  if (next) return {offset: member.offset, length: next.offset - member.offset};
  if (previous) {
    const previousEnd = previous.offset + previous.length;
    return {offset: previousEnd, length: member.offset + member.length - previousEnd};
  }
  return {offset: env.offset + 1, length: env.length - 2};
}

/** Puts held members back where they were, or (the env was edited since) at its end. */
function restoreHeld(text: string, held: readonly HeldEnv[], layout: EntryLayout): string {
  let next = text;
  for (const item of [...held].reverse()) {
    const view = viewEntry(next, layout.jsonc);
    if (!view.env) {
      next = step(next, layout, (v, current) => insertPropertyEdit(current, v.node, 'env', {[item.key]: item.value}, layout));
      continue;
    }
    if (envMember(view.env, item.key)) continue;
    if (item.at <= view.env.length - 1) {
      const at = view.env.offset + item.at;
      const candidate = next.slice(0, at) + item.text + next.slice(at);
      if (restoresOnly(candidate, view, item, layout)) {
        next = candidate;
        continue;
      }
    }
    next = step(next, layout, (v, current) => insertPropertyEdit(current, v.env!, item.key, item.value, layout));
  }
  return next;
}

/** The candidate is valid and differs from `before` by exactly the held member. */
function restoresOnly(candidate: string, before: EntryView, item: HeldEnv, layout: EntryLayout): boolean {
  const errors: ParseError[] = [];
  const value = parse(candidate, errors, {allowTrailingComma: layout.jsonc, disallowComments: !layout.jsonc}) as
    Record<string, unknown> | undefined;
  if (errors.length > 0 || value === null || typeof value !== 'object') return false;
  const {env: afterEnv, ...afterRest} = value;
  const {env: beforeEnv, ...beforeRest} = before.value;
  if (afterEnv === null || typeof afterEnv !== 'object' || Array.isArray(afterEnv)) return false;
  const {[item.key]: restored, ...afterOthers} = afterEnv as Record<string, unknown>;
  return (
    Object.hasOwn(afterEnv, item.key) &&
    deepEqual(restored, item.value) &&
    deepEqual(afterOthers, beforeEnv) &&
    deepEqual(afterRest, beforeRest)
  );
}

/**
 * Takes out THOTH_* and other thoth-process env keys that neither wrap-config wrote nor the
 * record accounts for: added to a wrapped entry after it was wrapped (by hand, or by an agent),
 * they were never part of the user's original entry, so neither repair nor unwrap keeps them.
 */
function dropUnwrittenEnv(text: string, layout: EntryLayout): string {
  const view = viewEntry(text, layout.jsonc);
  const env = view.value['env'];
  if (!view.env || env === null || typeof env !== 'object' || Array.isArray(env)) return text;
  const decoded = entryRecord(view.value);
  const record = decoded === undefined || 'problem' in decoded ? undefined : decoded;
  const accounted = new Set([WRAP_RECORD_KEY, ...(record?.added ?? []), ...Object.keys(record?.replaced ?? {})]);
  let next = text;
  for (const key of Object.keys(env).filter((k) => isThothProcessKey(k) && !accounted.has(k))) {
    for (let guard = 0; guard < 64; guard++) {
      const current = viewEntry(next, layout.jsonc);
      const member = current.env ? envMember(current.env, key) : undefined;
      if (!current.env || !member) break;
      // The last of several goes as removeMemberEdit takes it (the inverse of insertPropertyEdit,
      // which is how wrap-config appends); any other with the separator after it, or everything
      // between the braces, so that no comment of another member is touched.
      const members = current.env.children ?? [];
      const last = members.length > 1 && members[members.length - 1] === member;
      next = applyTextEdits(next, last ? removeMemberEdit(next, member) : [{...holdRange(current.env, member), content: ''}]);
    }
  }
  return next;
}

/** Takes one level of wrapping off (command, args, and the env changes the record lists). */
export function unwrapEntryOnce(text: string, layout: EntryLayout): string {
  const initial = viewEntry(text, layout.jsonc);
  const parsed = parseEntryCommand(initial.value);
  if (parsed.kind !== 'wrapped') return text;
  const recordOrProblem = entryRecord(initial.value);
  const record = recordOrProblem === undefined || 'problem' in recordOrProblem ? undefined : recordOrProblem;

  let next = step(text, layout, (v, current) => {
    const edits: Edit[] = [replaceValueEdit(v.command!, JSON.stringify(parsed.inner.command))];
    const argsCount = v.args?.children?.length ?? 0;
    if (record?.noArgs && argsCount <= parsed.prefixLength) {
      const property = propertyOf(v.args);
      if (property) edits.push(...removeMemberEdit(current, property));
    } else if (v.args) {
      const edit = removeArrayPrefixEdit(v.args, parsed.prefixLength);
      if (edit) edits.push(edit);
    }
    return edits;
  });
  if (!record) return next;

  for (const [key, original] of Object.entries(record.replaced)) {
    next = step(next, layout, (v, current) => {
      if (!v.env) return undefined;
      const member = envMember(v.env, key);
      if (member?.children?.[1]) return replaceValueEdit(member.children[1], JSON.stringify(original));
      return insertPropertyEdit(current, v.env, key, original, layout);
    });
  }
  const removals = [WRAP_RECORD_KEY, ...[...record.added].reverse()];
  const remaining = (v: EntryView) => (v.env?.children ?? []).filter((p) => !removals.includes(p.children?.[0]?.value as string));
  const afterReplace = viewEntry(next, layout.jsonc);
  if (record.noEnv && afterReplace.env && remaining(afterReplace).length === 0) {
    return step(next, layout, (v, current) => removeMemberEdit(current, propertyOf(v.env)!));
  }
  for (const key of removals) {
    next = step(next, layout, (v, current) => {
      const member = v.env ? envMember(v.env, key) : undefined;
      return member ? removeMemberEdit(current, member) : undefined;
    });
  }
  return restoreHeld(next, record.held, layout);
}

/** More levels of wrapping than anyone writes by hand: stop there rather than loop. */
const MAX_DEPTH = 16;

/**
 * Unwraps until the entry no longer runs thoth (collapses entries wrapped more than once), after
 * taking out what was added to the wrapped entry's env that thoth would read (dropUnwrittenEnv).
 */
export function unwrapEntry(text: string, layout: EntryLayout): string {
  if (parseEntryCommand(viewEntry(text, layout.jsonc).value).kind !== 'wrapped') return text;
  let current = dropUnwrittenEnv(text, layout);
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const next = unwrapEntryOnce(current, layout);
    if (next === current) return current;
    current = next;
  }
  return current;
}

/** How many times an entry is wrapped (0 for a plain one). */
export function wrapDepth(value: Record<string, unknown>): number {
  let command = value['command'];
  let args = value['args'];
  let depth = 0;
  while (typeof command === 'string' && depth < MAX_DEPTH) {
    const parsed = parseCommand(command, Array.isArray(args) ? (args as unknown[]).filter((a): a is string => typeof a === 'string') : []);
    if (parsed.kind !== 'wrapped') break;
    depth++;
    command = parsed.inner.command;
    args = parsed.inner.args;
  }
  return depth;
}

/** The flags and env an entry should have after this run (merging what it already has). */
export function wrapTargetFor(server: string, value: Record<string, unknown>, settings: WrapSettings): WrapTarget {
  const parsed = parseEntryCommand(value);
  const existing = parsed.kind === 'wrapped' ? parsed.flags : [];
  const merged = new Map<string, RunFlag>();
  // Only the flags wrap-config writes carry over; any other (--policy, --audit-dir, --no-filter-tools...) is drift and goes.
  for (const flag of existing)
    if (flag.name !== 'agent-id' && (MANAGED_FLAGS as readonly string[]).includes(flag.name)) merged.set(flag.name, flag);
  const set = (name: string, flagValueToSet: string | undefined) => {
    if (flagValueToSet !== undefined && flagValueToSet !== '') merged.set(name, {name, value: flagValueToSet});
  };
  set('tenant-id', settings.tenantId);
  set('enforcement-mode', settings.enforcementMode);
  set('session-intent', settings.intent ?? (Object.hasOwn(settings.intentMap, server) ? settings.intentMap[server] : undefined));
  set('api-key', settings.apiKey);
  const flags = [{name: 'agent-id', value: server}, ...merged.values()];

  // Keys thoth set on an earlier run keep their current values unless this run sets them again.
  const pairs: Array<[string, string]> = [];
  const record = entryRecord(value);
  const currentEnv = (value['env'] ?? {}) as Record<string, unknown>;
  if (parsed.kind === 'wrapped' && record && !('problem' in record)) {
    for (const key of [...record.added, ...Object.keys(record.replaced)]) {
      // The record is in the same editable file: it can carry over a label, never a key that configures thoth.
      if (isThothProcessKey(key) && !isWrapEnvKey(key)) continue;
      const current = Object.hasOwn(currentEnv, key) ? currentEnv[key] : undefined;
      if (typeof current === 'string' && !Object.hasOwn(settings.env, key)) pairs.push([key, current]);
    }
  }
  pairs.push(...Object.entries(settings.env));
  return {launcher: settings.launcher, flags, env: Object.fromEntries(pairs)};
}

/** True when a wrapped entry already matches `target` (so it must not be rewritten). */
export function isWrappedAs(value: Record<string, unknown>, target: WrapTarget): boolean {
  const parsed = parseEntryCommand(value);
  if (parsed.kind !== 'wrapped') return false;
  if (wrapDepth(value) !== 1) return false;
  if (!sameLauncher(parsed.launcher, target.launcher) || !sameFlags(parsed.flags, target.flags)) return false;
  const env = (value['env'] ?? {}) as Record<string, unknown>;
  if (Object.keys(env).some((key) => key !== WRAP_RECORD_KEY && isThothProcessKey(key) && !Object.hasOwn(target.env, key))) return false;
  return Object.entries(target.env).every(([key, wanted]) => Object.hasOwn(env, key) && env[key] === wanted);
}

/**
 * The governed form of an entry: unchanged when it already matches, otherwise unwrapped to its
 * original and wrapped once with the target (never wrapped twice).
 */
export function governEntry(
  text: string,
  server: string,
  settings: WrapSettings,
  layout: EntryLayout,
): {text: string; action: 'wrapped' | 'rewrapped' | 'unchanged'; repaired?: string} {
  const value = viewEntry(text, layout.jsonc).value;
  const target = wrapTargetFor(server, value, settings);
  const parsed = parseEntryCommand(value);
  if (parsed.kind === 'wrapped' && isWrappedAs(value, target)) return {text, action: 'unchanged'};
  if (parsed.kind === 'wrapped') {
    const plain = unwrapEntry(text, layout);
    const repaired = repairNote(value, parsed, target);
    return {text: wrapEntry(plain, target, layout), action: 'rewrapped', ...(repaired === undefined ? {} : {repaired})};
  }
  return {text: wrapEntry(text, target, layout), action: 'wrapped'};
}

/** What a rewrap takes away that wrap-config did not write, and the launcher it replaces (names only: values may be secrets). */
function repairNote(
  value: Record<string, unknown>,
  parsed: Extract<ParsedCommand, {kind: 'wrapped'}>,
  target: WrapTarget,
): string | undefined {
  const removed: string[] = [];
  for (const flag of parsed.flags) if (!(MANAGED_FLAGS as readonly string[]).includes(flag.name)) removed.push(`flag --${flag.name}`);
  const env = value['env'];
  if (env !== null && typeof env === 'object' && !Array.isArray(env)) {
    for (const key of Object.keys(env))
      if (key !== WRAP_RECORD_KEY && isThothProcessKey(key) && !Object.hasOwn(target.env, key)) removed.push(`env ${key}`);
  }
  const notes = removed.length > 0 ? [`removed ${removed.join(', ')} (not written by wrap-config)`] : [];
  if (!sameLauncher(parsed.launcher, target.launcher)) notes.push(`replaced the launcher ${describeLauncher(parsed.launcher)}`);
  return notes.length > 0 ? notes.join('; ') : undefined;
}
