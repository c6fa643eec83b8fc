import {createHash, randomBytes} from 'node:crypto';
import {link, mkdir, open, readFile, rm} from 'node:fs/promises';
import {basename, dirname, join} from 'node:path';

import {ThothError, errnoCode, errorMessage} from '../core/errors.js';
import {ExitCode} from '../core/exit-codes.js';
import {tightenMode} from '../util/atomic-write.js';
import {describeSchemaErrors, formatSchemaProblem, loadValidator} from '../util/validators.js';

/** The secret that authenticates every audit record. Never logged, never in --json output. */
export interface AuditKey {
  readonly keyId: string;
  readonly secret: Buffer;
  readonly path: string;
}

interface KeyFile {
  version: 1;
  algorithm: 'HMAC-SHA256';
  keyId: string;
  key: string;
  createdAt?: string;
}

export function keyIdOf(secret: Buffer): string {
  return createHash('sha256').update('thoth-audit-key-id:').update(secret).digest('hex').slice(0, 16);
}

/**
 * Reads the key, creating it on first use. Several `thoth run` processes may start at the same
 * moment: the new key is written to a private temporary file and then hard-linked into place,
 * which fails if another process won the race, so everyone ends up with the same key.
 */
export async function loadOrCreateKey(path: string, warn: (message: string) => void = () => undefined): Promise<AuditKey> {
  const existing = await readKeyFile(path, warn);
  if (existing) return existing;
  await mkdir(dirname(path), {recursive: true, mode: 0o700});
  const secret = randomBytes(32);
  const content: KeyFile = {
    version: 1,
    algorithm: 'HMAC-SHA256',
    keyId: keyIdOf(secret),
    key: secret.toString('base64'),
    createdAt: new Date().toISOString(),
  };
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(content, null, 2)}\n`);
    await handle.chmod(0o600);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temp, path);
  } catch (error) {
    if (errnoCode(error) !== 'EEXIST') throw keyError(path, `could not be created: ${errorMessage(error)}`, error);
  } finally {
    await rm(temp, {force: true});
  }
  const created = await readKeyFile(path, warn);
  if (!created) throw keyError(path, 'disappeared right after it was created');
  return created;
}

/** Reads an existing key; undefined when the file does not exist. */
export async function readKeyFile(path: string, warn: (message: string) => void = () => undefined): Promise<AuditKey | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined;
    throw keyError(path, `cannot be read: ${errorMessage(error)}`, error);
  }
  if (await tightenMode(path, 0o600).catch(() => false)) warn(`${path} was readable by other users; its mode is now 0600`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw keyError(path, `is not valid JSON (${errorMessage(error)})`, error);
  }
  const validate = await loadValidator('audit/key-file');
  if (!validate(parsed)) {
    const problem = describeSchemaErrors(validate.errors ?? [], text)[0];
    throw keyError(path, `is not a valid key file: ${problem ? formatSchemaProblem(path, problem) : 'schema violation'}`);
  }
  const file = parsed as KeyFile;
  const secret = Buffer.from(file.key, 'base64');
  if (keyIdOf(secret) !== file.keyId) throw keyError(path, 'is not a valid key file: keyId does not match key (the file was edited)');
  return {keyId: file.keyId, secret, path};
}

function keyError(path: string, what: string, cause?: unknown): ThothError {
  return new ThothError('AUDIT_KEY_INVALID', `audit key file ${path} ${what}`, {
    exitCode: ExitCode.SECURITY,
    suggestions: [
      'Restore the key file from a backup; records written with another key cannot be verified.',
      'To start a new trail, move the audit directory and the key file aside; thoth creates a new key on first use.',
    ],
    cause,
  });
}
