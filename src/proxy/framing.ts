/**
 * Newline-delimited framing with a bound. Lines are handed out as Buffers (zero-copy when a line
 * fits inside one chunk); a trailing `\r` is dropped so `\r\n` senders work. A line longer than
 * the bound is not kept in memory: only its head and tail are, so the caller can still say which
 * request it was and answer it.
 */

import {DEFAULT_MAX_MESSAGE_BYTES} from '../core/limits.js';

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const HEAD_BYTES = 64 * 1024;
const TAIL_BYTES = 4 * 1024;

export interface OversizeLine {
  /** Total length of the discarded line in bytes. */
  size: number;
  /** The first bytes of the line (up to 64 KiB). */
  head: Buffer;
  /** The last bytes of the line (up to 4 KiB). */
  tail: Buffer;
}

export interface FramerSink {
  line(line: Buffer): void;
  oversize(info: OversizeLine): void;
}

export class LineFramer {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Set while discarding a line that went over the bound. */
  private discarding: {size: number; head: Buffer; tail: Buffer} | undefined;

  constructor(
    private readonly sink: FramerSink,
    private readonly maxLineBytes: number = DEFAULT_MAX_MESSAGE_BYTES,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(NEWLINE, start);
      if (newline === -1) {
        if (start < chunk.length) this.accumulate(chunk.subarray(start));
        return;
      }
      this.finishLine(chunk.subarray(start, newline));
      start = newline + 1;
    }
  }

  /** End of input: a last line without a newline is still a message. */
  end(): void {
    if (this.discarding || this.pendingBytes > 0) this.finishLine(Buffer.alloc(0));
  }

  /** Bytes currently held for an incomplete line (bounded by the maximum). */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  private accumulate(segment: Buffer): void {
    if (this.discarding) {
      this.discard(segment);
      return;
    }
    if (this.pendingBytes + segment.length > this.maxLineBytes) {
      const held = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
      this.discarding = {size: 0, head: Buffer.alloc(0), tail: Buffer.alloc(0)};
      this.discard(held);
      this.discard(segment);
      return;
    }
    this.pending.push(segment);
    this.pendingBytes += segment.length;
  }

  private discard(segment: Buffer): void {
    const state = this.discarding!;
    if (state.head.length < HEAD_BYTES) {
      state.head = Buffer.concat([state.head, segment.subarray(0, HEAD_BYTES - state.head.length)]);
    }
    const tail = Buffer.concat([state.tail, segment]);
    state.tail = Buffer.from(tail.subarray(Math.max(0, tail.length - TAIL_BYTES)));
    state.size += segment.length;
  }

  private finishLine(segment: Buffer): void {
    if (this.discarding) {
      this.discard(segment);
      const {size, head, tail} = this.discarding;
      this.discarding = undefined;
      this.sink.oversize({size, head, tail: stripCarriageReturn(tail)});
      return;
    }
    let line: Buffer;
    if (this.pendingBytes === 0) {
      line = segment;
    } else {
      if (this.pendingBytes + segment.length > this.maxLineBytes) {
        this.accumulate(segment);
        this.finishLine(Buffer.alloc(0));
        return;
      }
      this.pending.push(segment);
      line = Buffer.concat(this.pending, this.pendingBytes + segment.length);
      this.pending = [];
      this.pendingBytes = 0;
    }
    line = stripCarriageReturn(line);
    if (line.length > this.maxLineBytes) {
      this.sink.oversize({
        size: line.length,
        head: line.subarray(0, HEAD_BYTES),
        tail: line.subarray(Math.max(0, line.length - TAIL_BYTES)),
      });
      return;
    }
    if (isBlank(line)) return;
    this.sink.line(line);
  }
}

function stripCarriageReturn(line: Buffer): Buffer {
  return line.length > 0 && line[line.length - 1] === CARRIAGE_RETURN ? line.subarray(0, line.length - 1) : line;
}

function isBlank(line: Buffer): boolean {
  for (let i = 0; i < line.length; i++) {
    const byte = line[i];
    if (byte !== 0x20 && byte !== 0x09 && byte !== CARRIAGE_RETURN) return false;
  }
  return true;
}
