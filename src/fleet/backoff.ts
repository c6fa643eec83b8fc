/**
 * Retry timing for heartbeats and event shipping. Pure: the random source is passed in.
 *
 * After `failures` consecutive failures the next attempt waits min(base × 2^(failures-1), cap),
 * of which a random half ("equal jitter"): many endpoints that lost the control plane at the
 * same moment do not come back in lock step, and none waits less than half the step.
 */
export function retryDelayMs(failures: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const step = Math.min(baseMs * 2 ** Math.max(0, Math.min(failures - 1, 30)), capMs);
  return Math.round(step / 2 + random() * (step / 2));
}

/** A regular cadence spread by ±`spread` (default 10 %) so a fleet's check-ins do not align. */
export function jittered(intervalMs: number, random: () => number = Math.random, spread = 0.1): number {
  return Math.round(intervalMs * (1 - spread + 2 * spread * random()));
}
