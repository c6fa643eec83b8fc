import type {Edit, Node} from 'jsonc-parser';

import {lineIndent} from './document.js';

/**
 * Minimal, exactly reversible text edits on a parsed JSON(C) document. jsonc-parser's `modify`
 * re-formats around its edits, so an insertion followed by a removal does not always give the
 * original bytes back; these primitives touch only the characters they add or take away:
 *
 * - a property is always inserted after the last member as `,<separator>"key": value`, and
 *   removing a member takes away `,<separator>` before it: the exact inverse;
 * - array items are inserted before the first item as `item,<separator>`, and removing a prefix
 *   takes away everything from the first item up to the first item kept.
 */

export interface Layout {
  eol: string;
  /** One indentation level of the file. */
  indentUnit: string;
}

/** Applies non-overlapping edits in one pass (jsonc-parser's applyEdits copies the text per edit). */
export function applyTextEdits(text: string, edits: readonly Edit[]): string {
  const sorted = [...edits].sort((a, b) => a.offset - b.offset);
  const parts: string[] = [];
  let position = 0;
  for (const edit of sorted) {
    if (edit.offset < position) throw new Error('overlapping edits');
    parts.push(text.slice(position, edit.offset), edit.content);
    position = edit.offset + edit.length;
  }
  parts.push(text.slice(position));
  return parts.join('');
}

export function replaceValueEdit(value: Node, content: string): Edit {
  return {offset: value.offset, length: value.length, content};
}

/**
 * Removes a property (or array item) together with the separator that joins it to the others.
 * A member inserted after a line that ends in a comment (see insertPropertyEdit) is taken out
 * with the comma thoth added before that comment, so the comment stays where it was.
 */
export function removeMemberEdit(text: string, member: Node): Edit[] {
  const siblings = member.parent?.children ?? [member];
  const index = siblings.indexOf(member);
  const previous = siblings[index - 1];
  const next = siblings[index + 1];
  const end = member.offset + member.length;
  if (previous) {
    const previousEnd = previous.offset + previous.length;
    if (/\/\/|\/\*/.test(text.slice(previousEnd, member.offset))) {
      const lineEnd = endOfLine(text, previousEnd);
      const trailingComma = /^[ \t]*,/.exec(text.slice(end));
      if (trailingComma) return [{offset: lineEnd, length: end + trailingComma[0].length - lineEnd, content: ''}];
      const edits: Edit[] = [{offset: lineEnd, length: end - lineEnd, content: ''}];
      if (text[previousEnd] === ',') edits.push({offset: previousEnd, length: 1, content: ''});
      return edits;
    }
    return [{offset: previousEnd, length: end - previousEnd, content: ''}];
  }
  if (next) return [{offset: member.offset, length: next.offset - member.offset, content: ''}];
  return [{offset: member.offset, length: member.length, content: ''}];
}

/** Where the line containing `offset` ends (before its \r\n or \n). */
function endOfLine(text: string, offset: number): number {
  const newline = text.indexOf('\n', offset);
  if (newline === -1) return text.length;
  return text[newline - 1] === '\r' ? newline - 1 : newline;
}

/** The rest of the line after `offset` when it is only an optional comma and a comment. */
function commentTail(text: string, offset: number): {end: number; comma: boolean} | undefined {
  const end = endOfLine(text, offset);
  const match = /^[ \t]*(,?)[ \t]*(\/\/.*|\/\*.*\*\/[ \t]*)$/.exec(text.slice(offset, end));
  return match ? {end, comma: match[1] === ','} : undefined;
}

/**
 * Inserts `"key": value` as the last member of `object`; `value` is a JSON value (not text).
 * When the last member's line ends in a comment (JSONC), the new member goes on the next line so
 * the comment stays with the member it was written for.
 */
export function insertPropertyEdit(text: string, object: Node, key: string, value: unknown, layout: Layout): Edit[] {
  const members = object.children ?? [];
  const last = members[members.length - 1];
  const colon = colonStyle(text, object);
  if (!last) {
    return [{offset: object.offset + 1, length: 0, content: `${JSON.stringify(key)}${colon}${formatInline(value)}`}];
  }
  const separator = memberSeparator(text, object, layout);
  const multiline = separator.includes('\n');
  const indent = multiline ? separator.slice(separator.lastIndexOf('\n') + 1) : '';
  const member = `${JSON.stringify(key)}${colon}${multiline ? formatBlock(value, indent, layout) : formatInline(value)}`;
  const lastEnd = last.offset + last.length;
  const tail = multiline ? commentTail(text, lastEnd) : undefined;
  if (tail?.comma) return [{offset: tail.end, length: 0, content: `${layout.eol}${indent}${member},`}];
  if (tail)
    return [
      {offset: lastEnd, length: 0, content: ','},
      {offset: tail.end, length: 0, content: `${layout.eol}${indent}${member}`},
    ];
  return [{offset: lastEnd, length: 0, content: `${separator}${member}`}];
}

/** Inserts `items` (JSON values) before the first item of `array`. */
export function insertArrayPrefixEdit(text: string, array: Node, items: readonly unknown[], layout: Layout): Edit {
  const first = array.children?.[0];
  if (!first) return {offset: array.offset + 1, length: 0, content: items.map((item) => formatInline(item)).join(', ')};
  const separator = memberSeparator(text, array, layout);
  return {offset: first.offset, length: 0, content: items.map((item) => `${formatInline(item)}${separator}`).join('')};
}

/** Removes the first `count` items of `array` (the inverse of insertArrayPrefixEdit). */
export function removeArrayPrefixEdit(array: Node, count: number): Edit | undefined {
  const items = array.children ?? [];
  const first = items[0];
  if (count === 0 || !first) return undefined;
  const kept = items[count];
  if (kept) return {offset: first.offset, length: kept.offset - first.offset, content: ''};
  const last = items[Math.min(count, items.length) - 1]!;
  return {offset: first.offset, length: last.offset + last.length - first.offset, content: ''};
}

/**
 * What goes between two members: `,` plus the whitespace the container already uses (a newline
 * and the members' indentation, or a space), never a copy of a comment.
 */
function memberSeparator(text: string, container: Node, layout: Layout): string {
  const members = container.children ?? [];
  const first = members[0];
  if (!first) return ', ';
  const second = members[1];
  if (second) {
    const between = text.slice(first.offset + first.length, second.offset);
    const indent = lineIndent(text, second.offset);
    if (between.includes('\n') && indent !== undefined) return `,${layout.eol}${indent}`;
    const gap = between.replace(',', '');
    if (/^[ \t]*$/.test(gap) && between.trimStart().startsWith(',')) return `,${gap}`;
  }
  const opening = text.slice(container.offset + 1, first.offset);
  const indent = lineIndent(text, first.offset);
  if (opening.includes('\n') && indent !== undefined) return `,${layout.eol}${indent}`;
  return ', ';
}

/** `": "` unless the object writes its members as `"key":value`. */
function colonStyle(text: string, object: Node): string {
  const property = object.children?.[0];
  const key = property?.children?.[0];
  const value = property?.children?.[1];
  if (!key || !value) return ': ';
  const between = text.slice(key.offset + key.length, value.offset);
  return /^[ \t]*:[ \t]*$/.test(between) ? between : ': ';
}

/** `["a", "b"]`, `{"k": "v"}`: one line, JSON escaping. */
export function formatInline(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => formatInline(item)).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}: ${formatInline(v)}`)
      .join(', ')}}`;
  }
  return JSON.stringify(value);
}

/** A value laid out over several lines, its members one level deeper than `indent`. */
function formatBlock(value: unknown, indent: string, layout: Layout): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  const inner = indent + layout.indentUnit;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[${value.map((item) => `${layout.eol}${inner}${formatBlock(item, inner, layout)}`).join(',')}${layout.eol}${indent}]`;
  }
  const entries = Object.entries(value);
  if (entries.length === 0) return '{}';
  return `{${entries.map(([k, v]) => `${layout.eol}${inner}${JSON.stringify(k)}: ${formatBlock(v, inner, layout)}`).join(',')}${layout.eol}${indent}}`;
}
