import {parseTree, type Node} from 'jsonc-parser';
import {describe, expect, it} from 'vitest';

import {
  applyTextEdits,
  insertArrayPrefixEdit,
  insertPropertyEdit,
  removeArrayPrefixEdit,
  removeMemberEdit,
} from '../../src/client-config/text-edits.js';

const LF = {eol: '\n', indentUnit: '  '};

function root(text: string): Node {
  const node = parseTree(text, [], {allowTrailingComma: true});
  if (!node) throw new Error('no tree');
  return node;
}

function lastMember(text: string): Node {
  const members = root(text).children!;
  return members[members.length - 1]!;
}

describe("property insertion follows the object's layout and is undone exactly", () => {
  it.each([
    ['multi-line, two spaces', '{\n  "a": "1"\n}', '{\n  "a": "1",\n  "k": "v"\n}'],
    ['multi-line, tabs', '{\n\t"a": "1"\n}', '{\n\t"a": "1",\n\t"k": "v"\n}'],
    ['one line', '{"a": "1", "b": "2"}', '{"a": "1", "b": "2", "k": "v"}'],
    ['compact', '{"a":"1","b":"2"}', '{"a":"1","b":"2","k":"v"}'],
    ['empty', '{}', '{"k": "v"}'],
    ['empty with a space', '{ }', '{"k": "v" }'],
    ['trailing comma (JSONC)', '{\n  "a": "1",\n}', '{\n  "a": "1",\n  "k": "v",\n}'],
    [
      'a comment between members is not copied',
      '{\n  "a": "1", // first\n  "b": "2"\n}',
      '{\n  "a": "1", // first\n  "b": "2",\n  "k": "v"\n}',
    ],
    ["the last member's line comment stays with it", '{\n  "a": "1" // about a\n}', '{\n  "a": "1", // about a\n  "k": "v"\n}'],
    ['... also after a trailing comma', '{\n  "a": "1", // about a\n}', '{\n  "a": "1", // about a\n  "k": "v",\n}'],
    ['... and a block comment', '{\r\n  "a": "1" /* about a */\r\n}', '{\r\n  "a": "1", /* about a */\n  "k": "v"\r\n}'],
    ['a comment on the next line is left below', '{\n  "a": "1"\n  // the end\n}', '{\n  "a": "1",\n  "k": "v"\n  // the end\n}'],
  ])('%s', (_name, before, after) => {
    const inserted = applyTextEdits(before, insertPropertyEdit(before, root(before), 'k', 'v', LF));
    expect(inserted).toBe(after);
    expect(applyTextEdits(inserted, removeMemberEdit(inserted, lastMember(inserted)))).toBe(before);
  });

  it('uses CRLF in CRLF files and lays out a new object value over several lines', () => {
    const before = '{\r\n    "a": "1"\r\n}';
    const inserted = applyTextEdits(
      before,
      insertPropertyEdit(before, root(before), 'env', {K: 'v', L: 'w'}, {eol: '\r\n', indentUnit: '    '}),
    );
    expect(inserted).toBe('{\r\n    "a": "1",\r\n    "env": {\r\n        "K": "v",\r\n        "L": "w"\r\n    }\r\n}');
    expect(applyTextEdits(inserted, removeMemberEdit(inserted, lastMember(inserted)))).toBe(before);
  });

  it('removes the first of several members with the separator after it', () => {
    const text = '{\n  "a": "1",\n  "b": "2"\n}';
    expect(applyTextEdits(text, removeMemberEdit(text, root(text).children![0]!))).toBe('{\n  "b": "2"\n}');
  });
});

describe('array prefix insertion is undone exactly', () => {
  it.each([
    ['multi-line', '[\n  "a",\n  "b"\n]', '[\n  "x",\n  "y",\n  "a",\n  "b"\n]'],
    ['one item on its own line', '[\n    "a"\n  ]', '[\n    "x",\n    "y",\n    "a"\n  ]'],
    ['inline', '["a", "b"]', '["x", "y", "a", "b"]'],
    ['compact', '["a","b"]', '["x","y","a","b"]'],
    ['first item on the bracket line', '["a",\n   "b"]', '["x",\n   "y",\n   "a",\n   "b"]'],
    ['empty', '[]', '["x", "y"]'],
    ['empty over two lines', '[\n]', '["x", "y"\n]'],
    ['trailing comma', '[\n  "a",\n]', '[\n  "x",\n  "y",\n  "a",\n]'],
    ['comment before the first item', '[ /* c */ "a"]', '[ /* c */ "x", "y", "a"]'],
  ])('%s', (_name, before, after) => {
    const inserted = applyTextEdits(before, [insertArrayPrefixEdit(before, root(before), ['x', 'y'], LF)]);
    expect(inserted).toBe(after);
    const edit = removeArrayPrefixEdit(root(inserted), 2);
    expect(edit && applyTextEdits(inserted, [edit])).toBe(before);
  });
});

describe('applyTextEdits', () => {
  it('applies several edits in offset order and refuses overlapping ones', () => {
    expect(
      applyTextEdits('abcdef', [
        {offset: 4, length: 1, content: 'E'},
        {offset: 0, length: 1, content: 'A'},
      ]),
    ).toBe('AbcdEf');
    expect(() =>
      applyTextEdits('abcdef', [
        {offset: 0, length: 3, content: ''},
        {offset: 2, length: 1, content: ''},
      ]),
    ).toThrow(/overlapping/);
  });
});
