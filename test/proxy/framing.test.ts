import fc from 'fast-check';
import {describe, expect, it} from 'vitest';

import {LineFramer, type OversizeLine} from '../../src/proxy/framing.js';

function collect(maxLineBytes?: number) {
  const lines: string[] = [];
  const oversize: OversizeLine[] = [];
  const framer = new LineFramer({line: (l) => lines.push(l.toString('utf8')), oversize: (o) => oversize.push(o)}, maxLineBytes);
  return {framer, lines, oversize};
}

describe('LineFramer', () => {
  it('yields the same lines however the stream is cut into chunks', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.string({minLength: 1, maxLength: 40}).filter((s) => !s.includes('\n') && s.trim() !== ''),
          {minLength: 1, maxLength: 20},
        ),
        fc.array(fc.nat(), {maxLength: 30}),
        (messages, cuts) => {
          const stream = Buffer.from(messages.map((m) => `${m}\n`).join(''));
          const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
          const {framer, lines} = collect();
          let start = 0;
          for (const point of [...points, stream.length]) {
            framer.push(stream.subarray(start, point));
            start = point;
          }
          framer.end();
          expect(lines).toEqual(messages.map((m) => m.replace(/\r$/, '')));
        },
      ),
    );
  });

  it('accepts \\r\\n line endings and several messages per chunk', () => {
    const {framer, lines} = collect();
    framer.push(Buffer.from('{"a":1}\r\n{"b":2}\n{"c"'));
    framer.push(Buffer.from(':3}\r\n'));
    expect(lines).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
  });

  it('treats a last line without a newline as a message at end of input', () => {
    const {framer, lines} = collect();
    framer.push(Buffer.from('{"a":1}\n{"b":2}'));
    expect(lines).toEqual(['{"a":1}']);
    framer.end();
    expect(lines).toEqual(['{"a":1}', '{"b":2}']);
  });

  it('discards a line over the bound, keeping only its head and tail, and goes on', () => {
    const {framer, lines, oversize} = collect(1024);
    const big = `{"jsonrpc":"2.0","method":"x","params":{"data":"${'a'.repeat(5000)}"},"id":42}`;
    for (let i = 0; i < big.length; i += 100) framer.push(Buffer.from(big.slice(i, i + 100)));
    framer.push(Buffer.from('\n{"ok":true}\n'));
    expect(oversize).toHaveLength(1);
    expect(oversize[0]!.size).toBe(big.length);
    expect(oversize[0]!.head.toString()).toBe(big.slice(0, oversize[0]!.head.length));
    expect(oversize[0]!.tail.toString().endsWith('"id":42}')).toBe(true);
    expect(framer.bufferedBytes).toBe(0);
    expect(lines).toEqual(['{"ok":true}']);
  });

  it('never holds more than the bound while discarding', () => {
    const {framer} = collect(4096);
    let peak = 0;
    for (let i = 0; i < 1000; i++) {
      framer.push(Buffer.alloc(1000, 0x61));
      peak = Math.max(peak, framer.bufferedBytes);
    }
    expect(peak).toBeLessThanOrEqual(4096);
  });

  it('skips blank lines', () => {
    const {framer, lines} = collect();
    framer.push(Buffer.from('\n\r\n   \n{"a":1}\n'));
    expect(lines).toEqual(['{"a":1}']);
  });
});
