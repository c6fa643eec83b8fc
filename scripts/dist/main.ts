// `npm run dist`: builds thoth (scripts/build.mjs, run first by the npm script), then every
// installer into release/. See scripts/dist/release.ts for what is built and docs/_drafts/dist.md.
//
//   npm run dist
//   npm run dist -- --targets linux-x64,win-x64 --out /tmp/release
//   npm run dist -- --sign-pkcs12 code-signing.p12 --sign-password-file pass.txt [--sign-timestamp-url http://timestamp.example]
//
// Exit codes: 0 built; 1 the build failed (one line on stderr says why); 2 bad usage.
import {spawnSync} from 'node:child_process';
import {dirname, join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';
import {parseArgs} from 'node:util';

import {TARGET_IDS, type TargetId} from './node-runtime.js';
import {buildRelease, type ReleaseOptions} from './release.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function usage(message: string): never {
  console.error(`dist: ${message}`);
  console.error('usage: npm run dist -- [--out DIR] [--targets linux-x64,darwin-arm64,darwin-x64,win-x64] [--sign-pkcs12 FILE --sign-password-file FILE [--sign-timestamp-url URL]]');
  process.exit(2);
}

/** The release commit's time (archives then depend only on their content), else SOURCE_DATE_EPOCH, else now. */
function buildTime(): number {
  const fromEnv = process.env['SOURCE_DATE_EPOCH'];
  if (fromEnv !== undefined && /^\d+$/.test(fromEnv)) return Number(fromEnv);
  const git = spawnSync('git', ['log', '-1', '--format=%ct'], {cwd: repoRoot, encoding: 'utf8'});
  const commit = git.status === 0 ? Number(git.stdout.trim()) : NaN;
  return Number.isFinite(commit) && commit > 0 ? commit : Math.floor(Date.now() / 1000);
}

let values: {out?: string; targets?: string; 'sign-pkcs12'?: string; 'sign-password-file'?: string; 'sign-timestamp-url'?: string};
try {
  values = parseArgs({
    options: {
      out: {type: 'string'},
      targets: {type: 'string'},
      'sign-pkcs12': {type: 'string'},
      'sign-password-file': {type: 'string'},
      'sign-timestamp-url': {type: 'string'},
    },
    allowPositionals: false,
  }).values;
} catch (error) {
  usage((error as Error).message);
}

const targets = (values.targets ?? TARGET_IDS.join(',')).split(',').filter((t) => t !== '');
for (const target of targets) if (!(TARGET_IDS as readonly string[]).includes(target)) usage(`--targets: unknown target "${target}" (known: ${TARGET_IDS.join(', ')})`);
if ((values['sign-pkcs12'] === undefined) !== (values['sign-password-file'] === undefined)) usage('--sign-pkcs12 and --sign-password-file go together');

const options: ReleaseOptions = {
  repoRoot,
  outDir: resolve(values.out ?? join(repoRoot, 'release')),
  targets: targets as TargetId[],
  cacheDir: join(repoRoot, 'node_modules', '.cache', 'thoth-dist-node'),
  mtime: buildTime(),
  log: (message) => console.error(`dist: ${message}`),
};
if (values['sign-pkcs12'] !== undefined && values['sign-password-file'] !== undefined) {
  options.sign = {pkcs12: resolve(values['sign-pkcs12']), passwordFile: resolve(values['sign-password-file'])};
  if (values['sign-timestamp-url'] !== undefined) options.sign.timestampUrl = values['sign-timestamp-url'];
}

try {
  const started = Date.now();
  const result = await buildRelease(options);
  console.error(`dist: thoth ${result.version} with Node.js ${result.nodeVersion} in ${((Date.now() - started) / 1000).toFixed(1)} s, into ${options.outDir}`);
  for (const artefact of result.artefacts) console.log(`${artefact.sha256}  ${(artefact.size / 1048576).toFixed(1).padStart(6)} MiB  ${artefact.file}`);
  if (result.msi) console.log(`MSI ProductCode {${result.msi.productCode}}  UpgradeCode {${result.msi.upgradeCode}}  ProductVersion ${result.msi.productVersion}`);
} catch (error) {
  console.error(`dist: ${(error as Error).message}`);
  process.exit(1);
}
