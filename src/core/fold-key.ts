/**
 * The key a JSON object key is matched by in servers that ignore case: Go's encoding/json (which
 * compares with Unicode simple case folding, `ſ` matching `s` and `K` (Kelvin) matching `k`)
 * and .NET's System.Text.Json with case-insensitive properties (ordinal upper-casing). Two keys
 * one of those servers would take for the same field fold to the same key here; the reverse need
 * not hold (it is a superset: `ı` and `İ` fold like `I` too, as Turkish-aware code may fold them).
 *
 * Per code point: the upper case of its lower case when both are a single code point (the
 * result is closed under both mappings), else its lower case, else itself. ASCII keys, nearly all
 * keys, take the fast path.
 */
export function foldKey(key: string): string {
  if (ASCII.test(key)) return key.toUpperCase();
  let folded = '';
  for (const character of key) folded += foldCharacter(character);
  return folded;
}

const ASCII = /^[\x00-\x7f]*$/;

function foldCharacter(character: string): string {
  // U+0130 İ lower-cases to two code points (i + combining dot) and U+0131 ı upper-cases to I:
  // both are I in Turkish-aware folding.
  if (character === '\u0130' || character === '\u0131') return 'I';
  const lower = singleCodePoint(character.toLowerCase());
  if (lower === undefined) return character;
  return singleCodePoint(lower.toUpperCase()) ?? lower;
}

function singleCodePoint(text: string): string | undefined {
  const first = text.codePointAt(0);
  if (first === undefined) return undefined;
  return text.length === (first > 0xffff ? 2 : 1) ? text : undefined;
}
