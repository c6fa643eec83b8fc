// Writes docs/reference/commands.md and docs/reference/settings.md (npm run docs:generate,
// which builds first so that oclif.manifest.json is current). test/docs checks they are current.
import {mkdir, writeFile} from 'node:fs/promises';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

import {renderReferences} from './references.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

try {
  for (const file of await renderReferences(root)) {
    const target = join(root, file.path);
    await mkdir(dirname(target), {recursive: true});
    await writeFile(target, file.text);
    process.stderr.write(`docs: wrote ${file.path}\n`);
  }
} catch (error) {
  process.stderr.write(`docs: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
