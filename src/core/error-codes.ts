/**
 * The JSON-RPC error codes thoth answers with. A module of its own, without dependencies, so
 * that the SDK's entry point can name them without loading the JSON-RPC machinery.
 */
export const ErrorCode = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  INTERNAL_ERROR: -32603,
  /** thoth: the call was refused by policy. Stable public API. */
  BLOCKED: -32001,
  /** thoth: the call needs human approval. Stable public API. */
  STEP_UP: -32002,
  /** thoth: the upstream server went away before it answered. */
  UPSTREAM_EXITED: -32003,
  /** thoth: a message went over the configured size bound. */
  MESSAGE_TOO_LARGE: -32004,
} as const;
