#!/usr/bin/env node
// Build: JSON Schemas -> standalone ajv validators, TypeScript -> dist/, the `thoth run` bundle
// (dist/run-bundle/, scripts/bundle-run.ts), oclif manifest.
// `--if-stale` skips the build when dist/ is newer than every input (npm run demo / bench).
import {spawnSync} from 'node:child_process';
import {createRequire} from 'node:module';
import {existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, cpSync} from 'node:fs';
import {dirname, join, relative, sep} from 'node:path';
import {fileURLToPath} from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

function walk(dir, predicate, out = []) {
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, {withFileTypes: true})) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) walk(full, predicate, out);
    else if (predicate(full)) out.push(full);
  }
  return out;
}

function newestMtime(paths) {
  let newest = 0;
  for (const p of paths) newest = Math.max(newest, statSync(p).mtimeMs);
  return newest;
}

function isStale() {
  const stamp = join(root, 'dist', '.build-stamp');
  if (!existsSync(stamp)) return true;
  const inputs = [
    ...walk(join(root, 'src'), (f) => !f.includes(`${sep}generated${sep}`)),
    ...walk(join(root, 'schemas'), (f) => f.endsWith('.json')),
    join(root, 'package.json'),
    join(root, 'tsconfig.json'),
  ];
  return newestMtime(inputs) > statSync(stamp).mtimeMs;
}

function run(cmd, args) {
  const result = spawnSync(cmd, args, {cwd: root, stdio: 'inherit'});
  if (result.status !== 0) {
    console.error(`build: ${cmd} ${args.join(' ')} failed with ${result.status ?? result.signal}`);
    process.exit(result.status ?? 1);
  }
}

/** Compiles every schemas/**\/*.schema.json into an ESM module that needs no schema compilation at run time. */
function compileSchemas() {
  const Ajv = require('ajv').default;
  const addFormats = require('ajv-formats').default;
  const standaloneCode = require('ajv/dist/standalone').default;
  const schemaDir = join(root, 'schemas');
  const outDir = join(root, 'src', 'generated', 'validators');
  rmSync(outDir, {recursive: true, force: true});
  mkdirSync(outDir, {recursive: true});
  const files = walk(schemaDir, (f) => f.endsWith('.schema.json'));
  const ajv = new Ajv({code: {source: true, esm: true}, allErrors: true, strict: true, allowUnionTypes: true});
  addFormats(ajv);
  const loaded = files.map((file) => {
    const schema = JSON.parse(readFileSync(file, 'utf8'));
    const name = relative(schemaDir, file)
      .split(sep)
      .join('/')
      .replace(/\.schema\.json$/, '');
    const key = schema.$id ?? `thoth:${name}`;
    ajv.addSchema(schema, key);
    return {name, key};
  });
  for (const {name, key} of loaded) {
    const validate = ajv.getSchema(key);
    if (!validate) throw new Error(`schema ${name} did not compile`);
    const code = standaloneCode(ajv, validate);
    const target = join(outDir, `${name}.js`);
    mkdirSync(dirname(target), {recursive: true});
    // ajv's ESM output still calls require() for its runtime helpers.
    writeFileSync(target, `import {createRequire} from 'node:module';\nconst require = createRequire(import.meta.url);\n${code}\n`);
  }
  return loaded.length;
}

const ifStale = process.argv.includes('--if-stale');
if (ifStale && !isStale()) process.exit(0);

const started = Date.now();
const count = compileSchemas();
rmSync(join(root, 'dist'), {recursive: true, force: true});
run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json']);
cpSync(join(root, 'src', 'generated'), join(root, 'dist', 'generated'), {recursive: true});
run(process.execPath, [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'scripts', 'bundle-run.ts')]);
run(process.execPath, [join(root, 'node_modules', 'oclif', 'bin', 'run.js'), 'manifest']);
writeFileSync(join(root, 'dist', '.build-stamp'), new Date().toISOString());
console.error(`build: ${count} schema validators, TypeScript, the run bundle and oclif manifest in ${Date.now() - started} ms`);
