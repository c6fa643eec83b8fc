import fc from 'fast-check';
import {describe, expect, it} from 'vitest';

import {emptyBaseline, learnCall, mergeBaseline} from '../../src/policy/progressive.js';

const call = (name: string, args: string[]) => ({name, arguments: Object.fromEntries(args.map((a) => [a, 1])), argumentsJson: ''});

describe('mergeBaseline', () => {
  it('merging what a session learned equals learning its calls one by one into the file', () => {
    const callArb = fc.record({
      tool: fc.constantFrom('read', 'write', 'list', '__proto__', 'valueOf'),
      args: fc.subarray(['path', 'mode', 'depth', 'encoding']),
      minute: fc.integer({min: 0, max: 600}),
      window: fc.nat(200),
    });
    fc.assert(
      fc.property(fc.array(callArb, {maxLength: 30}), fc.array(callArb, {maxLength: 30}), (onDisk, session) => {
        const start = new Date('2026-01-01T00:00:00Z');
        const at = (minute: number) => new Date(start.getTime() + minute * 60_000);
        const replayed = emptyBaseline('a', start);
        const file = emptyBaseline('a', start);
        const delta = emptyBaseline('a', start);
        for (const c of onDisk) {
          learnCall(replayed, call(c.tool, c.args), at(c.minute), c.window);
          learnCall(file, call(c.tool, c.args), at(c.minute), c.window);
        }
        // Sessions learn in time order.
        for (const c of [...session].sort((x, y) => x.minute - y.minute)) {
          learnCall(replayed, call(c.tool, c.args), at(c.minute + 1000), c.window);
          learnCall(delta, call(c.tool, c.args), at(c.minute + 1000), c.window);
        }
        mergeBaseline(file, delta);
        expect(file.calls).toBe(replayed.calls);
        expect(file.peakPerMinute).toBe(replayed.peakPerMinute);
        expect(Object.keys(file.tools).sort()).toEqual(Object.keys(replayed.tools).sort());
        for (const name of Object.keys(replayed.tools)) {
          const mine = file.tools[name]!;
          const theirs = replayed.tools[name]!;
          expect(mine.calls).toBe(theirs.calls);
          expect(mine.lastSeen).toBe(theirs.lastSeen);
          expect(new Set(mine.argumentNames)).toEqual(new Set(theirs.argumentNames));
        }
        expect(Object.getPrototypeOf(file.tools)).toBe(Object.prototype);
      }),
      {numRuns: 300},
    );
  });
});
