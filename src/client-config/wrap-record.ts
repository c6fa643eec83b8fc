/**
 * What unwrap-config needs beyond the wrapped command line to give back the original entry
 * exactly, kept in the entry's own `env` block under THOTH_WRAP_ORIGINAL (a JSON string):
 *
 *   added:    env keys thoth added (they did not exist before)
 *   replaced: env keys thoth changed, with their original values
 *   held:     env keys of the original entry that would configure thoth itself (THOTH_*,
 *             NODE_OPTIONS, ...; drift.ts) and that thoth took out, each with the exact text
 *             taken out and where, so that unwrap puts it back byte for byte
 *   noEnv:    the entry had no `env` block
 *   noArgs:   the entry had no `args` array
 *
 * Why env and not a `thoth run` flag: original env values may be secrets, and a process's
 * arguments are visible to every local user (`ps`), its environment only to its owner. The key is
 * written only when there is something to record, so a plain wrap leaves `env` untouched.
 * `$` is written as \u0024 so clients that expand `${VAR}` / `${input:x}` in env values (Claude
 * Code, VS Code) never expand or prompt for the recorded originals.
 */
export const WRAP_RECORD_KEY = 'THOTH_WRAP_ORIGINAL';

export interface WrapRecord {
  added: string[];
  replaced: Record<string, unknown>;
  held: HeldEnv[];
  noEnv: boolean;
  noArgs: boolean;
}

/** An env member of the original entry that wrap-config took out, in the order it took them out. */
export interface HeldEnv {
  key: string;
  value: unknown;
  /** The characters taken out (the member with one separator, or everything between the braces). */
  text: string;
  /** Where they were, counted from the env object's opening brace, once the members taken out before it were gone. */
  at: number;
}

export function emptyRecord(): WrapRecord {
  return {added: [], replaced: {}, held: [], noEnv: false, noArgs: false};
}

export function isEmptyRecord(record: WrapRecord): boolean {
  return (
    record.added.length === 0 && Object.keys(record.replaced).length === 0 && record.held.length === 0 && !record.noEnv && !record.noArgs
  );
}

export function encodeRecord(record: WrapRecord): string {
  const out: Record<string, unknown> = {};
  if (record.added.length > 0) out['added'] = record.added;
  if (Object.keys(record.replaced).length > 0) out['replaced'] = record.replaced;
  if (record.held.length > 0) out['held'] = record.held;
  if (record.noEnv) out['noEnv'] = true;
  if (record.noArgs) out['noArgs'] = true;
  return JSON.stringify(out).replaceAll('$', '\\u0024');
}

/** The record in an env value, or a reason why it cannot be used. */
export function decodeRecord(value: unknown): WrapRecord | {problem: string} {
  if (typeof value !== 'string') return {problem: `${WRAP_RECORD_KEY} is not a string`};
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return {problem: `${WRAP_RECORD_KEY} is not valid JSON`};
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return {problem: `${WRAP_RECORD_KEY} is not a JSON object`};
  const object = parsed as Record<string, unknown>;
  const added = object['added'] ?? [];
  const replaced = object['replaced'] ?? {};
  if (!Array.isArray(added) || !added.every((key) => typeof key === 'string'))
    return {problem: `${WRAP_RECORD_KEY}.added must list env keys`};
  if (replaced === null || typeof replaced !== 'object' || Array.isArray(replaced))
    return {problem: `${WRAP_RECORD_KEY}.replaced must be an object`};
  const held = object['held'] ?? [];
  if (!Array.isArray(held) || !held.every(isHeldEnv)) return {problem: `${WRAP_RECORD_KEY}.held must list {key, value, text, at}`};
  return {
    added: added as string[],
    replaced: replaced as Record<string, unknown>,
    held,
    noEnv: object['noEnv'] === true,
    noArgs: object['noArgs'] === true,
  };
}

function isHeldEnv(item: unknown): item is HeldEnv {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) return false;
  const {key, text, at} = item as Record<string, unknown>;
  return (
    typeof key === 'string' && typeof text === 'string' && Number.isSafeInteger(at) && (at as number) >= 1 && Object.hasOwn(item, 'value')
  );
}
