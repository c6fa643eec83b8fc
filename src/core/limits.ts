/**
 * Bounds that more than one layer must agree on: the relay frames messages up to this size, and
 * the policy's default argument bound is the same, so that by default a call is never refused for
 * a size the relay accepts (transparency first).
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
