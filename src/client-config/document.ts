import {getLocation, getNodePath, getNodeValue, parseTree, printParseErrorCode, type Node, type ParseError} from 'jsonc-parser';

import {invalidConfig, pointerOf} from './config-error.js';
import {offsetToPosition} from '../util/validators.js';

/**
 * A config file as read: its exact bytes, the text jsonc-parser edits (without a BOM, which is
 * put back on write), the syntax tree with offsets, and the layout conventions edits follow.
 */
export interface ConfigDocument {
  file: string;
  bytes: Uint8Array;
  bom: string;
  text: string;
  /** undefined for an empty (or whitespace-only) file, which is read as `{}`. */
  tree: Node | undefined;
  value: unknown;
  eol: '\n' | '\r\n';
  /** One level of indentation as the file writes it (default two spaces). */
  indentUnit: string;
  /** Comments and trailing commas are allowed (VS Code's JSONC); otherwise strict JSON. */
  jsonc: boolean;
}

const PARSE_MESSAGES: Record<string, string> = {
  InvalidSymbol: 'unexpected character',
  InvalidNumberFormat: 'invalid number',
  PropertyNameExpected: 'expected a quoted property name (strict JSON allows no trailing comma)',
  ValueExpected: 'expected a value (strict JSON allows no trailing comma)',
  ColonExpected: 'expected ":"',
  CommaExpected: 'expected ","',
  CloseBraceExpected: 'expected "}"',
  CloseBracketExpected: 'expected "]"',
  EndOfFileExpected: 'unexpected text after the end of the JSON document',
  InvalidCommentToken: 'comments are not allowed here: this client reads strict JSON',
  UnexpectedEndOfComment: 'unterminated comment',
  UnexpectedEndOfString: 'unterminated string',
  UnexpectedEndOfNumber: 'unterminated number',
  InvalidUnicode: 'invalid \\u escape',
  InvalidEscapeCharacter: 'invalid escape sequence',
  InvalidCharacter: 'invalid character in a string (control characters must be escaped)',
};

export function parseConfigDocument(file: string, bytes: Uint8Array, options: {jsonc: boolean}): ConfigDocument {
  let decoded: string;
  try {
    decoded = new TextDecoder('utf-8', {fatal: true, ignoreBOM: true}).decode(bytes);
  } catch {
    throw invalidConfig({file, pointer: ''}, 'not valid UTF-8 text');
  }
  const bom = decoded.startsWith('\uFEFF') ? '\uFEFF' : '';
  const text = decoded.slice(bom.length);
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  if (text.trim() === '') {
    return {file, bytes, bom, text, tree: undefined, value: {}, eol, indentUnit: '  ', jsonc: options.jsonc};
  }
  const errors: ParseError[] = [];
  const tree = parseTree(text, errors, {disallowComments: !options.jsonc, allowTrailingComma: options.jsonc, allowEmptyContent: false});
  const first = errors[0];
  if (first !== undefined || tree === undefined) {
    const offset = first?.offset ?? 0;
    const name = first ? printParseErrorCode(first.error) : 'ValueExpected';
    throw syntaxError(file, text, offset, PARSE_MESSAGES[name] ?? name);
  }
  if (!options.jsonc) strictCheck(file, text);
  checkKeys(file, text, tree);
  return {file, bytes, bom, text, tree, value: getNodeValue(tree), eol, indentUnit: detectIndentUnit(text, tree), jsonc: options.jsonc};
}

/** jsonc-parser is lenient in corners JSON.parse is not; strict clients get JSON.parse's verdict. */
function strictCheck(file: string, text: string): void {
  try {
    JSON.parse(text);
  } catch (error) {
    const match = /position (\d+)/.exec(error instanceof Error ? error.message : '');
    const offset = match ? Number(match[1]) : 0;
    const detail = error instanceof Error ? error.message.replace(/ in JSON at position \d+.*$/s, '') : 'not valid JSON';
    throw syntaxError(file, text, offset, `not valid JSON (${detail})`);
  }
}

function syntaxError(file: string, text: string, offset: number, message: string): Error {
  const {line, column} = offsetToPosition(text, offset);
  const pointer = pointerOf(getLocation(text, offset).path.filter((segment) => segment !== ''));
  return invalidConfig({file, line, column, pointer}, message);
}

/**
 * Refuses duplicate keys (JSON readers silently keep only the last one, so an edit could land on
 * the wrong one) and `__proto__` (a JavaScript object cannot hold it as an ordinary key).
 */
function checkKeys(file: string, text: string, node: Node): void {
  if (node.type === 'object') {
    const seen = new Set<string>();
    for (const property of node.children ?? []) {
      const key = property.children?.[0]?.value as string;
      const problem = seen.has(key)
        ? `duplicate key "${key}" (JSON readers keep only the last one)`
        : key === '__proto__'
          ? 'a key named "__proto__" is not supported'
          : undefined;
      if (problem) {
        const {line, column} = offsetToPosition(text, property.offset);
        const value = property.children?.[1];
        throw invalidConfig({file, line, column, pointer: pointerOf(value ? getNodePath(value) : [])}, problem);
      }
      seen.add(key);
    }
  }
  for (const child of node.children ?? []) checkKeys(file, text, child);
}

/** The indentation of the root object's members, which is one level (or two spaces). */
function detectIndentUnit(text: string, tree: Node): string {
  const first = tree.type === 'object' || tree.type === 'array' ? tree.children?.[0] : undefined;
  if (!first) return '  ';
  const indent = lineIndent(text, first.offset);
  return indent === undefined || indent === '' ? '  ' : indent;
}

/** The whitespace before `offset` on its line, or undefined when other text precedes it there. */
export function lineIndent(text: string, offset: number): string | undefined {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  const before = text.slice(lineStart, offset);
  return /^[ \t]*$/.test(before) ? before : undefined;
}
