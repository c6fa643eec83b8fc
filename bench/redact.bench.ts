/**
 * Redaction of a 1 MB tool argument (src/audit/redact.ts), in the shapes that stress its regular
 * expressions: ordinary prose (the pre-filter's case), dense credentials, one long base64 word,
 * one long value after a credential name, many JWT-like and flag-like starts. Each row times the
 * structured path (redactValue of the parsed argument) and the raw-text path (redactJsonText of
 * its JSON), against JSON.parse of the same text in the same run: a ratio that stays flat as the
 * input grows (the 4 MB column) says the cost is linear, not quadratic.
 */
import {randomBytes} from 'node:crypto';

import {redactJsonText, redactValue} from '../src/audit/redact.js';
import type {BenchContext, BenchSection} from './main.js';

const WORDS = 'the quick report lists every file that changed since the last release and the reviewer who signed it off'.split(' ');

function repeatTo(bytes: number, piece: (index: number) => string): string {
  const parts: string[] = [];
  let size = 0;
  for (let index = 0; size < bytes; index++) {
    const part = piece(index);
    parts.push(part);
    size += part.length;
  }
  return parts.join('').slice(0, bytes);
}

const SHAPES: Record<string, (bytes: number) => unknown> = {
  prose: (bytes) => ({text: repeatTo(bytes, (i) => `${WORDS[i % WORDS.length]} `)}),
  'dense credentials': (bytes) => ({
    text: repeatTo(
      bytes,
      (i) =>
        `password=hunter${i} token: ghp_${'a'.repeat(36)} Authorization: Basic dXNlcjpwYXNz --password x${i} -u bob:pw${i} PGPASSWORD=p${i}\n`,
    ),
  }),
  'one base64 word': (bytes) => ({
    blob: randomBytes(Math.ceil((bytes * 3) / 4))
      .toString('base64')
      .slice(0, bytes),
  }),
  'long value after a name': (bytes) => ({text: `token=${'a'.repeat(bytes)}`}),
  'JWT-like starts': (bytes) => ({text: repeatTo(bytes, () => 'eyJhbGciOiJub25lIn0.eyJhbGciOi.')}),
  'flag-like starts': (bytes) => ({text: repeatTo(bytes, (i) => `--password-${i} -u a:${'b'.repeat(i % 50)} --token `)}),
  'many keys': (bytes) =>
    Object.fromEntries(Array.from({length: Math.floor(bytes / 40)}, (_, i) => [`key_${i}_secret_token`, `value-${i}-${'x'.repeat(10)}`])),
};

function median(runs: number, work: () => unknown): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    work();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export default async function bench(context: BenchContext): Promise<BenchSection> {
  const runs = context.quick ? 3 : 9;
  const rows: BenchSection['rows'] = [];
  for (const [name, make] of Object.entries(SHAPES)) {
    const row: Record<string, string | number> = {shape: name};
    for (const megabytes of [1, 4]) {
      const value = make(megabytes * 1024 * 1024);
      const json = JSON.stringify(value);
      const parse = median(runs, () => JSON.parse(json));
      const structured = median(runs, () => redactValue(value));
      const raw = median(runs, () => redactJsonText(json));
      row[`${megabytes} MB: JSON.parse ms`] = parse.toFixed(1);
      row[`${megabytes} MB: redactValue ms (×parse)`] = `${structured.toFixed(1)} (${(structured / parse).toFixed(1)}×)`;
      row[`${megabytes} MB: redactJsonText ms (×parse)`] = `${raw.toFixed(1)} (${(raw / parse).toFixed(1)}×)`;
    }
    rows.push(row);
  }
  return {
    title: 'Redaction of a 1 MB and a 4 MB argument (src/audit/redact.ts)',
    rows,
    notes: [
      'Medians of the run; the ratio to JSON.parse of the same text is the number to compare between runs. Linear cost: the 4 MB ratio stays near the 1 MB ratio.',
    ],
  };
}
