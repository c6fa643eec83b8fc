import {describe, expect, it} from 'vitest';

import {LargeNumber, errorResponse, idKey, idKeyFromToken, normaliseMethod, parseJson, stringifyJson} from '../../src/core/json-rpc.js';

describe('parseJson / stringifyJson', () => {
  it('keeps integers beyond 2^53 exact, in ids and in arguments', () => {
    const text =
      '{"jsonrpc":"2.0","id":12345678901234567890,"method":"tools/call","params":{"arguments":{"n":-99999999999999999999,"f":1.5,"s":"12345678901234567890"}}}';
    const parsed = parseJson(text) as {id: unknown; params: {arguments: {n: unknown; s: unknown}}};
    expect(parsed.id).toBeInstanceOf(LargeNumber);
    expect(parsed.params.arguments.n).toBeInstanceOf(LargeNumber);
    expect(parsed.params.arguments.s).toBe('12345678901234567890');
    expect(stringifyJson(parsed)).toBe(text);
  });

  it('leaves safe integers as numbers', () => {
    expect(parseJson('{"id":9007199254740991}')).toEqual({id: 9007199254740991});
  });

  it('a client cannot forge the large-number sentinel inside a string', () => {
    const forged = '{"s":"\\u0000thoth-large-number:000000000000000000000000:1","id":12345678901234567890}';
    const roundTrip = stringifyJson(parseJson(forged));
    expect(JSON.parse(roundTrip.replace('12345678901234567890', '0')).s).toBe('\u0000thoth-large-number:000000000000000000000000:1');
  });
});

describe('id keys', () => {
  it('match between parsed ids and raw tokens', () => {
    const cases: Array<[unknown, string]> = [
      [1, '1'],
      ['abc', '"abc"'],
      ['a"b', '"a\\"b"'],
      [new LargeNumber('12345678901234567890'), '12345678901234567890'],
      [0, '0'],
      [-5, '-5'],
    ];
    for (const [id, token] of cases) expect(idKey(id)).toBe(idKeyFromToken(token));
  });

  it('distinguish the string "1" from the number 1', () => {
    expect(idKey('1')).not.toBe(idKey(1));
  });

  it('have no key for null or objects', () => {
    expect(idKey(null)).toBeUndefined();
    expect(idKey({})).toBeUndefined();
    expect(idKeyFromToken('null')).toBeUndefined();
  });
});

describe('errorResponse', () => {
  it('echoes the request id exactly, large integers included', () => {
    const text = errorResponse(new LargeNumber('12345678901234567890'), {code: -32001, message: 'no'});
    expect(text).toBe('{"jsonrpc":"2.0","id":12345678901234567890,"error":{"code":-32001,"message":"no"}}');
  });
});

describe('normaliseMethod', () => {
  it('folds case, width and invisible characters so odd spellings are still governed', () => {
    for (const method of ['tools/call', 'Tools/Call', 'TOOLS/CALL', ' tools/call', 'tools/call\u200b', 'ｔｏｏｌｓ/ｃａｌｌ']) {
      expect(normaliseMethod(method)).toBe('tools/call');
    }
    expect(normaliseMethod('tools/list')).not.toBe('tools/call');
  });
});
