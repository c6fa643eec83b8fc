import type {Edit, Node} from 'jsonc-parser';
import {findNodeAtLocation, parse, type ParseError} from 'jsonc-parser';
import fastJsonPatch, {type Operation} from 'fast-json-patch';

import {ThothError} from '../core/errors.js';
import {ExitCode} from '../core/exit-codes.js';
import {describeSchemaErrors, type CompiledValidator} from '../util/validators.js';
import type {ClientAdapter} from './clients/index.js';
import {invalidConfig, pointerOf} from './config-error.js';
import type {ConfigDocument} from './document.js';
import {isSecretName, isThothProcessKey} from './drift.js';
import {governEntry, parseEntryCommand, unwrapEntry, type EntryLayout, type WrapSettings} from './entry-edit.js';
import {deepEqual, diffJson} from './json-diff.js';
import {applyTextEdits} from './text-edits.js';

/**
 * Planning is pure: a document, a client adapter, a validator and the settings in; the new text,
 * its RFC 6902 patch and what happens to each server out. Applying the plan is someone else's job.
 */

export type ServerAction = 'wrapped' | 'rewrapped' | 'unwrapped' | 'unchanged' | 'skipped';

export interface ServerChange {
  server: string;
  /** JSON pointer of the entry, e.g. /mcpServers/github. */
  pointer: string;
  scope?: string;
  action: ServerAction;
  /** Why an entry was skipped or left unchanged. */
  reason?: string;
}

export interface FilePlan {
  changed: boolean;
  bytes: Uint8Array;
  patch: Operation[];
  servers: ServerChange[];
  /**
   * Values of secret-named variables thoth takes out of an entry (THOTH_API_KEY...): they move
   * into THOTH_WRAP_ORIGINAL, so a patch shown to the user must not carry them.
   */
  secrets: string[];
}

export type PlanRequest = {action: 'wrap'; settings: WrapSettings} | {action: 'unwrap'};

export interface ServerEntry {
  server: string;
  pointer: string;
  scope?: string;
  node: Node;
  value: Record<string, unknown>;
}

/** Rejects a document that does not match the client's schema, naming file, line:column and pointer. */
export function assertValid(document: ConfigDocument, validate: CompiledValidator): void {
  if (validate(document.value)) return;
  const problems = describeSchemaErrors(validate.errors ?? [], document.text === '' ? undefined : document.text);
  // ajv reports the failed `if` after the branch that explains it: lead with the explanation.
  const explained = problems.filter((p) => !p.message.startsWith('must match'));
  const shown = explained.length > 0 ? explained : problems;
  const first = shown[0];
  if (!first) throw invalidConfig({file: document.file, pointer: ''}, 'does not match the expected format');
  const more = shown.length > 1 ? ` (and ${shown.length - 1} more)` : '';
  throw invalidConfig({file: document.file, pointer: first.pointer, ...position(first)}, `${first.message}${more}`);
}

function position(problem: {line?: number; column?: number}): {line?: number; column?: number} {
  const out: {line?: number; column?: number} = {};
  if (problem.line !== undefined) out.line = problem.line;
  if (problem.column !== undefined) out.column = problem.column;
  return out;
}

/** Every server entry of the document, in document order, with its location. */
export function serverEntries(document: ConfigDocument, adapter: ClientAdapter): ServerEntry[] {
  if (!document.tree) return [];
  const entries: ServerEntry[] = [];
  for (const container of adapter.containers(document.value)) {
    const map = findNodeAtLocation(document.tree, container.path);
    if (map?.type !== 'object') continue;
    for (const property of map.children ?? []) {
      const [key, node] = property.children ?? [];
      if (!key || !node || node.type !== 'object') continue;
      const server = key.value as string;
      const entry: ServerEntry = {
        server,
        pointer: pointerOf([...container.path, server]),
        node,
        value: valueAt(document.value, [...container.path, server]),
      };
      if (container.scope !== undefined) entry.scope = container.scope;
      entries.push(entry);
    }
  }
  return entries;
}

function valueAt(root: unknown, path: readonly (string | number)[]): Record<string, unknown> {
  let current = root;
  for (const segment of path) current = (current as Record<string | number, unknown>)[segment];
  return current as Record<string, unknown>;
}

export function planChange(document: ConfigDocument, adapter: ClientAdapter, validate: CompiledValidator, request: PlanRequest): FilePlan {
  assertValid(document, validate);
  const layout: EntryLayout = {eol: document.eol, indentUnit: document.indentUnit, jsonc: document.jsonc};
  const edits: Edit[] = [];
  const servers: ServerChange[] = [];
  const secrets = new Set<string>();
  for (const entry of serverEntries(document, adapter)) {
    const change: ServerChange = {server: entry.server, pointer: entry.pointer, action: 'unchanged'};
    if (entry.scope !== undefined) change.scope = entry.scope;
    servers.push(change);
    const kind = adapter.classify(entry.value);
    if (kind.kind !== 'stdio') {
      change.action = 'skipped';
      change.reason = kind.reason;
      continue;
    }
    const parsed = parseEntryCommand(entry.value);
    if (parsed.kind === 'unrecognised') {
      change.action = 'skipped';
      change.reason = `runs thoth in a form this version does not understand (${parsed.reason}); left as is`;
      continue;
    }
    const original = document.text.slice(entry.node.offset, entry.node.offset + entry.node.length);
    const env = entry.value['env'];
    if (env !== null && typeof env === 'object' && !Array.isArray(env)) {
      for (const [key, value] of Object.entries(env))
        if (isThothProcessKey(key) && isSecretName(key) && typeof value === 'string' && value !== '') secrets.add(value);
    }
    let updated = original;
    if (request.action === 'wrap') {
      const result = governEntry(original, entry.server, request.settings, layout);
      updated = result.text;
      change.action = result.action;
      if (result.action === 'unchanged') change.reason = 'already governed with these settings';
      if (result.repaired !== undefined) change.reason = result.repaired;
    } else if (parsed.kind === 'wrapped') {
      updated = unwrapEntry(original, layout);
      change.action = 'unwrapped';
    } else {
      change.reason = 'not wrapped';
    }
    if (updated !== original) edits.push({offset: entry.node.offset, length: entry.node.length, content: updated});
  }
  const text = applyTextEdits(document.text, edits);
  if (text === document.text) return {changed: false, bytes: document.bytes, patch: [], servers, secrets: [...secrets]};
  const bytes = new TextEncoder().encode(document.bom + text);

  const after = parseAfter(document, text);
  if (!validate(after)) {
    throw new ThothError(
      'CONFIG_PLAN_INVALID',
      `${document.file}: the planned change does not match the ${adapter.label} format; nothing was written`,
      {
        exitCode: ExitCode.UNEXPECTED,
        suggestions: ['This is a bug in thoth: report it with the file (remove secrets first).'],
      },
    );
  }
  const patch = diffJson(document.value, after);
  // The patch is what --dry-run shows and scripts diff: prove it leads to exactly the planned document.
  const patched = fastJsonPatch.applyPatch(structuredClone(document.value), patch, false, false).newDocument;
  if (!deepEqual(patched, after)) throw new Error(`${document.file}: the planned patch does not reproduce the planned document`);
  return {changed: true, bytes, patch, servers, secrets: [...secrets]};
}

/** The planned text must still be valid for the client: strict JSON stays strict (no comment, no trailing comma). */
function parseAfter(document: ConfigDocument, text: string): unknown {
  const errors: ParseError[] = [];
  let value: unknown;
  let valid = true;
  try {
    value = document.jsonc ? parse(text, errors, {allowTrailingComma: true}) : JSON.parse(text);
  } catch {
    valid = false;
  }
  if (valid && errors.length === 0) return value;
  throw new ThothError('CONFIG_PLAN_INVALID', `${document.file}: the planned change is not valid JSON; nothing was written`, {
    exitCode: ExitCode.UNEXPECTED,
    suggestions: ['This is a bug in thoth: report it with the file (remove secrets first).'],
  });
}
