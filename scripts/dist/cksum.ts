/**
 * The CRC of POSIX `cksum` (polynomial 0x04C11DB7, unreflected, the length appended, inverted),
 * which Apple's Bom records for every file and symlink (mkbom, lsbom -c).
 */
const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 24;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x80000000 ? (crc << 1) ^ 0x04c11db7 : crc << 1;
    table[i] = crc >>> 0;
  }
  return table;
})();

export class Cksum {
  private crc = 0;
  private length = 0;

  update(data: Uint8Array): this {
    let crc = this.crc;
    for (let i = 0; i < data.length; i++) crc = (TABLE[((crc >>> 24) ^ data[i]!) & 0xff]! ^ (crc << 8)) >>> 0;
    this.crc = crc;
    this.length += data.length;
    return this;
  }

  digest(): number {
    let crc = this.crc;
    for (let length = this.length; length > 0; length = Math.floor(length / 256)) crc = (TABLE[((crc >>> 24) ^ (length & 0xff)) & 0xff]! ^ (crc << 8)) >>> 0;
    return ~crc >>> 0;
  }
}

export function cksum(data: Uint8Array): number {
  return new Cksum().update(data).digest();
}
