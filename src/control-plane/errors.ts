import type {ErrorCode} from './contract.js';

/**
 * Why a control-plane request produced no answer thoth can use:
 * - `network`: the host could not be reached or the connection broke;
 * - `timeout`: no complete answer in time;
 * - `tls`: a certificate failed verification, a pin or the AWS-backed requirement (never retried with weaker settings);
 * - `http`: the control plane answered with an error status (`status`, `code` from the error body);
 * - `invalid-response`: the answer does not follow the contract (schemas/control-plane/);
 * - `aborted`: the caller gave up (the MCP client cancelled the call).
 * Messages name the host and the cause, never a header or a key.
 */
export type ControlPlaneFailure = 'network' | 'timeout' | 'tls' | 'http' | 'invalid-response' | 'aborted';

export class ControlPlaneError extends Error {
  readonly kind: ControlPlaneFailure;
  readonly status: number | undefined;
  readonly code: ErrorCode | undefined;
  /** From Retry-After or `retryAfterSeconds` (429, 503). */
  readonly retryAfterMs: number | undefined;

  constructor(
    kind: ControlPlaneFailure,
    message: string,
    details: {status?: number; code?: ErrorCode; retryAfterMs?: number; cause?: unknown} = {},
  ) {
    super(message, details.cause === undefined ? undefined : {cause: details.cause});
    this.name = 'ControlPlaneError';
    this.kind = kind;
    this.status = details.status;
    this.code = details.code;
    this.retryAfterMs = details.retryAfterMs;
  }

  /** Auth failures: a key that is wrong or revoked does not get better by retrying soon. */
  get isAuthFailure(): boolean {
    return this.status === 401 || this.status === 403;
  }
}
