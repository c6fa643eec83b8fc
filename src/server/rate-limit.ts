/**
 * Token buckets per key (an API key, an admin, a login name), kept in this instance's memory:
 * each instance limits what it serves, so N instances behind a balancer allow N times the rate.
 * That is the state that may be lost on restart without harm.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, {tokens: number; at: number}>();

  constructor(
    /** Tokens added per second. */
    private readonly ratePerSecond: number,
    /** The most a key can spend at once. */
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one token; returns the seconds to wait when there is none. */
  take(key: string): number | undefined {
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size > 100_000) this.prune(now);
      bucket = {tokens: this.burst, at: now};
      this.buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.ratePerSecond);
    bucket.at = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return undefined;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.ratePerSecond));
  }

  /** Forgets full buckets (keys not seen for a while). */
  private prune(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.at) / 1000) * this.ratePerSecond >= this.burst) this.buckets.delete(key);
    }
  }
}
