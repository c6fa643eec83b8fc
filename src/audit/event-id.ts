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
  private readonly pool = Buffer.alloc(256);
  private poolOffset = 256;

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
    const random = this.take(8);
    const bytes = Buffer.allocUnsafe(16);
    bytes.writeUIntBE(ms, 0, 6);
    bytes[6] = 0x70 | ((this.counter >>> 8) & 0x0f);
    bytes[7] = this.counter & 0xff;
    random.copy(bytes, 8);
    bytes[8] = 0x80 | (bytes[8]! & 0x3f);
    const hex = bytes.toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  /** Starts each millisecond's counter in the lower half so that it has room to count up. */
  private randomCounter(): number {
    const b = this.take(2);
    return ((b[0]! << 8) | b[1]!) & 0x7ff;
  }

  private take(n: number): Buffer {
    if (this.poolOffset + n > this.pool.length) {
      randomFillSync(this.pool);
      this.poolOffset = 0;
    }
    const slice = this.pool.subarray(this.poolOffset, this.poolOffset + n);
    this.poolOffset += n;
    return Buffer.from(slice);
  }
}

export const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The millisecond timestamp inside a UUIDv7. */
export function uuidV7Time(id: string): number {
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
