#!/usr/bin/env node
// `npm pack` / `npm publish`: the packed package.json must not carry the `prepare` script (it
// builds dist/ in a checkout; in an installed tarball there is nothing to build, and npm warns
// about install scripts the user's allowScripts does not cover). prepack strips it from
// package.json, postpack puts the file back byte for byte.
//   node scripts/pack-manifest.mjs strip | restore
import {existsSync, readFileSync, renameSync, writeFileSync} from 'node:fs';

const manifest = new URL('../package.json', import.meta.url);
const backup = new URL('../package.json.prepack', import.meta.url);
const mode = process.argv[2];

if (mode === 'strip') {
  // A backup left by a pack that failed halfway is the original: never overwrite it with a stripped file.
  if (!existsSync(backup)) writeFileSync(backup, readFileSync(manifest));
  const pkg = JSON.parse(readFileSync(backup, 'utf8'));
  delete pkg.scripts.prepare;
  writeFileSync(manifest, `${JSON.stringify(pkg, null, 2)}\n`);
} else if (mode === 'restore') {
  if (existsSync(backup)) renameSync(backup, manifest);
} else {
  console.error('usage: node scripts/pack-manifest.mjs strip|restore');
  process.exit(2);
}
