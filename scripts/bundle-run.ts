// Run by scripts/build.mjs after tsc: bundles the `thoth run` path into dist/run-bundle/, which
// bin/run.js prefers to dist/run/main.js (scripts/dist/bundle.ts says why and how).
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

import {bundleRunPath} from './dist/bundle.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const bundle = await bundleRunPath({repoRoot});
console.error(`build: thoth run bundled into ${bundle.files.length} files (${bundle.packages.length} production packages)`);
