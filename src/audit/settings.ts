import {ThothError} from '../core/errors.js';
import {ExitCode} from '../core/exit-codes.js';
import type {FsyncMode} from '../settings/audit-defaults.js';
import type {ResolvedSettings} from '../settings/resolve.js';

/**
 * Every knob of the audit trail, taken from the one settings resolver. The defaults are the
 * documented behaviour (docs/audit.md); strict deployments set THOTH_AUDIT_FSYNC=always.
 */
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

/**
 * The audit settings from the one settings resolver (flags > env > managed preferences >
 * ~/.thoth/settings.json > defaults). An invalid THOTH_AUDIT_* value throws AUDIT_SETTING_INVALID
 * (`thoth run` then fails closed: every call is refused).
 */
export function auditSettingsFromResolved(
  resolved: Pick<ResolvedSettings, 'values' | 'problems'>,
  flags: {dir?: string | undefined} = {},
): AuditSettings {
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
