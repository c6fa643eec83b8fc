import {describe, expect, it} from 'vitest';

import {LargeNumber, parseJson} from '../../src/core/json-rpc.js';
import {MAX_NESTING_DEPTH, checkClientMessage} from '../../src/proxy/message-checks.js';

describe('checkClientMessage', () => {
  it('accepts ordinary MCP messages', () => {
    for (const message of [
      {
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: {name: 'read', arguments: {path: '/tmp/x', options: {encoding: 'utf8'}}, _meta: {progressToken: 1}},
      },
      {jsonrpc: '2.0', id: 'a', result: {roots: [{uri: 'file:///home/u', name: 'home'}]}},
      {jsonrpc: '2.0', method: 'notifications/cancelled', params: {requestId: 1, reason: 'x'}},
      {
        jsonrpc: '2.0',
        id: 2,
        method: 'initialize',
        params: {protocolVersion: '2025-06-18', capabilities: {}, clientInfo: {name: 'c', version: '1'}},
      },
    ]) {
      expect(checkClientMessage(message)).toBeUndefined();
    }
  });

  it('refuses two keys of one object that fold together, at any depth', () => {
    expect(
      checkClientMessage({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: {name: 'x', arguments: {path: '/tmp/x', Path: '~/.ssh/id_rsa'}},
      }),
    ).toMatchObject({
      kind: 'ambiguous-keys',
      pointer: '/params/arguments',
    });
    expect(checkClientMessage({jsonrpc: '2.0', id: 1, method: 'x', params: {list: [{a: 1, A: 2}]}})).toMatchObject({
      kind: 'ambiguous-keys',
      pointer: '/params/list/0',
    });
  });

  it('refuses an envelope key spelled another way, even alone', () => {
    expect(checkClientMessage({jsonrpc: '2.0', id: 1, Method: 'tools/call'})).toMatchObject({kind: 'envelope-key', pointer: ''});
    expect(checkClientMessage({jsonrpc: '2.0', id: 1, method: 'tools/call', 'param\u017f': {}})).toMatchObject({kind: 'envelope-key'});
    expect(checkClientMessage({jsonrpc: '2.0', ID: 1, method: 'ping'})).toMatchObject({kind: 'envelope-key'});
    expect(checkClientMessage({jsonrpc: '2.0', id: 1, method: 'tools/call', params: {NAME: 'x'}})).toMatchObject({
      kind: 'envelope-key',
      pointer: '/params',
    });
    expect(checkClientMessage({jsonrpc: '2.0', id: 1, method: 'tools/call', params: {name: 'x', Arguments: {}}})).toMatchObject({
      kind: 'envelope-key',
    });
    expect(checkClientMessage({jsonrpc: '2.0', id: 1, method: 'tools/call', params: {name: 'x', _META: {}}})).toMatchObject({
      kind: 'envelope-key',
    });
    // Inside the arguments, a key called Name is the tool's business.
    expect(checkClientMessage({jsonrpc: '2.0', id: 1, method: 'tools/call', params: {name: 'x', arguments: {Name: 'n'}}})).toBeUndefined();
  });

  it('reads escaped spellings as what they spell', () => {
    expect(checkClientMessage(parseJson('{"jsonrpc":"2.0","id":1,"method":"ping","\\u004dethod":"tools/call"}'))).toMatchObject({
      kind: 'envelope-key',
    });
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
