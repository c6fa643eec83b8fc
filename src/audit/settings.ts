import {join} from 'node:path';

import {ThothError} from '../cli/errors.js';
import {ExitCode} from '../cli/exit-codes.js';
import {thothHome} from '../profile/paths.js';
import type {ResolvedSettings} from '../settings/resolve.js';

/**
 * Every knob of the audit trail, resolved once from flags and environment. The defaults are the
 * documented behaviour (README "Audit trail"); strict deployments set THOTH_AUDIT_FSYNC=always.
 */
export type FsyncMode = 'batched' | 'always';

export interface AuditSettings {
  /** Where segment files and the registry live (`--audit-dir`, THOTH_AUDIT_DIR, ~/.thoth/audit). */
  dir: string;
  /** The HMAC key file (THOTH_AUDIT_KEY_FILE, ~/.thoth/audit_hmac_key.json). */
  keyFile: string;
  /** `batched`: a line is handed to the OS before the call goes on, fsync within the window. */
  fsync: FsyncMode;
  fsyncWindowMs: number;
  /** A segment is rotated once it reaches this size... */
  rotateBytes: number;
  /** ...or this age. */
  rotateAgeMs: number;
  /** `content` keeps at most this many bytes (UTF-8) of arguments or results. */
  contentMaxBytes: number;
  /** THOTH_AUDIT=off disables the trail (benchmarks, diagnosis); thoth run warns on stderr. */
  enabled: boolean;
}

export const AUDIT_DEFAULTS = {
  fsync: 'batched' as FsyncMode,
  fsyncWindowMs: 20,
  rotateBytes: 16 * 1024 * 1024,
  rotateAgeMs: 24 * 60 * 60 * 1000,
  contentMaxBytes: 32 * 1024,
};

export const AUDIT_KEY_FILE_NAME = 'audit_hmac_key.json';

export function defaultAuditDir(env: NodeJS.ProcessEnv = process.env, home?: string): string {
  const fromEnv = env['THOTH_AUDIT_DIR'];
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : join(thothHome(env, home), 'audit');
}

export function defaultKeyFile(env: NodeJS.ProcessEnv = process.env, home?: string): string {
  const fromEnv = env['THOTH_AUDIT_KEY_FILE'];
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : join(thothHome(env, home), AUDIT_KEY_FILE_NAME);
}

/** Flags win over the environment, which wins over the defaults. */
export function resolveAuditSettings(
  env: NodeJS.ProcessEnv = process.env,
  flags: {dir?: string | undefined; keyFile?: string | undefined} = {},
): AuditSettings {
  const fsync = env['THOTH_AUDIT_FSYNC'] ?? AUDIT_DEFAULTS.fsync;
  if (fsync !== 'batched' && fsync !== 'always') {
    throw invalid('THOTH_AUDIT_FSYNC', fsync, 'batched or always');
  }
  const enabledText = (env['THOTH_AUDIT'] ?? 'on').toLowerCase();
  if (!['on', 'off', '1', '0', 'true', 'false'].includes(enabledText)) throw invalid('THOTH_AUDIT', enabledText, 'on or off');
  return {
    dir: flags.dir ?? defaultAuditDir(env),
    keyFile: flags.keyFile ?? defaultKeyFile(env),
    fsync,
    fsyncWindowMs: integer(env, 'THOTH_AUDIT_FSYNC_WINDOW_MS', AUDIT_DEFAULTS.fsyncWindowMs, 0),
    rotateBytes: integer(env, 'THOTH_AUDIT_ROTATE_BYTES', AUDIT_DEFAULTS.rotateBytes, 4096),
    rotateAgeMs: integer(env, 'THOTH_AUDIT_ROTATE_SECONDS', AUDIT_DEFAULTS.rotateAgeMs / 1000, 1) * 1000,
    contentMaxBytes: integer(env, 'THOTH_AUDIT_CONTENT_MAX_BYTES', AUDIT_DEFAULTS.contentMaxBytes, 256),
    enabled: !['off', '0', 'false'].includes(enabledText),
  };
}

/**
 * The same settings taken from the one settings resolver (flags > env > managed preferences >
 * ~/.thoth/settings.json > defaults), for callers that have resolved them already (`thoth run`
 * once it uses prepareRunSettings, `thoth health`). The resolver accepts the values
 * resolveAuditSettings accepts, and also treats an empty variable as unset and ignores surrounding
 * spaces, like every other THOTH_* setting. An invalid THOTH_AUDIT_* value throws, as above.
 */
export function auditSettingsFromResolved(resolved: Pick<ResolvedSettings, 'values' | 'problems'>, flags: {dir?: string | undefined} = {}): AuditSettings {
  const problem = resolved.problems.find((text) => /^THOTH_AUDIT(_[A-Z_]+)? from /.test(text));
  if (problem !== undefined) {
    throw new ThothError('AUDIT_SETTING_INVALID', `invalid setting: ${problem}`, {
      exitCode: ExitCode.USAGE,
      suggestions: ['Fix or remove the value named above; `thoth config show` lists every setting and where it comes from.'],
    });
  }
  const {values} = resolved;
  return {
    dir: flags.dir ?? values.auditDir,
    keyFile: values.auditKeyFile,
    fsync: values.auditFsync,
    fsyncWindowMs: values.auditFsyncWindowMs,
    rotateBytes: values.auditRotateBytes,
    rotateAgeMs: values.auditRotateSeconds * 1000,
    contentMaxBytes: values.auditContentMaxBytes,
    enabled: values.auditEnabled,
  };
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min) throw invalid(name, text, `an integer of at least ${min}`);
  return value;
}

function invalid(name: string, value: string, expected: string): ThothError {
  return new ThothError('AUDIT_SETTING_INVALID', `environment variable ${name} is "${value}": expected ${expected}`, {
    exitCode: ExitCode.USAGE,
    suggestions: [`Set ${name} to ${expected}, or unset it to use the default.`],
  });
}
