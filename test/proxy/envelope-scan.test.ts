import fc from 'fast-check';
import {describe, expect, it} from 'vitest';

import {memberText, scanEnvelope} from '../../src/proxy/envelope-scan.js';

const scan = (text: string) => scanEnvelope(Buffer.from(text));

describe('scanEnvelope', () => {
  it('agrees with JSON.parse on generated JSON: valid, and every top-level member reads back equal', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.boolean(), (object, pretty) => {
        const text = pretty ? JSON.stringify(object, null, 2).replace(/\n/g, ' ') : JSON.stringify(object);
        const result = scan(text);
        expect(result.kind).toBe('object');
        expect(result.duplicateKeys).toBe(false);
        const parsed = JSON.parse(text) as Record<string, unknown>;
        expect([...result.members.keys()].sort()).toEqual(Object.keys(parsed).sort());
        for (const [key, range] of result.members) {
          expect(JSON.parse(memberText(Buffer.from(text), range)!)).toEqual(parsed[key]);
        }
      }),
      {numRuns: 300},
    );
  });

  it('rejects what JSON.parse rejects (structure)', () => {
    const invalid = [
      'hello world',
      '{"a":1',
      '{"a":1}}',
      '{a:1}',
      '{"a":tru}',
      '[1,2',
      '{"a":1,}',
      '{"a" 1}',
      '{"a":01}',
      '"unterminated',
      '{"a":1} x',
      '',
    ];
    for (const text of invalid) {
      expect(() => JSON.parse(text)).toThrow();
      expect(scan(text).kind, text).toBe('invalid');
    }
  });

  it('classifies arrays and scalars', () => {
    expect(scan('[{"a":1}]').kind).toBe('array');
    expect(scan('42').kind).toBe('scalar');
    expect(scan('"text"').kind).toBe('scalar');
  });

  it('handles escaped quotes and backslashes inside strings', () => {
    const text = String.raw`{"text":"a \"quoted\" \\","id":7}`;
    const result = scan(text);
    expect(result.kind).toBe('object');
    expect(memberText(Buffer.from(text), result.members.get('id'))).toBe('7');
  });

  it('flags duplicate top-level keys and reports the last one, as JSON.parse does', () => {
    const text = '{"id":1,"method":"tools/list","id":2}';
    const result = scan(text);
    expect(result.duplicateKeys).toBe(true);
    expect(memberText(Buffer.from(text), result.members.get('id'))).toBe('2');
    expect((JSON.parse(text) as {id: number}).id).toBe(2);
  });

  it('decodes escaped keys (\\u0069d is id)', () => {
    const text = String.raw`{"\u0069d":5,"result":{}}`;
    expect(memberText(Buffer.from(text), scan(text).members.get('id'))).toBe('5');
  });

  it('in partial mode reports the keys seen before the input ran out', () => {
    const head = Buffer.from('{"result":{"content":[{"type":"text","text":"aaaa');
    const result = scanEnvelope(head, {partial: true});
    expect(result.truncated).toBe(true);
    expect(result.keysSeen.has('result')).toBe(true);
  });
});
