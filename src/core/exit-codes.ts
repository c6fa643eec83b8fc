/**
 * Exit codes are a public contract: MDM scripts branch on them. Add new codes here (and to
 * docs/exit-codes.md) rather than inventing numbers at call sites.
 */
export const ExitCode = {
  OK: 0,
  /** An unexpected failure: a bug in thoth or an environment it does not know how to handle. */
  UNEXPECTED: 1,
  /** Bad command-line usage: unknown flag, missing argument, invalid flag value. */
  USAGE: 2,
  /** An input file (config, policy, key file) is not valid: bad JSON, schema violation. */
  INVALID_INPUT: 3,
  /** Something that must exist does not: a file, a client config, an upstream executable. */
  NOT_FOUND: 4,
  /** Another writer got there first: the file changed since it was read, or a lock is held. */
  CONFLICT: 5,
  /** Refused for a security reason: running as root when forbidden, file permissions, TLS. */
  SECURITY: 6,
  /** The control plane could not be reached or answered with an error. */
  NETWORK: 7,
  /** `--dry-run` found changes it would make (scripts: "not yet governed"). */
  CHANGES_PENDING: 10,
  /** `status` / `health`: at least one server is not governed, drifted or unhealthy. */
  NOT_GOVERNED: 11,
  /** `audit verify`: the chain was edited, reordered, truncated or swapped. */
  AUDIT_TAMPERED: 12,
  /** `audit verify`: the only defect is a torn last line left by a crash. */
  AUDIT_TORN_TAIL: 13,
  /** `thoth run`: the upstream executable could not be found or started (as a shell would say). */
  UPSTREAM_NOT_FOUND: 127,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];
