import type {Operation} from 'fast-json-patch';

import {pointerOf} from './config-error.js';

/**
 * An RFC 6902 patch from `before` to `after` that people can read: objects are compared member
 * by member (document order), arrays and scalars are replaced whole. (fast-json-patch's `compare`
 * turns "insert 8 items at the front of args" into a dozen index-by-index operations.)
 */
export function diffJson(before: unknown, after: unknown, path: (string | number)[] = []): Operation[] {
  if (isPlainObject(before) && isPlainObject(after)) {
    const operations: Operation[] = [];
    for (const key of Object.keys(before)) {
      if (!Object.hasOwn(after, key)) operations.push({op: 'remove', path: pointerOf([...path, key])});
      else operations.push(...diffJson(before[key], after[key], [...path, key]));
    }
    for (const key of Object.keys(after)) {
      if (!Object.hasOwn(before, key)) operations.push({op: 'add', path: pointerOf([...path, key]), value: after[key]});
    }
    return operations;
  }
  if (deepEqual(before, after)) return [];
  return [{op: 'replace', path: pointerOf(path), value: after}];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && deepEqual(a[key], b[key]));
  }
  return false;
}
