import fc from 'fast-check';
import {describe, expect, it} from 'vitest';

import {foldKey} from '../../src/proxy/fold-key.js';
import {LargeNumber, parseJson} from '../../src/proxy/json-rpc.js';
import {MAX_NESTING_DEPTH, checkClientMessage} from '../../src/proxy/message-checks.js';

describe('foldKey: a superset of how case-insensitive decoders match keys', () => {
  it.each([
    ['method', 'Method'],
    ['method', 'METHOD'],
    ['params', 'param\u017f'], // ſ LATIN SMALL LETTER LONG S folds to s
    ['key', '\u212aey'], // K KELVIN SIGN folds to k
    ['id', '\u0131d'], // ı: Go's SimpleFold takes it to I
    ['id', '\u0130d'], // İ: Go's ToLower takes it to i
    ['\u00b5', '\u03bc'], // µ MICRO SIGN and μ
    ['\u03bc', '\u039c'],
    ['\u03d1', '\u03b8'], // ϑ and θ
    ['\u03f4', '\u0398'], // ϴ and Θ
    ['\u01c5', '\u01c6'], // ǅ and ǆ (title case)
    ['\u01c4', '\u01c6'],
    ['\u03c2', '\u03c3'], // final and ordinary sigma
    ['\u1e9e', '\u00df'], // ẞ and ß
    ['\u13a0', '\uab70'], // Cherokee
  ])('%j and %j fold together', (a, b) => {
    expect(foldKey(a)).toBe(foldKey(b));
  });

  it.each([
    ['path', 'paths'],
    ['\u00df', 'ss'], // ß is not SS under simple folding
    ['name', 'n\u0430me'], // Cyrillic а is another letter, not a case of a
    ['a', '\u00e1'],
  ])('%j and %j stay apart', (a, b) => {
    expect(foldKey(a)).not.toBe(foldKey(b));
  });

  it('folds together any two keys equal under single-character lower-casing (property)', () => {
    const singleCase = fc.integer({min: 0x20, max: 0x2fff}).map((code) => String.fromCodePoint(code)).filter((c) => [...c.toLowerCase()].length === 1 && [...c.toUpperCase()].length === 1);
    fc.assert(
      fc.property(fc.array(singleCase, {minLength: 1, maxLength: 8}), (characters) => {
        const a = characters.join('');
        const b = characters.map((c, index) => (index % 2 === 0 ? c.toUpperCase() : c.toLowerCase())).join('');
        if (a.toLowerCase() === b.toLowerCase()) expect(foldKey(a)).toBe(foldKey(b));
      }),
      {numRuns: 2000},
    );
  });
});

describe('checkClientMessage', () => {
  it('accepts ordinary MCP messages', () => {
    for (const message of [
      {jsonrpc: '2.0', id: 1, method: 'tools/call', params: {name: 'read', arguments: {path: '/tmp/x', options: {encoding: 'utf8'}}, _meta: {progressToken: 1}}},
      {jsonrpc: '2.0', id: 'a', result: {roots: [{uri: 'file:///home/u', name: 'home'}]}},
      {jsonrpc: '2.0', method: 'notifications/cancelled', params: {requestId: 1, reason: 'x'}},
      {jsonrpc: '2.0', id: 2, method: 'initialize', params: {protocolVersion: '2025-06-18', capabilities: {}, clientInfo: {name: 'c', version: '1'}}},
    ]) {
      expect(checkClientMessage(message)).toBeUndefined();
    }
  });

  it('refuses two keys of one object that fold together, at any depth', () => {
    expect(checkClientMessage({jsonrpc: '2.0', id: 1, method: 'tools/call', params: {name: 'x', arguments: {path: '/tmp/x', Path: '~/.ssh/id_rsa'}}})).toMatchObject({
      kind: 'ambiguous-keys',
      pointer: '/params/arguments',
    });
    expect(checkClientMessage({jsonrpc: '2.0', id: 1, method: 'x', params: {list: [{a: 1, A: 2}]}})).toMatchObject({kind: 'ambiguous-keys', pointer: '/params/list/0'});
  });

  it('refuses an envelope key spelled another way, even alone', () => {
    expect(checkClientMessage({jsonrpc: '2.0', id: 1, Method: 'tools/call'})).toMatchObject({kind: 'envelope-key', pointer: ''});
    expect(checkClientMessage({jsonrpc: '2.0', id: 1, method: 'tools/call', 'param\u017f': {}})).toMatchObject({kind: 'envelope-key'});
    expect(checkClientMessage({jsonrpc: '2.0', ID: 1, method: 'ping'})).toMatchObject({kind: 'envelope-key'});
    expect(checkClientMessage({jsonrpc: '2.0', id: 1, method: 'tools/call', params: {NAME: 'x'}})).toMatchObject({kind: 'envelope-key', pointer: '/params'});
    expect(checkClientMessage({jsonrpc: '2.0', id: 1, method: 'tools/call', params: {name: 'x', Arguments: {}}})).toMatchObject({kind: 'envelope-key'});
    expect(checkClientMessage({jsonrpc: '2.0', id: 1, method: 'tools/call', params: {name: 'x', _META: {}}})).toMatchObject({kind: 'envelope-key'});
    // Inside the arguments, a key called Name is the tool's business.
    expect(checkClientMessage({jsonrpc: '2.0', id: 1, method: 'tools/call', params: {name: 'x', arguments: {Name: 'n'}}})).toBeUndefined();
  });

  it('reads escaped spellings as what they spell', () => {
    expect(checkClientMessage(parseJson('{"jsonrpc":"2.0","id":1,"method":"ping","\\u004dethod":"tools/call"}'))).toMatchObject({kind: 'envelope-key'});
  });

  it(`refuses nesting beyond ${MAX_NESTING_DEPTH} levels without overflowing the stack`, () => {
    const deep = JSON.parse(`{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}}`) as unknown;
    expect(checkClientMessage(deep)).toMatchObject({kind: 'too-deep'});
    let nested: unknown = 1;
    for (let depth = 0; depth < MAX_NESTING_DEPTH - 3; depth++) nested = [nested];
    expect(checkClientMessage({jsonrpc: '2.0', id: 1, method: 'x', params: {a: nested}})).toBeUndefined();
  });

  it('treats large integers as values, not objects', () => {
    expect(checkClientMessage({jsonrpc: '2.0', id: new LargeNumber('123456789012345678901'), method: 'ping'})).toBeUndefined();
  });
});
