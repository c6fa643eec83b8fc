import {randomFillSync} from 'node:crypto';

/**
 * Event ids are UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then a 12-bit counter that
 * keeps ids from one process strictly increasing within a millisecond (and across a clock that
 * steps back), then 62 random bits so that separate processes never collide. Sorting ids as
 * strings sorts events by time; a control-plane shipper uses them as idempotency keys.
 */
export class EventIdGenerator {
  private lastMs = -1;
  private counter = 0;
  private readonly pool = Buffer.alloc(4096);
  /** `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`: the dashes stay, the digits are rewritten. */
  private readonly scratch = Buffer.from('00000000-0000-0000-0000-000000000000', 'latin1');
  private poolOffset = 4096;

  constructor(private readonly now: () => number = Date.now) {}

  next(): string {
    let ms = this.now();
    if (ms <= this.lastMs) {
      ms = this.lastMs;
      this.counter++;
      if (this.counter > 0xfff) {
        // 4096 ids in one millisecond: borrow the next millisecond rather than repeat.
        ms = this.lastMs + 1;
        this.counter = this.randomCounter();
      }
    } else {
      this.counter = this.randomCounter();
    }
    this.lastMs = ms;
    // Written as ASCII into a scratch buffer and read back as one string: two ids are made for
    // every tool call, and a template of 16 hex pieces costs a rope and its flattening.
    const high = Math.floor(ms / 0x1000000);
    const low = ms - high * 0x1000000;
    const r = this.reserve(8);
    const pool = this.pool;
    const out = this.scratch;
    hexByte(out, 0, (high >>> 16) & 0xff);
    hexByte(out, 2, (high >>> 8) & 0xff);
    hexByte(out, 4, high & 0xff);
    hexByte(out, 6, (low >>> 16) & 0xff);
    hexByte(out, 9, (low >>> 8) & 0xff);
    hexByte(out, 11, low & 0xff);
    hexByte(out, 14, 0x70 | ((this.counter >>> 8) & 0x0f));
    hexByte(out, 16, this.counter & 0xff);
    hexByte(out, 19, 0x80 | (pool[r]! & 0x3f));
    hexByte(out, 21, pool[r + 1]!);
    for (let i = 2; i < 8; i++) hexByte(out, 20 + 2 * i, pool[r + i]!);
    return out.toString('latin1', 0, 36);
  }

  /** Starts each millisecond's counter in the lower half so that it has room to count up. */
  private randomCounter(): number {
    const r = this.reserve(2);
    return ((this.pool[r]! << 8) | this.pool[r + 1]!) & 0x7ff;
  }

  /** Offset of `n` fresh random bytes in the pool (refilled when used up; no byte is used twice). */
  private reserve(n: number): number {
    if (this.poolOffset + n > this.pool.length) {
      randomFillSync(this.pool);
      this.poolOffset = 0;
    }
    const offset = this.poolOffset;
    this.poolOffset += n;
    return offset;
  }
}

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');

function hexByte(out: Buffer, at: number, byte: number): void {
  out[at] = HEX_DIGITS[byte >>> 4]!;
  out[at + 1] = HEX_DIGITS[byte & 0x0f]!;
}

export const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The millisecond timestamp inside a UUIDv7. */
export function uuidV7Time(id: string): number {
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
