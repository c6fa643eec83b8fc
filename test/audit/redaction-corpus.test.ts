import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {buildContent} from '../../src/audit/content.js';
import {mayHoldSecrets, redactJsonText, redactText, redactValue} from '../../src/audit/redact.js';
import {REPO_ROOT} from '../helpers/cli.js';

/**
 * fixtures/redaction/: realistic secrets that must not reach the audit trail (positive.jsonl) and
 * ordinary text that must reach it unchanged (negative.jsonl). Every sample goes through every
 * path: free text, a structured value (as a property value, an array item and an object key),
 * raw JSON text (whole and cut short), and the content builder the sessions use.
 */
interface Positive {
  /** Free text holding the secret, or… */
  text?: string;
  /** …a JSON value holding it (object keys, argv arrays). */
  value?: unknown;
  secret: string;
  kind: string;
  note?: string;
}

function lines<T>(file: string): T[] {
  return readFileSync(join(REPO_ROOT, 'fixtures', 'redaction', file), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as T);
}

const positives = lines<Positive>('positive.jsonl');
const negatives = lines<{text: string}>('negative.jsonl');

/** Each path's output as text, by name. */
function pathsFor(sample: Positive): Record<string, string> {
  if (sample.value !== undefined) {
    const json = JSON.stringify(sample.value);
    return {structured: JSON.stringify(redactValue(sample.value).value), 'raw JSON': redactJsonText(json).value};
  }
  const text = sample.text!;
  const json = JSON.stringify({input: text});
  return {
    'free text': redactText(text).value,
    'structured value': JSON.stringify(redactValue({input: text}).value),
    'structured array item': JSON.stringify(redactValue(['echo', text]).value),
    'structured key': JSON.stringify(redactValue({[text]: 1}).value),
    'raw JSON': redactJsonText(json).value,
    'raw JSON cut short': redactJsonText(json.slice(0, -2)).value,
  };
}

describe('the redaction corpus', () => {
  it('has samples', () => {
    expect(positives.length).toBeGreaterThan(40);
    expect(negatives.length).toBeGreaterThan(25);
  });

  for (const sample of positives) {
    const label = `${sample.kind}: ${sample.note ?? JSON.stringify(sample.text ?? sample.value).slice(0, 90)}`;
    it(`removes ${label}`, async () => {
      // The sample must hold its secret, or the test proves nothing.
      expect(JSON.stringify(sample.text ?? sample.value)).toContain(JSON.stringify(sample.secret).slice(1, -1));
      for (const [path, out] of Object.entries(pathsFor(sample))) {
        expect(out, `${path}: ${out}`).not.toContain(sample.secret);
        expect(out, `${path}: ${out}`).not.toContain(JSON.stringify(sample.secret).slice(1, -1));
        expect(out, `${path}: ${out}`).toContain(`[REDACTED:${sample.kind}]`);
      }
      // What a session records: the content builder (pre-filter, parse, redact, cap).
      const json = JSON.stringify(sample.value ?? {input: sample.text});
      expect(mayHoldSecrets(json)).toBe(true);
      const content = await buildContent(json, {maxBytes: 64 * 1024});
      expect(content.content).not.toContain(sample.secret);
      expect(content.redactions).toBeGreaterThan(0);
    });
  }

  for (const {text} of negatives) {
    it(`keeps ${JSON.stringify(text).slice(0, 90)}`, () => {
      expect(redactText(text)).toEqual({value: text, count: 0});
      expect(redactValue({input: text})).toEqual({value: {input: text}, count: 0});
      expect(redactValue(['run', '-x', text])).toEqual({value: ['run', '-x', text], count: 0});
      const json = JSON.stringify({input: text});
      expect(redactJsonText(json)).toEqual({value: json, count: 0});
    });
  }
});

describe('keys by shape', () => {
  it('keeps keys unique when two redacted keys collide, and keeps a __proto__ key as a plain key', () => {
    const value = JSON.parse(
      '{"ghp_1234567890abcdefghijklmnopqrstuvwxyzAB": 1, "ghp_1234567890abcdefghijklmnopqrstuvwxyzCD": 2, "[REDACTED:api-key]#2": 3, "__proto__": {"a": 1}}',
    ) as Record<string, unknown>;
    const {value: out, count} = redactValue(value);
    expect(Object.keys(out as object)).toEqual(['[REDACTED:api-key]', '[REDACTED:api-key]#2', '[REDACTED:api-key]#2#2', '__proto__']);
    expect(Object.values(out as object)).toEqual([1, 2, 3, {a: 1}]);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(count).toBe(2);
  });
});
