import fc from 'fast-check';
import {describe, expect, it} from 'vitest';

import {parseJson} from '../../src/core/json-rpc.js';
import {inspectClientMessage} from '../../src/proxy/message-checks.js';
import {readText} from '../../src/proxy/single-reading.js';

/** Keys of every object of a parsed value (what inspectClientMessage counts). */
const parsedKeys = (text: string): number => inspectClientMessage(parseJson(text), 10_000).keys;

describe('readText', () => {
  it('counts every key of the text, duplicates included, at any depth', () => {
    expect(readText('{"a":1,"b":{"c":[{"d":2}]}}').keys).toBe(4);
    const duplicates = ['{"a":1,"a":2}', '{"x":{"a":1,"a":2}}', '[{"a":1},{"b":{"c":1,"c":1}}]', '{"p":{"q":[1,{"r":1,"r":2}]}}'];
    for (const text of duplicates) expect(readText(text).keys, text).toBe(parsedKeys(text) + 1);
    // Strings that look like keys, braces or quotes inside strings are not structure.
    const tricky = '{"a":"b\\":c","d":"{\\"e\\":1}","f":["g:", "}"],"h\\\\":"\\\\"}';
    expect(readText(tricky).keys).toBe(parsedKeys(tricky));
    expect(readText(tricky).keys).toBe(4);
  });

  it('says which numbers are written as JavaScript writes them back', () => {
    for (const number of ['0', '-1', '42', '123456789012345678901234567890', '-9007199254740993', '0.5', '1.5e-7', '1e+21', '-2.5'])
      expect(readText(`{"n":${number}}`).canonicalNumbers, number).toBe(true);
    for (const number of ['-0', '1.0', '1e2', '1E5', '0.50', '1e400', '1.00000000000000000001', '1e21', '-0.0'])
      expect(readText(`{"n":${number}}`).canonicalNumbers, number).toBe(false);
    // Digits inside strings are not numbers.
    expect(readText('{"n":"1.0","m":[1,2]}').canonicalNumbers).toBe(true);
  });

  it("finds params.arguments of the top-level object, whatever its type and spelling, and nothing else's", () => {
    const range = (text: string): string | undefined => {
      const {argumentsStart, argumentsEnd} = readText(text);
      return argumentsStart === -1 ? undefined : text.slice(argumentsStart, argumentsEnd);
    };
    expect(range('{"method":"tools/call","params":{"name":"x","arguments":{"a":[1,{"b":2}]}},"id":1}')).toBe('{"a":[1,{"b":2}]}');
    expect(range('{"params": {"arguments" : [1, 2] , "name":"x"}}')).toBe('[1, 2]');
    expect(range('{"params":{"arguments":"text","name":"x"}}')).toBe('"text"');
    expect(range('{"params":{"arguments":12}}')).toBe('12');
    expect(range('{"params":{"arguments":null}}')).toBe('null');
    expect(range('{"\\u0070arams":{"\\u0061rguments":{"k":1}}}')).toBe('{"k":1}');
    // Not at the right place: nested deeper, under another key, or params not an object.
    expect(range('{"params":{"name":"x","meta":{"arguments":{"a":1}}}}')).toBeUndefined();
    expect(range('{"result":{"arguments":{"a":1}},"params":{"name":"x"}}')).toBeUndefined();
    expect(range('{"params":[{"arguments":{"a":1}}]}')).toBeUndefined();
    expect(range('{"x":{"params":{"arguments":{"a":1}}}}')).toBeUndefined();
  });

  it('agrees with JSON.parse on generated JSON: as many keys, canonical numbers, and the arguments as parsed', () => {
    fc.assert(
      fc.property(fc.jsonValue({maxDepth: 5}), fc.string(), (args, name) => {
        const text = JSON.stringify({jsonrpc: '2.0', id: 1, method: 'tools/call', params: {name, arguments: args}});
        const reading = readText(text);
        expect(reading.keys).toBe(parsedKeys(text));
        expect(reading.canonicalNumbers).toBe(true);
        expect(JSON.parse(text.slice(reading.argumentsStart, reading.argumentsEnd))).toEqual(JSON.parse(JSON.stringify(args)));
      }),
      {numRuns: 300},
    );
  });

  it('finds the arguments around a 10 MB string', () => {
    const text = `{"params":{"name":"x","arguments":{"s":"${'b'.repeat(10_000_000)}"}}}`;
    const reading = readText(text);
    expect(reading.keys).toBe(4);
    expect(reading.argumentsEnd - reading.argumentsStart).toBe(10_000_008);
  });
});
