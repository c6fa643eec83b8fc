/**
 * The key a case-insensitive JSON decoder would match a property name with. Go's encoding/json
 * (most Go MCP servers), .NET's case-insensitive deserialisers and Jackson's
 * ACCEPT_CASE_INSENSITIVE_PROPERTIES match object keys ignoring case, with Unicode simple case
 * folding: `ſ` (U+017F) reads as `s`, `K` (U+212A) as `k`, and Go also folds `ı` (U+0131) to `I`.
 * This fold is a superset of theirs: whenever one of those decoders takes two keys for the same
 * field, foldKey gives them the same value, so thoth can refuse what they would read differently.
 */
export function foldKey(key: string): string {
  // Nearly every key is ASCII: uppercase it and be done.
  if (ASCII.test(key)) return key.toUpperCase();
  let out = '';
  for (const character of key) out += foldCharacter(character);
  return out;
}

const ASCII = /^[\u0000-\u007f]*$/;

/** Characters whose case mappings are not single characters in JavaScript but fold in Go/.NET. */
const SPECIAL: Record<string, string> = {
  // Go: ToLower('İ') = 'i', and SimpleFold('ı') = 'I'. .NET's invariant upper-casing agrees for ı.
  '\u0130': 'I',
  '\u0131': 'I',
};

function foldCharacter(character: string): string {
  const special = SPECIAL[character];
  if (special !== undefined) return special;
  if (character.charCodeAt(0) < 0x80) return character.toUpperCase();
  // upper(lower(c)) lands every member of a simple-folding orbit on one character: K (Kelvin) →
  // k → K, ſ → ſ → S, ϑ → ϑ → Θ, ǅ → ǆ → Ǆ. A full mapping to several characters (ß → SS) is
  // not a simple fold: keep the character.
  const lower = single(character.toLowerCase()) ?? character;
  return single(lower.toUpperCase()) ?? lower;
}

function single(text: string): string | undefined {
  const first = text.codePointAt(0);
  if (first === undefined) return undefined;
  return text.length === (first > 0xffff ? 2 : 1) ? text : undefined;
}
