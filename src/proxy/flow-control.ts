import type {Readable, Writable} from 'node:stream';

/**
 * Backpressure both ways, so that a slow reader on one side never makes thoth buffer without
 * bound: while the client does not read, thoth stops reading the server (and the client); while
 * the server does not read, thoth stops reading the client.
 */

/** A buffer this large is written as it is, not copied into the turn's batch. */
const LARGE_WRITE = 64 * 1024;
const NEWLINE = 0x0a;

/**
 * The message lines written in one burst (one chunk's worth of messages, or the decisions settled
 * in one microtask drain) leave as one buffer in one write: under load a write per message was
 * thoth's largest cost, and each write through a stream costs several allocations besides the
 * system call. The flush is a nextTick, so it runs before control returns to the event loop
 * (setImmediate cost a second epoll_wait per message when calls are sequential). A large buffer
 * is written as it is, not copied.
 *
 * Backpressure is the stream's own: when what is waiting would take the stream over its high
 * water mark, everything is written at once and the stream's answer returned, so that a `false`
 * always comes with a 'drain' to wait for.
 */
export class CoalescingOutput {
  private parts: Array<string | Buffer> = [];
  private pendingLength = 0;
  private scheduled = false;
  private readonly flushScheduled = (): void => {
    this.scheduled = false;
    this.flush();
  };

  /**
   * @param onLargeWritten called once a buffer written as it is (LARGE_WRITE or more) has been
   *   handed to the operating system: from then on nothing of thoth holds it.
   */
  constructor(
    readonly stream: Writable,
    private readonly onLargeWritten?: (bytes: number) => void,
  ) {}

  /** One message line; false when the stream asks the writer to wait for 'drain'. */
  writeLine(data: Buffer | string): boolean {
    this.parts.push(data);
    this.pendingLength += data.length + 1;
    if (this.stream.writableLength + this.pendingLength >= this.stream.writableHighWaterMark) return this.flush();
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(this.flushScheduled);
    }
    return true;
  }

  /** Writes what is waiting now; the stream's answer to the last write (true when nothing waited). */
  flush(): boolean {
    const parts = this.parts;
    if (parts.length === 0) return true;
    this.parts = [];
    this.pendingLength = 0;
    const stream = this.stream;
    let ok = true;
    let batch: Array<string | Buffer> = [];
    let batchBytes = 0;
    const writeBatch = (): void => {
      if (batch.length === 0) return;
      ok = stream.write(joinLines(batch, batchBytes));
      batch = [];
      batchBytes = 0;
    };
    for (const part of parts) {
      if (typeof part !== 'string' && part.length >= LARGE_WRITE) {
        writeBatch();
        const onLargeWritten = this.onLargeWritten;
        if (onLargeWritten === undefined) stream.write(part);
        else
          stream.write(part, (error) => {
            if (!error) onLargeWritten(part.length);
          });
        // Its newline starts the next batch.
        batch.push('');
        batchBytes += 1;
        continue;
      }
      batch.push(part);
      batchBytes += (typeof part === 'string' ? Buffer.byteLength(part) : part.length) + 1;
    }
    writeBatch();
    return ok;
  }
}

/** Lines (each followed by a newline) in one buffer of `bytes` bytes. */
function joinLines(lines: ReadonlyArray<string | Buffer>, bytes: number): Buffer {
  const out = Buffer.allocUnsafe(bytes);
  let at = 0;
  for (const line of lines) {
    if (typeof line === 'string') at += out.write(line, at, 'utf8');
    else at += line.copy(out, at);
    out[at++] = NEWLINE;
  }
  return out;
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
