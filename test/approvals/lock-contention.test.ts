import {spawn} from 'node:child_process';
import {readFile, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {pathToFileURL} from 'node:url';
import {expect, it} from 'vitest';

import {REPO_ROOT} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';

// Approvals, pins and baselines are shared files changed under withFileLock by every thoth
// process; a lost update there is a grant used twice. Regression test for the lock itself.
it('withFileLock keeps read-modify-write exclusive across processes under contention', async () => {
  const dir = await tempDir();
  const counter = join(dir, 'counter');
  await writeFile(counter, '0');
  const module = pathToFileURL(join(REPO_ROOT, 'dist/util/file-lock.js')).href;
  const script = `
    const {withFileLock} = await import(${JSON.stringify(module)});
    const fs = await import('node:fs/promises');
    const [counter, lock] = process.argv.slice(1);
    for (let i = 0; i < 60; i++) {
      await withFileLock(lock, async () => {
        const n = Number(await fs.readFile(counter, 'utf8'));
        await new Promise((resolve) => setImmediate(resolve));
        await fs.writeFile(counter, String(n + 1));
      });
    }
  `;
  await Promise.all(
    Array.from(
      {length: 6},
      () =>
        new Promise<void>((resolve, reject) => {
          const child = spawn(process.execPath, ['--input-type=module', '-e', script, counter, join(dir, 'lock')], {
            stdio: ['ignore', 'ignore', 'pipe'],
          });
          let err = '';
          child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
          child.on('error', reject);
          child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(err))));
        }),
    ),
  );
  expect(Number(await readFile(counter, 'utf8'))).toBe(360);
});
