import {describe, expect, it} from 'vitest';

import {parseConfigDocument} from '../../src/client-config/document.js';
import {ThothError} from '../../src/core/errors.js';
import {ExitCode} from '../../src/core/exit-codes.js';

const encode = (text: string) => new TextEncoder().encode(text);

function failure(text: string | Uint8Array, jsonc = false): ThothError {
  try {
    parseConfigDocument('/home/jane/.config/Claude/claude_desktop_config.json', typeof text === 'string' ? encode(text) : text, {jsonc});
  } catch (error) {
    expect(error).toBeInstanceOf(ThothError);
    return error as ThothError;
  }
  throw new Error('expected a parse error');
}

describe('reading a config', () => {
  it('names file, line:column and the JSON pointer of a syntax error, with exit code 3', () => {
    const error = failure('{\n  "mcpServers": {\n    "a": {"command": "npx" "args": []}\n  }\n}');
    expect(error.message).toBe('/home/jane/.config/Claude/claude_desktop_config.json:3:28 at /mcpServers/a/args: expected ","');
    expect(error.exitCode).toBe(ExitCode.INVALID_INPUT);
    expect(error.code).toBe('CONFIG_INVALID');
  });

  it('refuses comments and trailing commas in strict clients but reads them in JSONC ones', () => {
    expect(failure('{\n  // note\n  "mcpServers": {}\n}').message).toMatch(/:2:3 at \/: comments are not allowed/);
    expect(failure('{"mcpServers": {},}').message).toMatch(/:1:19 at \/: expected a quoted property name/);
    const jsonc = parseConfigDocument('mcp.json', encode('{\n  // note\n  "servers": {},\n}'), {jsonc: true});
    expect(jsonc.value).toEqual({servers: {}});
  });

  it('refuses a control character inside a string', () => {
    expect(failure('{"mcpServers": {"a": {"command": "np\tx"}}}').message).toMatch(/:1:34 at \/mcpServers\/a\/command: invalid character/);
  });

  it('refuses duplicate keys (readers would silently keep only the last)', () => {
    expect(failure('{"mcpServers": {"a": {"command": "x"}, "a": {"command": "y"}}}').message).toMatch(
      /:1:40 at \/mcpServers\/a: duplicate key "a"/,
    );
  });

  it('refuses a key named __proto__ anywhere (it cannot be held as an ordinary key)', () => {
    expect(failure('{"mcpServers": {"__proto__": {"command": "x"}}}').message).toMatch(
      /:1:17 at \/mcpServers\/__proto__: a key named "__proto__" is not supported/,
    );
  });

  it('refuses bytes that are not UTF-8 instead of replacing them', () => {
    expect(failure(new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])).message).toMatch(/not valid UTF-8/);
  });

  it('reads an empty file as an empty config and keeps a BOM and CRLF for writing', () => {
    expect(parseConfigDocument('x.json', encode(''), {jsonc: false}).value).toEqual({});
    const document = parseConfigDocument('x.json', encode('\uFEFF{\r\n\t"mcpServers": {}\r\n}\r\n'), {jsonc: false});
    expect(document.bom).toBe('\uFEFF');
    expect(document.eol).toBe('\r\n');
    expect(document.indentUnit).toBe('\t');
    expect(document.value).toEqual({mcpServers: {}});
  });
});
