/**
 * What unwrap-config needs beyond the wrapped command line to give back the original entry
 * exactly, kept in the entry's own `env` block under THOTH_WRAP_ORIGINAL (a JSON string):
 *
 *   added:    env keys thoth added (they did not exist before)
 *   replaced: env keys thoth changed, with their original values
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
  noEnv: boolean;
  noArgs: boolean;
}

export function emptyRecord(): WrapRecord {
  return {added: [], replaced: {}, noEnv: false, noArgs: false};
}

export function isEmptyRecord(record: WrapRecord): boolean {
  return record.added.length === 0 && Object.keys(record.replaced).length === 0 && !record.noEnv && !record.noArgs;
}

export function encodeRecord(record: WrapRecord): string {
  const out: Record<string, unknown> = {};
  if (record.added.length > 0) out['added'] = record.added;
  if (Object.keys(record.replaced).length > 0) out['replaced'] = record.replaced;
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
  if (!Array.isArray(added) || !added.every((key) => typeof key === 'string')) return {problem: `${WRAP_RECORD_KEY}.added must list env keys`};
  if (replaced === null || typeof replaced !== 'object' || Array.isArray(replaced)) return {problem: `${WRAP_RECORD_KEY}.replaced must be an object`};
  return {added: added as string[], replaced: replaced as Record<string, unknown>, noEnv: object['noEnv'] === true, noArgs: object['noArgs'] === true};
}
