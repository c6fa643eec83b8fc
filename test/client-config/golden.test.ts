import {existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync} from 'node:fs';
import {dirname, join} from 'node:path';

import fastJsonPatch from 'fast-json-patch';
import {parse} from 'jsonc-parser';
import {describe, expect, it} from 'vitest';

import type {ClientId} from '../../src/client-config/clients/index.js';
import {FIXTURES, fixture, settings, text, wrap} from './helpers.js';

/**
 * Golden tests: for every fixture, the planned RFC 6902 patch, the wrapped file and (for bad
 * input) the error message are compared with files in fixtures/configs/golden/. Regenerate with
 * UPDATE_GOLDEN=1 and review the diff: the goldens are the contract.
 */
const GOLDEN = join(FIXTURES, 'golden');
const update = process.env['UPDATE_GOLDEN'] === '1';
const CLIENTS: ClientId[] = ['claude-desktop', 'claude-code', 'cursor', 'vscode', 'windsurf'];
const SETTINGS = settings({
  tenantId: 'acme',
  enforcementMode: 'block',
  intentMap: {github: 'code_review', filesystem: 'document_search'},
  env: {THOTH_USER_ID: 'jane@acme.com'},
});

function golden(relative: string, actual: string): void {
  const path = join(GOLDEN, relative);
  if (update || !existsSync(path)) {
    if (!update) throw new Error(`missing golden file ${path}: run with UPDATE_GOLDEN=1 and review it`);
    mkdirSync(dirname(path), {recursive: true});
    writeFileSync(path, actual);
  }
  expect(actual).toBe(readFileSync(path, 'utf8'));
}

for (const client of CLIENTS) {
  describe(`golden ${client}`, () => {
    for (const name of readdirSync(join(FIXTURES, client)).sort()) {
      it(name, async () => {
        const original = fixture(`${client}/${name}`);
        let planned;
        try {
          planned = await wrap(client, original, SETTINGS);
        } catch (error) {
          golden(`${client}/${name}.error.txt`, `${(error as Error).message}\n`);
          return;
        }
        golden(`${client}/${name}.patch.json`, `${JSON.stringify(planned.patch, null, 2)}\n`);
        golden(`${client}/${name}.wrapped`, text(planned.bytes));
        // The patch describes the change faithfully: applied to the file as parsed, it gives the planned file.
        const before = parse(text(original).replace(/^\uFEFF/, ''), [], {allowTrailingComma: true}) as unknown;
        const after = parse(text(planned.bytes).replace(/^\uFEFF/, ''), [], {allowTrailingComma: true}) as unknown;
        expect(fastJsonPatch.applyPatch(before ?? {}, planned.patch).newDocument).toEqual(after ?? {});
      });
    }
  });
}
