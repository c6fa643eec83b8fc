import fc from 'fast-check';
import {PassThrough} from 'node:stream';
import {describe, expect, it} from 'vitest';

import {formatEventLine} from '../../src/audit/format.js';
import type {StoredEvent} from '../../src/audit/reader.js';
import {formatErrorLine} from '../../src/util/error-format.js';
import {jamfExtensionAttribute} from '../../src/fleet/health-format.js';
import {createDiagnostics} from '../../src/proxy/diagnostics.js';
import {jsonTerminalSafe, terminalSafe, terminalSafeLines} from '../../src/util/terminal-text.js';

/** Every character that must never reach a terminal raw (the LF variant allows \n). */
const RAW_UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Default_Ignorable_Code_Point}]/u;
const RAW_UNSAFE_BUT_LF = /(?!\n)[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Default_Ignorable_Code_Point}]/u;

const codePoints = (from: number, to: number) => Array.from({length: to - from + 1}, (_, index) => String.fromCodePoint(from + index));

describe('terminalSafe', () => {
  it('escapes every C0 control, DEL and every C1 control as a visible escape', () => {
    for (const char of [...codePoints(0x00, 0x1f), '\u007f', ...codePoints(0x80, 0x9f)]) {
      const out = terminalSafe(`a${char}b`);
      expect(out, JSON.stringify(char)).not.toMatch(RAW_UNSAFE);
      expect(out.startsWith('a\\') && out.endsWith('b')).toBe(true);
    }
    expect(terminalSafe('\u001b]0;pwned\u0007read_file')).toBe('\\x1b]0;pwned\\x07read_file');
    expect(terminalSafe('x\r\u001b[2Kthoth: all calls approved')).toBe('x\\r\\x1b[2Kthoth: all calls approved');
    expect(terminalSafe('a\nb\tc\u0000\u007f\u009b\u0085')).toBe('a\\nb\\tc\\x00\\x7f\\u009b\\u0085');
  });

  it('escapes bidi overrides and isolates, zero-width and other invisible characters, tags and line separators', () => {
    const invisible = [
      ...codePoints(0x202a, 0x202e), // LRE RLE PDF LRO RLO
      ...codePoints(0x2066, 0x2069), // LRI RLI FSI PDI
      '\u200e',
      '\u200f',
      '\u061c', // LRM RLM ALM
      '\u200b',
      '\u200c',
      '\u200d',
      '\u2060',
      '\ufeff',
      '\u00ad',
      '\u180e',
      '\u3164',
      '\ufe0f',
      '\u2028',
      '\u2029',
      '\u{e0001}',
      '\u{e0041}',
      '\u{e007f}',
      '\u{e0100}',
    ];
    for (const char of invisible) expect(terminalSafe(`a${char}b`), JSON.stringify(char)).not.toMatch(RAW_UNSAFE);
    expect(terminalSafe('read_file\u202eexe.hs')).toBe('read_file\\u202eexe.hs');
    expect(terminalSafe('tag\u{e0041}')).toBe('tag\\u{e0041}');
    expect(terminalSafe('lone \ud800 surrogate')).toBe('lone \\ud800 surrogate');
  });

  it('leaves printable text alone, in any script, backslashes included', () => {
    for (const text of [
      'read_file',
      'Ünïcödé façade',
      '日本語のツール',
      'emoji 😀 ✓ ✗ →',
      'C:\\Users\\ann\\x.txt',
      'a "quoted" {json: [1]}',
      '',
    ]) {
      expect(terminalSafe(text)).toBe(text);
    }
  });

  it('never lets an unsafe character through, and is idempotent on its output (property)', () => {
    fc.assert(
      fc.property(fc.fullUnicodeString({maxLength: 60}), fc.string({unit: 'binary', maxLength: 40}), (text, binary) => {
        for (const input of [text, binary, `${text}\ud800${binary}`]) {
          const once = terminalSafe(input);
          expect(once).not.toMatch(RAW_UNSAFE);
          expect(terminalSafe(once)).toBe(once);
        }
      }),
      {numRuns: 150},
    );
  });

  it('terminalSafeLines keeps the line feeds of text thoth built, and nothing else', () => {
    expect(terminalSafeLines('one\ntwo\r\u001b[2K\u009b\n')).toBe('one\ntwo\\r\\x1b[2K\\u009b\n');
    fc.assert(
      fc.property(fc.fullUnicodeString({maxLength: 60}), (text) => {
        const out = terminalSafeLines(text);
        expect(out).not.toMatch(RAW_UNSAFE_BUT_LF);
        expect(out.split('\n').length).toBe(text.split('\n').length);
      }),
      {numRuns: 200},
    );
  });
});

describe('jsonTerminalSafe', () => {
  it('escapes DEL, C1 and invisible characters inside JSON strings, and the JSON means the same', () => {
    const value = {tool: '\u001b]0;x\u0007\u009b\u007f\u202e\u{e0041}\u2028', n: [1, 'ok ✓']};
    const json = jsonTerminalSafe(JSON.stringify(value, null, 2));
    expect(json).not.toMatch(RAW_UNSAFE_BUT_LF);
    expect(json).toContain('\\u009b');
    expect(json).toContain('\\udb40\\udc41');
    expect(JSON.parse(json)).toEqual(value);
  });

  it('round-trips any value (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.fullUnicodeString(), (value, text) => {
        for (const input of [value, {text}]) {
          const json = jsonTerminalSafe(JSON.stringify(input));
          expect(json).not.toMatch(RAW_UNSAFE);
          expect(JSON.parse(json)).toEqual(JSON.parse(JSON.stringify(input)));
        }
      }),
      {numRuns: 200},
    );
  });

  it('leaves the ESC of a JSON colouriser alone (it is outside the strings)', () => {
    expect(jsonTerminalSafe('\u001b[32m"a"\u001b[39m')).toBe('\u001b[32m"a"\u001b[39m');
  });
});

describe('the renderers escape what they quote', () => {
  const hostile = 'x\r\u001b[2Kthoth: all calls approved\u009b31m\u202e\nforged';

  it('an audit line stays one line without controls, whatever the event fields hold', () => {
    const event = {
      type: 'TOOL_CALL_PRE',
      timestamp: '2026-01-01T00:00:00.000Z',
      agentId: `agent${hostile}`,
      sessionId: `s${hostile}`,
      toolName: hostile,
      decision: 'block',
      ruleId: `rule${hostile}`,
      reason: `because ${hostile}`,
    };
    const line = formatEventLine({event} as unknown as StoredEvent);
    expect(line).not.toMatch(RAW_UNSAFE);
    expect(line).toContain('x\\r\\x1b[2Kthoth: all calls approved\\u009b31m\\u202e\\nforged');
  });

  it('the error line keeps its two lines and escapes the message and the hints', () => {
    const line = formatErrorLine({code: 'X', message: `no approval with id "${hostile}"`, suggestions: [`run ${hostile}`], exitCode: 4});
    expect(line.split('\n')).toHaveLength(3);
    expect(line).not.toMatch(RAW_UNSAFE_BUT_LF);
    expect(line).toMatch(/^thoth: error: no approval with id "x\\r\\x1b\[2K/);
  });

  it('`thoth run` diagnostics: one escaped line per message, on stderr and in the log', async () => {
    const stderr = new PassThrough();
    let written = '';
    stderr.setEncoding('utf8').on('data', (chunk: string) => (written += chunk));
    const diagnostics = createDiagnostics({stderr});
    diagnostics.warn(`the definition of tool "${hostile}" changed`);
    diagnostics.diverted(Buffer.from(`banner ${hostile}`));
    await diagnostics.close();
    expect(written.split('\n')).toHaveLength(3);
    expect(written).not.toMatch(RAW_UNSAFE_BUT_LF);
    expect(written).toContain('[thoth] warning: the definition of tool "x\\r\\x1b[2K');
    expect(written).toContain('kept off the protocol stream: banner x\\r\\x1b[2K');
  });

  it('a Jamf extension attribute stays one <result> without controls or bidi characters', () => {
    expect(jamfExtensionAttribute(`a\u001b[31m<b>\u202e\r\nc`)).toBe('<result>a\\x1b[31m_b_\\u202e c</result>');
  });
});
