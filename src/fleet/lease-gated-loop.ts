import type {Lease} from './lease.js';

export interface LeaseGatedLoopOptions {
  lease: Pick<Lease, 'isHeld' | 'onChange'>;
  /** One round of work; resolves with the delay before the next round. */
  step(): Promise<number>;
  /** A round that threw: report it and say when to try again. */
  onError(error: unknown): number;
  /** Delay before the first round once the lease is held (may read saved state). */
  firstDelay(): number | Promise<number>;
}

/**
 * Work that only the lease holder does (heartbeats, event shipping): a self-rescheduling timer
 * that runs while this process holds the lease, pauses when it loses it, and never keeps the
 * process alive on its own.
 */
export class LeaseGatedLoop {
  private readonly options: LeaseGatedLoopOptions;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private active = false;
  private stopped = false;

  constructor(options: LeaseGatedLoopOptions) {
    this.options = options;
  }

  start(): void {
    this.options.lease.onChange((held) => (held ? void this.resume() : this.pause()));
    if (this.options.lease.isHeld) void this.resume();
  }

  /** Stops for good (a later change of the lease does not resume it) and waits for a round in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.pause();
    await this.running;
  }

  private async resume(): Promise<void> {
    if (this.active || this.stopped) return;
    this.active = true;
    this.schedule(await this.options.firstDelay());
  }

  private pause(): void {
    this.active = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(delayMs: number): void {
    if (!this.active) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.active || !this.options.lease.isHeld) return;
      this.running = this.options
        .step()
        .then((next) => this.schedule(next))
        .catch((error: unknown) => this.schedule(this.options.onError(error)));
    }, delayMs);
    this.timer.unref();
  }
}
