/**
 * Cancellation of one governed call. A real AbortController costs about 2.5 µs to create, a tenth
 * of thoth's whole per-call budget, and almost no call is ever cancelled: so the signal exists
 * only once something (an approval prompt) asks for it.
 */
export interface CallCancellation {
  readonly aborted: boolean;
  /** A real AbortSignal, created on first use (already aborted if the call was). */
  readonly signal: AbortSignal;
}

export class LazyCancellation implements CallCancellation {
  private controller: AbortController | undefined;
  private reason: unknown;
  private cancelled = false;

  get aborted(): boolean {
    return this.cancelled;
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.cancelled) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.reason = reason;
    this.controller?.abort(reason);
  }
}
