import type {Readable, Writable} from 'node:stream';

/**
 * Backpressure both ways, so that a slow reader on one side never makes thoth buffer without
 * bound: while the client does not read, thoth stops reading the server (and the client); while
 * the server does not read, thoth stops reading the client.
 */

const SMALL_WRITE = 16 * 1024;
const NEWLINE = Buffer.from('\n');

/**
 * Writes made in one burst (one chunk's worth of messages, or the decisions settled in one
 * microtask drain) leave in one writev: under load a syscall per message was thoth's largest
 * cost. The flush is a nextTick, so it runs before control returns to the event loop: no extra
 * loop iteration (setImmediate cost a second epoll_wait per message when calls are sequential).
 */
export class CoalescingOutput {
  private corked = false;
  constructor(readonly stream: Writable) {}

  write(chunk: string | Buffer): boolean {
    if (!this.corked && !this.stream.writableEnded && !this.stream.destroyed) {
      this.corked = true;
      this.stream.cork();
      process.nextTick(() => {
        this.corked = false;
        this.stream.uncork();
      });
    }
    return this.stream.write(chunk);
  }

  /** One message line; false when the stream asks the writer to wait for 'drain'. */
  writeLine(data: Buffer | string): boolean {
    if (typeof data === 'string') return this.write(`${data}\n`);
    if (data.length < SMALL_WRITE) return this.write(Buffer.concat([data, NEWLINE]));
    // A large message is not copied to append the newline.
    this.write(data);
    return this.write(NEWLINE);
  }
}

/** Pauses a readable side until a writable side drains; one hold per reason at a time. */
export class Holds {
  private readonly clientInputHolds = new Set<string>();
  private upstreamOutputHeld = false;

  constructor(private readonly streams: {clientInput: Readable; clientOutput: Writable; upstreamOutput: Readable}) {}

  /** The client is not reading: stop reading the server until it does. */
  holdUpstreamOutput(): void {
    if (this.upstreamOutputHeld) return;
    this.upstreamOutputHeld = true;
    const {upstreamOutput, clientOutput} = this.streams;
    upstreamOutput.pause();
    clientOutput.once('drain', () => {
      this.upstreamOutputHeld = false;
      upstreamOutput.resume();
    });
  }

  /** `sink` (the client's output or the server's input) is full: stop reading the client until it drains. */
  holdClientInput(reason: string, sink: Writable): void {
    if (this.clientInputHolds.has(reason)) return;
    this.clientInputHolds.add(reason);
    const input = this.streams.clientInput;
    input.pause();
    // Whichever comes first ends the hold and removes the other listener: a session has many
    // backpressure episodes, and a 'close' listener left behind by each would pile up.
    const release = (): void => {
      sink.off('drain', release);
      sink.off('close', release);
      this.clientInputHolds.delete(reason);
      if (this.clientInputHolds.size === 0) input.resume();
    };
    sink.on('drain', release);
    sink.on('close', release);
  }
}
