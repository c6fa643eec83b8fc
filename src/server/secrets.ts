import {createHash, randomBytes, timingSafeEqual} from 'node:crypto';

/**
 * Credentials the server hands out (endpoint API keys, the admin bootstrap token, session
 * cookies, hold tokens): 32 random bytes, base64url, with a prefix that says what it is (secret
 * scanners and people recognise it). Only their SHA-256 is stored: they are random, so a slow hash
 * adds nothing, and a stolen database holds no usable credential.
 */
export type SecretKind = 'api-key' | 'admin-token' | 'session' | 'hold';

const PREFIX: Record<SecretKind, string> = {'api-key': 'thk_', 'admin-token': 'tha_', session: 'ths_', hold: 'thh_'};

export function newSecret(kind: SecretKind): string {
  return `${PREFIX[kind]}${randomBytes(32).toString('base64url')}`;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Compares two hex hashes in constant time. */
export function sameHash(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && left.length > 0 && timingSafeEqual(left, right);
}

/** `sha256:<12 hex>`: how a credential is named in listings and the server's audit log. */
export function fingerprint(secret: string): string {
  return `sha256:${hashSecret(secret).slice(0, 12)}`;
}

/** A short random id with a prefix (`ten_…`, `key_…`, `apr_…`). */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('hex')}`;
}
