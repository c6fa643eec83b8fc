import {createHash} from 'node:crypto';
import {mkdir, readFile, stat} from 'node:fs/promises';
import {dirname} from 'node:path';

import {ThothError, errnoCode, errorMessage} from '../core/errors.js';
import {ExitCode} from '../core/exit-codes.js';
import {writeFileAtomic} from '../util/atomic-write.js';

/**
 * The API key file (`~/.thoth/proxy_api_key.json` unless THOTH_API_KEY_FILE says otherwise) holds
 * `{"api_key": "<key>"}`, mode 0600. `{}` means "no key stored yet" (what bootstrap creates). For
 * compatibility with the documented "file containing API key material" a file whose content is not
 * a JSON object is read as the key itself, on one line.
 *
 * Nothing in this module ever puts key material into an error message or a warning.
 */
export type ApiKeyFileState =
  {state: 'ok'; key: string; mode?: number} | {state: 'empty'; mode?: number} | {state: 'missing'} | {state: 'invalid'; message: string};

const MAX_KEY_LENGTH = 4096;

export async function readApiKeyFile(path: string): Promise<ApiKeyFileState> {
  let text: string;
  let mode: number | undefined;
  try {
    text = await readFile(path, 'utf8');
    mode = (await stat(path)).mode & 0o777;
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return {state: 'missing'};
    return {state: 'invalid', message: `${path}: cannot be read (${errnoCode(error) ?? errorMessage(error)})`};
  }
  const trimmed = text.trim();
  const withMode = <T extends object>(value: T): T & {mode?: number} => (mode === undefined ? value : {...value, mode});
  if (trimmed === '') return withMode({state: 'empty' as const});
  if (!trimmed.startsWith('{')) {
    const problem = keyProblem(trimmed);
    return problem ? {state: 'invalid', message: `${path}: ${problem}`} : withMode({state: 'ok' as const, key: trimmed});
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    return {state: 'invalid', message: `${path}: not valid JSON; expected {"api_key": "<key>"} (run \`thoth api-key set\` to rewrite it)`};
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return {state: 'invalid', message: `${path}: expected a JSON object {"api_key": "<key>"}`};
  }
  const value = (parsed as Record<string, unknown>)['api_key'];
  if (value === undefined) return withMode({state: 'empty' as const});
  if (typeof value !== 'string') return {state: 'invalid', message: `${path} at /api_key: must be a string`};
  const problem = keyProblem(value);
  if (problem) return {state: 'invalid', message: `${path} at /api_key: ${problem}`};
  return withMode({state: 'ok' as const, key: value});
}

/** Why `key` cannot be an API key, or undefined when it can. Never quotes the key. */
export function keyProblem(key: string): string | undefined {
  if (key.length === 0) return 'the API key is empty';
  if (key.length > MAX_KEY_LENGTH) return `the API key is longer than ${MAX_KEY_LENGTH} characters`;
  if (/[\s\u0000-\u001f\u007f]/.test(key)) return 'the API key contains whitespace or control characters';
  return undefined;
}

/** Trims one trailing newline (what `echo`, a prompt or a file adds) and validates. */
export function normaliseApiKeyInput(raw: string): string {
  const key = raw.replace(/\r?\n$/, '').trim();
  const problem = keyProblem(key);
  if (problem) {
    throw new ThothError('API_KEY_INVALID', `${problem}; nothing was stored`, {
      exitCode: ExitCode.INVALID_INPUT,
      suggestions: ['Pipe exactly one key on stdin, e.g. `thoth api-key set < key.txt`.'],
    });
  }
  return key;
}

/** Stores the key as `{"api_key": "..."}` with mode 0600 (atomically; the directory 0700 if created). */
export async function storeApiKey(path: string, key: string): Promise<void> {
  await mkdir(dirname(path), {recursive: true, mode: 0o700});
  await writeFileAtomic(path, `${JSON.stringify({api_key: key})}\n`, {mode: 0o600});
}

/** A short, non-reversible name for a key: `sha256:` and the first 12 hex digits of its SHA-256. */
export function apiKeyFingerprint(key: string): string {
  return `sha256:${createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 12)}`;
}
