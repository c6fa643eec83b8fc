import {posix, win32} from 'node:path';

/** Thrown by a parser: the message says what is wrong and what is expected, never the secret. */
export class SettingValueError extends Error {}

export interface ParseContext {
  /** The user's home, for `~` in paths. */
  home: string;
  /** Relative paths (flags only, in practice) resolve against it. */
  cwd: string;
  /** Paths follow the rules of the platform they are for (C:\\ is absolute only on Windows). */
  platform?: NodeJS.Platform;
}

export type Parser<V> = (raw: string, context: ParseContext) => V;

export function text(raw: string): string {
  const value = raw.trim();
  if (value === '') throw new SettingValueError('is empty');
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new SettingValueError('contains control characters');
  return value;
}

/** One word: no whitespace (identifiers that end up in URLs, headers and audit records). */
export function token(raw: string): string {
  const value = text(raw);
  if (/\s/.test(value)) throw new SettingValueError(`must not contain whitespace (got "${value}")`);
  return value;
}

/** A tenant becomes a DNS label in the derived URLs: `enforce.<tenant>.<apex>`. */
export function dnsLabel(raw: string): string {
  const value = text(raw).toLowerCase();
  if (!/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(value)) {
    throw new SettingValueError(`must be a DNS label: letters, digits and inner hyphens, at most 63 characters (got "${value}")`);
  }
  return value;
}

export function hostname(raw: string): string {
  const value = text(raw).toLowerCase().replace(/\.$/, '');
  const labels = value.split('.');
  if (value.length > 253 || labels.length < 2 || !labels.every((l) => /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(l))) {
    throw new SettingValueError(`must be a domain name such as atensecurity.com (got "${value}")`);
  }
  return value;
}

export function oneOf<const T extends string>(values: readonly T[]): Parser<T> {
  return (raw) => {
    const value = text(raw).toLowerCase();
    if (!(values as readonly string[]).includes(value)) {
      throw new SettingValueError(`must be one of ${values.join(', ')} (got "${value}")`);
    }
    return value as T;
  };
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

export function boolean(raw: string): boolean {
  const value = text(raw).toLowerCase();
  if (TRUE.has(value)) return true;
  if (FALSE.has(value)) return false;
  throw new SettingValueError(`must be true or false (got "${value}")`);
}

export function integer(min: number, max: number): Parser<number> {
  return (raw) => {
    const value = text(raw);
    const parsed = /^\d+$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
      throw new SettingValueError(`must be a whole number from ${min} to ${max} (got "${value}")`);
    }
    return parsed;
  };
}

/** `~` and `~/…` expand to the user's home; relative paths resolve against the working directory. */
export function path(raw: string, context: ParseContext): string {
  const value = text(raw);
  const paths = (context.platform ?? process.platform) === 'win32' ? win32 : posix;
  const expanded = value === '~' ? context.home : /^~[\\/]/.test(value) ? paths.resolve(context.home, value.slice(2)) : value;
  return paths.isAbsolute(expanded) ? expanded : paths.resolve(context.cwd, expanded);
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** HTTPS, or plain HTTP to this machine only (tests, local relays): never cleartext over a network. */
export function url(raw: string): string {
  const value = text(raw);
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new SettingValueError(`must be an absolute URL such as https://enforce.acme.atensecurity.com (got "${value}")`);
  }
  if (parsed.protocol === 'https:') return value.replace(/\/+$/, '');
  if (parsed.protocol === 'http:' && LOOPBACK.has(parsed.hostname)) return value.replace(/\/+$/, '');
  throw new SettingValueError(`must use https:// (plain http is accepted only for localhost) (got "${value}")`);
}

/** A semantic version such as 0.4.2 (a leading v is accepted and dropped). */
export function version(raw: string): string {
  const value = text(raw).replace(/^v/i, '');
  if (!/^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/.test(value)) {
    throw new SettingValueError(`must be a version such as 0.4.2 (got "${value}")`);
  }
  return value;
}

/** Comma-separated SHA-256 fingerprints, `sha256:<hex>` or plain 64-hex; normalised to lower-case hex. */
export function sha256List(raw: string): string[] {
  const items = raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  if (items.length === 0) throw new SettingValueError('is empty');
  return items.map((item) => {
    const hex = item
      .replace(/^sha256:/i, '')
      .replaceAll(':', '')
      .toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new SettingValueError(`"${item}" is not a SHA-256 fingerprint (sha256:<64 hex digits>)`);
    return hex;
  });
}

export function arn(raw: string): string {
  const value = token(raw);
  if (!/^arn:aws[a-z-]*:acm(?:-pca)?:[a-z0-9-]*:\d{12}:[A-Za-z0-9/_-]+$/.test(value)) {
    throw new SettingValueError(`must be an ACM or ACM Private CA ARN (got "${value}")`);
  }
  return value;
}
