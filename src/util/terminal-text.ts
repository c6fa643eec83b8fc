/**
 * Text from outside thoth, made safe to show a person.
 *
 * Tool names, agent ids, argument previews, reasons that quote them, lines a server printed and
 * file names from configs are chosen by a server, an agent or whoever edited a file. Printed raw,
 * ESC/CSI/OSC sequences retitle the window, recolour, move the cursor or erase lines (`\r` plus
 * `ESC[2K` rewrites what the operator reads), BEL rings, C1 controls (U+0080–U+009F: U+009B is a
 * one-byte CSI for many terminals) do the same, and an embedded line break forges a whole line of
 * thoth's output. Unicode format characters do it without a terminal: bidi overrides and isolates
 * (U+202A–U+202E, U+2066–U+2069, U+200E/U+200F, U+061C) reorder what is displayed, so that
 * `read_file\u202Eexe.hs` shows as something else; zero-width characters, tag characters
 * (U+E0000–U+E007F) and variation selectors hide text or make two different names look the same.
 *
 * So every such character becomes a visible escape: `\n`, `\r`, `\t`, `\x1b` (C0, DEL), `\u009b`,
 * `\u202e` and `\u{e0041}` (astral). Escaped: general categories Cc (C0, DEL, C1), Cf (format),
 * Zl and Zp (line and paragraph separators), Cs (lone surrogates) and every Default_Ignorable_Code_Point
 * (which adds Hangul fillers, variation selectors and the soft hyphen, all invisible). The cost is
 * that emoji sequences joined by ZWJ or carrying a variation selector show their joiners: a display
 * for an operator deciding about a call must show what is there, not what it renders as.
 *
 * A backslash is not escaped: Windows paths stay readable, and the escaped form is for display,
 * never parsed back (`--json` carries the exact value).
 */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Default_Ignorable_Code_Point}]/u;
const UNSAFE_ALL = new RegExp(UNSAFE.source, 'gu');
/** The same without LF: for text thoth built line by line itself (the last net, at the sink). */
const UNSAFE_BUT_LF = /(?!\n)[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Default_Ignorable_Code_Point}]/u;
const UNSAFE_BUT_LF_ALL = new RegExp(UNSAFE_BUT_LF.source, 'gu');

const SHORT: Record<string, string> = {'\n': '\\n', '\r': '\\r', '\t': '\\t'};

function escapeChar(char: string): string {
  const short = SHORT[char];
  if (short !== undefined) return short;
  const code = char.codePointAt(0)!;
  if (code < 0x80) return `\\x${code.toString(16).padStart(2, '0')}`;
  if (code <= 0xffff) return `\\u${code.toString(16).padStart(4, '0')}`;
  return `\\u{${code.toString(16)}}`;
}

/**
 * One untrusted value as it may appear inside a line of human output: every control, format and
 * invisible character escaped, line breaks included. Idempotent on its own output.
 */
export function terminalSafe(text: string): string {
  return UNSAFE.test(text) ? text.replace(UNSAFE_ALL, escapeChar) : text;
}

/**
 * A block of human output that thoth put together line by line: the same escaping, except for
 * the line feeds between its lines. This is the net under every `log` of a command; it cannot tell
 * a line feed inside an untrusted value from one of thoth's, so values are escaped with
 * terminalSafe where they are put into a line.
 */
export function terminalSafeLines(text: string): string {
  return UNSAFE_BUT_LF.test(text) ? text.replace(UNSAFE_BUT_LF_ALL, escapeChar) : text;
}

/**
 * JSON text for stdout: JSON.stringify escapes C0 but leaves DEL, C1, bidi and the other
 * invisible characters raw, and a person may well `cat` the output. Inside a JSON string `\uXXXX`
 * means the same character, so escaping them keeps the value exact for every parser. Only
 * characters that cannot occur outside a JSON string are touched (never the ESC of a colouriser).
 */
const JSON_UNSAFE = /(?![\u0000-\u001f])[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Default_Ignorable_Code_Point}]/u;
const JSON_UNSAFE_ALL = new RegExp(JSON_UNSAFE.source, 'gu');

export function jsonTerminalSafe(json: string): string {
  return JSON_UNSAFE.test(json) ? json.replace(JSON_UNSAFE_ALL, jsonEscape) : json;
}

function jsonEscape(char: string): string {
  // Astral characters as their UTF-16 surrogate pair: JSON has no \u{...}.
  let out = '';
  for (let index = 0; index < char.length; index++) out += `\\u${char.charCodeAt(index).toString(16).padStart(4, '0')}`;
  return out;
}
