import {cp, mkdir, readFile, readdir, rm, writeFile} from 'node:fs/promises';
import {isBuiltin} from 'node:module';
import {dirname, join, relative, sep} from 'node:path';

import {build, type Metafile, type Plugin} from 'esbuild';
import ts from 'typescript';

/**
 * thoth's JavaScript bundled with esbuild from the built dist/, with the production dependencies
 * the lockfile pinned. Two bundles are made here, by one bundler:
 *
 * - `bundleRunPath`, by every build (scripts/build.mjs): the `thoth run` path alone into
 *   dist/run-bundle/, which bin/run.js runs when it is there. A sidecar starts once per MCP server
 *   and session, and loading some hundred separate modules was a third of its start-up (issue #11).
 *   Code splitting keeps what `thoth run` imports lazily (settings, governance, the control plane)
 *   in chunks of their own, loaded when they are now.
 * - `bundleThoth`, for the installers (scripts/dist/release.ts): bin/run.js, every command and
 *   every schema validator, into one directory that keeps the package's layout:
 *
 *   bin/run.js                          the entry (`thoth run` never loads oclif)
 *   dist/commands/**.js                 one entry per command, as oclif.manifest.json names them
 *   dist/generated/validators/**.js     one entry per validator, loaded on first use
 *   chunks/*.js                         code they share
 *   package.json, oclif.manifest.json, lib-url.js, THIRD-PARTY-LICENSES.txt
 *
 * Three things differ between a bundle and node_modules, and are handled here:
 * - thoth finds its own files relative to `import.meta.url` (the version in package.json, its
 *   entry script for wrap-config, the validators). In a bundle that URL would be the chunk's, so
 *   every own module's `import.meta.url` becomes the URL its file has in the package, resolved
 *   against the package's root (lib-url.js, reached through the bundle's package.json "imports",
 *   which resolves the same from every chunk: the installed bundle is that root, the run bundle
 *   lives two levels below it).
 * - `await import('semver')` of a CommonJS package gets named exports from Node; from a split
 *   chunk it would get only `default`. Such imports go through a facade re-exporting the names
 *   Node itself sees.
 * - A dependency may try `require('typescript')` and fall back when it is missing. Only the
 *   production closure of the lockfile is bundled; anything else becomes a module that throws
 *   MODULE_NOT_FOUND, so nothing is ever looked up in a node_modules above the install directory
 *   (C:\node_modules can be created by any Windows user).
 */

export interface BundleOptions {
  repoRoot: string;
  /** Created (replaced if it exists). */
  outDir: string;
}

export interface BundleResult {
  /** Every file written, relative to outDir, sorted. */
  files: string[];
  version: string;
  /** Production packages that ended up in the bundle, name@version, sorted. */
  packages: string[];
}

const LIB_URL_IMPORT = '#thoth-lib-url';
/** What scripts/build.mjs puts at the top of each generated validator (ajv's standalone code calls require()). */
const VALIDATOR_PROLOGUE = "import {createRequire} from 'node:module';\nconst require = createRequire(import.meta.url);\n";

export async function bundleThoth(options: BundleOptions): Promise<BundleResult> {
  const {repoRoot, outDir} = options;
  const pkg = await readPackage(repoRoot);
  const manifestPath = join(repoRoot, 'oclif.manifest.json');
  const manifestText = await readFile(manifestPath, 'utf8').catch(() => {
    throw new Error(`${manifestPath} is missing: run \`node scripts/build.mjs\` first`);
  });
  const manifest = JSON.parse(manifestText) as {version: string; commands: Record<string, {relativePath: string[]}>};
  if (manifest.version !== pkg.version) throw new Error(`oclif.manifest.json is for ${manifest.version}, package.json says ${pkg.version}: run \`node scripts/build.mjs\``);

  const entryPoints: Record<string, string> = {'bin/run': join(repoRoot, 'bin', 'run.js')};
  for (const command of Object.values(manifest.commands)) {
    entryPoints[command.relativePath.join('/').replace(/\.js$/, '')] = join(repoRoot, ...command.relativePath);
  }
  // oclif loads the hooks package.json names (command_not_found) by path, as it loads commands.
  for (const target of Object.values((pkg.oclif['hooks'] ?? {}) as Record<string, string | string[]>).flat()) {
    entryPoints[target.replace(/^\.\//, '').replace(/\.js$/, '')] = join(repoRoot, ...target.split('/'));
  }
  const validators = join(repoRoot, 'dist', 'generated', 'validators');
  for (const file of await listFiles(validators)) {
    if (file.endsWith('.js')) entryPoints[`dist/generated/validators/${file.replace(/\.js$/, '')}`] = join(validators, ...file.split('/'));
  }

  const packages = await bundleEntries({
    repoRoot,
    outDir,
    entryPoints,
    target: 'node22',
    packageRoot: './',
    packageJson: {name: pkg.name, version: pkg.version, private: true, type: 'module', oclif: pkg.oclif},
    plugins: [runBundleIsItsSource(repoRoot)],
  });
  await cp(manifestPath, join(outDir, 'oclif.manifest.json'));
  return {files: (await listFiles(outDir)).sort(), version: pkg.version, packages};
}

/** Where the run bundle goes, relative to the package root; bin/run.js runs its main.js when it is there. */
export const RUN_BUNDLE_DIR = 'dist/run-bundle';

/** The `thoth run` path (dist/run/main.js and what it imports, lazily or not) into dist/run-bundle/; npm ships it in dist/. */
export async function bundleRunPath(options: {repoRoot: string; outDir?: string}): Promise<BundleResult> {
  const {repoRoot} = options;
  const outDir = options.outDir ?? join(repoRoot, ...RUN_BUNDLE_DIR.split('/'));
  const pkg = await readPackage(repoRoot);
  const packages = await bundleEntries({
    repoRoot,
    outDir,
    entryPoints: {main: join(repoRoot, 'dist', 'run', 'main.js')},
    // What package.json "engines" allows: the npm package runs on the user's Node.
    target: 'node20',
    packageRoot: '../../',
    packageJson: {private: true, type: 'module'},
  });
  return {files: (await listFiles(outDir)).sort(), version: pkg.version, packages};
}

interface EntriesOptions {
  repoRoot: string;
  outDir: string;
  entryPoints: Record<string, string>;
  target: string;
  /** The package's root relative to outDir: what own modules' `import.meta.url` resolves against. */
  packageRoot: string;
  /** The bundle's package.json ("imports" is added). */
  packageJson: Record<string, unknown>;
  plugins?: Plugin[];
}

/** Bundles entryPoints into outDir (replaced) with lib-url.js, package.json and the notices; returns the production packages bundled. */
async function bundleEntries(options: EntriesOptions): Promise<string[]> {
  const {repoRoot, outDir} = options;
  await rm(outDir, {recursive: true, force: true});
  await mkdir(outDir, {recursive: true});
  const production = await productionPackages(repoRoot);
  const result = await build({
    entryPoints: options.entryPoints,
    write: false,
    outdir: outDir,
    // Paths in the output (and in the metafile) are relative to the checkout, wherever the build runs from.
    absWorkingDir: repoRoot,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: options.target,
    // Prefer a package's ES module build: jsonc-parser's "main" is UMD, whose require() esbuild cannot see.
    mainFields: ['module', 'main'],
    entryNames: '[dir]/[name]',
    chunkNames: 'chunks/[name]-[hash]',
    external: [LIB_URL_IMPORT],
    // CommonJS dependencies call require() for Node's built-ins; an ES module has no require of its own.
    banner: {js: "import {createRequire as __thothCreateRequire} from 'node:module';\nconst require = __thothCreateRequire(import.meta.url);"},
    legalComments: 'none',
    // Non-ASCII characters in code are written as escapes (esbuild's default, stated here because
    // asciiComments relies on it).
    charset: 'ascii',
    metafile: true,
    logLevel: 'warning',
    plugins: [...(options.plugins ?? []), packageRelativeUrls(repoRoot), productionOnly(repoRoot, production)],
  });
  assertOnlyBuiltinsExternal(result.metafile);
  for (const file of result.outputFiles) {
    await mkdir(dirname(file.path), {recursive: true});
    await writeFile(file.path, asciiComments(file.text));
  }

  await writeFile(
    join(outDir, 'lib-url.js'),
    `// The package's root: bundled modules resolve the files thoth ships against it (scripts/dist/bundle.ts).\nexport const libUrl = new URL(${JSON.stringify(options.packageRoot)}, import.meta.url);\n`,
  );
  await writeFile(join(outDir, 'package.json'), `${JSON.stringify({...options.packageJson, imports: {[LIB_URL_IMPORT]: './lib-url.js'}}, null, 2)}\n`);
  return writeThirdPartyLicenses(repoRoot, result.metafile, join(outDir, 'THIRD-PARTY-LICENSES.txt'));
}

/**
 * esbuild writes code in ASCII but copies comments as they are, and one arrow in a comment makes
 * V8 keep the whole file's source as UTF-16, twice its size, for as long as the process lives
 * (some 290 KiB for the run path). Characters above ASCII in comments become '?'; anywhere else
 * (a regular expression, a raw template: esbuild cannot escape those) they stay as they are.
 */
export function asciiComments(text: string): string {
  if (!/[^\x00-\x7f]/.test(text)) return text;
  const source = ts.createSourceFile('bundle.js', text, ts.ScriptTarget.Latest, false, ts.ScriptKind.JS);
  const wide = [...text.matchAll(/[^\x00-\x7f]/g)].map((match) => match.index);
  // Whether [start, end) holds a character above ASCII: only such nodes are looked into.
  const holdsWide = (start: number, end: number): boolean => {
    let low = 0;
    let high = wide.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (wide[middle]! < start) low = middle + 1;
      else high = middle;
    }
    return low < wide.length && wide[low]! < end;
  };
  const comments = new Map<number, number>();
  // Every comment is in the trivia before some token (getChildren includes the punctuation that
  // forEachChild skips, and the end-of-file token): those on the line of the token before it are
  // its "trailing" ones, the rest "leading".
  const visit = (node: ts.Node): void => {
    if (!holdsWide(node.pos, node.end)) return;
    for (const range of [...(ts.getTrailingCommentRanges(text, node.pos) ?? []), ...(ts.getLeadingCommentRanges(text, node.pos) ?? [])]) {
      comments.set(range.pos, range.end);
    }
    for (const child of node.getChildren(source)) visit(child);
  };
  visit(source);
  let out = '';
  let at = 0;
  for (const [start, end] of [...comments].sort(([a], [b]) => a - b)) {
    if (start < at) continue;
    out += text.slice(at, start) + text.slice(start, end).replace(/[^\x00-\x7f]/g, '?');
    at = end;
  }
  return out + text.slice(at);
}

async function readPackage(repoRoot: string): Promise<{name: string; version: string; oclif: Record<string, unknown>}> {
  return JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as {name: string; version: string; oclif: Record<string, unknown>};
}

/**
 * bin/run.js runs dist/run-bundle/main.js when the build made it, else dist/run/main.js. The
 * installed bundle is a bundle already: both imports are the run path's source, bundled once.
 */
function runBundleIsItsSource(repoRoot: string): Plugin {
  const runBundleMain = join(repoRoot, ...RUN_BUNDLE_DIR.split('/'), 'main.js');
  return {
    name: 'thoth-run-bundle-is-its-source',
    setup(builder) {
      builder.onResolve({filter: /run-bundle\/main\.js$/}, (args) =>
        join(args.resolveDir, args.path) === runBundleMain ? {path: join(repoRoot, 'dist', 'run', 'main.js')} : undefined,
      );
    },
  };
}

/** Rewrites `import.meta.url` in thoth's own modules (bin/ and dist/) to the URL they have in the package. */
function packageRelativeUrls(repoRoot: string): Plugin {
  const own = [join(repoRoot, 'bin') + sep, join(repoRoot, 'dist') + sep];
  return {
    name: 'thoth-package-relative-urls',
    setup(builder) {
      builder.onLoad({filter: /\.js$/}, async (args) => {
        if (!own.some((prefix) => args.path.startsWith(prefix))) return undefined;
        // The launcher runs the entry with node explicitly: a #! line would only be in the way of the import below.
        let text = (await readFile(args.path, 'utf8')).replace(/^#!.*\n/, '');
        const packagePath = relative(repoRoot, args.path).split(sep).join('/');
        if (packagePath.startsWith('dist/generated/validators/')) {
          if (!text.startsWith(VALIDATOR_PROLOGUE)) throw new Error(`${packagePath} does not start with the require() prologue scripts/build.mjs writes: update scripts/dist/bundle.ts`);
          // Bundled, ajv's runtime helpers are require()d from the bundle, not from node_modules.
          text = text.slice(VALIDATOR_PROLOGUE.length);
        }
        if (text.includes('import.meta.url')) {
          text = `import {libUrl as __thothLibUrl} from '${LIB_URL_IMPORT}';\n${text.replaceAll('import.meta.url', `new URL(${JSON.stringify(packagePath)}, __thothLibUrl).href`)}`;
        }
        return {contents: text, loader: 'js'};
      });
    },
  };
}

/** Bare imports: production packages are bundled (dynamic imports through a facade), anything else is absent. */
function productionOnly(repoRoot: string, production: ReadonlySet<string>): Plugin {
  return {
    name: 'thoth-production-only',
    setup(builder) {
      builder.onResolve({filter: /^[^./#]/}, (args) => {
        if (isBuiltin(args.path) || args.namespace === 'thoth-facade') return undefined;
        const name = packageName(args.path);
        if (!production.has(name)) return {path: args.path, namespace: 'thoth-absent'};
        if (args.kind === 'dynamic-import') return {path: args.path, namespace: 'thoth-facade'};
        return undefined;
      });
      builder.onLoad({filter: /.*/, namespace: 'thoth-absent'}, (args) => ({
        contents: `const error = new Error(${JSON.stringify(`Cannot find module '${args.path}' (not part of thoth's production dependencies)`)});\nerror.code = 'MODULE_NOT_FOUND';\nthrow error;\n`,
        loader: 'js',
      }));
      builder.onLoad({filter: /.*/, namespace: 'thoth-facade'}, async (args) => {
        // The names Node's own import() gives this package (for CommonJS: what cjs-module-lexer finds, plus default).
        // This script lives in the checkout it bundles, so its import() resolves the same node_modules.
        const names = Object.keys((await import(args.path)) as object).filter((n) => /^[A-Za-z_$][\w$]*$/.test(n) || n === 'default');
        return {contents: `export {${names.join(', ')}} from ${JSON.stringify(args.path)};\n`, loader: 'js', resolveDir: repoRoot};
      });
    },
  };
}

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** Names of the packages package-lock.json installs for production (not dev-only). */
async function productionPackages(repoRoot: string): Promise<Set<string>> {
  const lock = JSON.parse(await readFile(join(repoRoot, 'package-lock.json'), 'utf8')) as {packages: Record<string, {dev?: boolean; devOptional?: boolean}>};
  const names = new Set<string>();
  for (const [location, entry] of Object.entries(lock.packages)) {
    if (location === '' || entry.dev || entry.devOptional) continue;
    const at = location.lastIndexOf('node_modules/');
    if (at !== -1) names.add(location.slice(at + 'node_modules/'.length));
  }
  return names;
}

function assertOnlyBuiltinsExternal(metafile: Metafile): void {
  for (const [file, output] of Object.entries(metafile.outputs)) {
    for (const imported of output.imports) {
      if (imported.external && !isBuiltin(imported.path) && imported.path !== LIB_URL_IMPORT) throw new Error(`${file} imports ${imported.path} from outside the bundle`);
    }
  }
}

/** The license of every package in the bundle, for the notice that must travel with it. */
async function writeThirdPartyLicenses(repoRoot: string, metafile: Metafile, target: string): Promise<string[]> {
  const roots = new Set<string>();
  for (const input of Object.keys(metafile.inputs)) {
    const absolute = join(repoRoot, input);
    const at = absolute.lastIndexOf(`${sep}node_modules${sep}`);
    if (at === -1) continue;
    const rest = absolute.slice(at + `${sep}node_modules${sep}`.length).split(sep);
    roots.add(join(absolute.slice(0, at), 'node_modules', ...rest.slice(0, rest[0]!.startsWith('@') ? 2 : 1)));
  }
  const sections: string[] = [];
  const packages: string[] = [];
  for (const root of [...roots].sort()) {
    const meta = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {name: string; version: string; license?: string};
    const licenseFile = (await readdir(root)).find((name) => /^(licen[cs]e|copying)(\.|$)/i.test(name));
    const text = licenseFile === undefined ? `(no license file; package.json says ${meta.license ?? 'nothing'})` : (await readFile(join(root, licenseFile), 'utf8')).trim();
    packages.push(`${meta.name}@${meta.version}`);
    sections.push(`${meta.name}@${meta.version} (${meta.license ?? 'unknown'})\n\n${text}\n`);
  }
  await writeFile(target, `thoth bundles the following packages.\n\n${sections.join(`\n${'-'.repeat(72)}\n\n`)}`);
  return [...new Set(packages)].sort();
}

/** Every file under `dir`, as paths relative to it with `/` separators (directories left out). */
export async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, {withFileTypes: true})) {
    const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) found.push(...(await listFiles(join(dir, entry.name), path)));
    else found.push(path);
  }
  return found;
}
