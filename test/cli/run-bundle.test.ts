import {spawnSync} from 'node:child_process';
import {copyFile, mkdir, readFile, rm, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {pathToFileURL} from 'node:url';
import {describe, expect, it} from 'vitest';

import {asciiComments, bundleRunPath, listFiles} from '../../scripts/dist/bundle.js';
import {REPO_ROOT, THOTH_BIN} from '../helpers/cli.js';
import {SERVER_EVERYTHING} from '../helpers/mcp.js';
import {RawSession} from '../helpers/raw-session.js';
import {tempDir} from '../helpers/tmp.js';

/**
 * `thoth run` from the bundle the build makes of its path (dist/run-bundle/, scripts/dist/bundle.ts):
 * bin/run.js prefers it, it is what the build's dist/ gives, npm ships it, and before the server is
 * spawned it loads only what the spawn needs.
 */

const RUN_BUNDLE = join(REPO_ROOT, 'dist', 'run-bundle');

/** The chunks `file` (in dist/run-bundle/) imports statically, and theirs: what loads with it. */
async function staticClosure(file: string, seen = new Set<string>()): Promise<Set<string>> {
  if (seen.has(file)) return seen;
  seen.add(file);
  const text = await readFile(join(RUN_BUNDLE, file), 'utf8');
  for (const match of text.matchAll(/^(?:import|export)\s[^;]*?from\s*"(\.[^"]+)";?$|^import\s*"(\.[^"]+)";?$/gms)) {
    const target = new URL(match[1] ?? match[2]!, pathToFileURL(join(RUN_BUNDLE, file))).pathname.slice(
      pathToFileURL(RUN_BUNDLE).pathname.length + 1,
    );
    await staticClosure(target, seen);
  }
  return seen;
}

/** The dist/ modules bundled into `files`: esbuild heads each with a `// dist/...` comment. */
async function modulesIn(files: Iterable<string>): Promise<Set<string>> {
  const modules = new Set<string>();
  for (const file of files)
    for (const match of (await readFile(join(RUN_BUNDLE, file), 'utf8')).matchAll(/^\/\/ (dist\/\S+\.js)$/gm)) modules.add(match[1]!);
  return modules;
}

describe('the thoth run bundle', () => {
  it('bin/run.js runs dist/run-bundle/main.js when the build made it, and dist/run/main.js when it did not', async () => {
    // bin/run.js as it is, beside two stand-ins that say which one ran.
    const dir = await tempDir();
    await mkdir(join(dir, 'bin'));
    await copyFile(THOTH_BIN, join(dir, 'bin', 'run.js'));
    await writeFile(join(dir, 'package.json'), '{"type": "module"}\n');
    for (const [folder, name] of [
      ['run-bundle', 'bundle'],
      ['run', 'dist'],
    ] as const) {
      await mkdir(join(dir, 'dist', folder), {recursive: true});
      await writeFile(
        join(dir, 'dist', folder, 'main.js'),
        `export async function runMain(argv) { process.stdout.write(${JSON.stringify(name)} + ' ' + argv.join(' ')); }\n`,
      );
    }
    const run = (): string => {
      const result = spawnSync(process.execPath, [join(dir, 'bin', 'run.js'), 'run', '--agent-id', 'a', '--', 'server'], {
        encoding: 'utf8',
      });
      expect(result.status, result.stderr).toBe(0);
      return result.stdout;
    };
    expect(run()).toBe('bundle --agent-id a -- server');
    await rm(join(dir, 'dist', 'run-bundle'), {recursive: true});
    expect(run()).toBe('dist --agent-id a -- server');
  });

  it('a session runs from the bundle: of dist/ it loads dist/run-bundle/ and the schema validators, nothing else', async () => {
    // An ES module loader hook records every module the thoth process loads (NODE_OPTIONS reaches
    // the server too: each line says which process loaded what).
    const dir = await tempDir();
    const log = join(dir, 'loaded.txt');
    await writeFile(
      join(dir, 'hooks.mjs'),
      `import {appendFileSync} from 'node:fs';\nexport async function load(url, context, next) {\n  appendFileSync(${JSON.stringify(log)}, process.pid + ' ' + url + '\\n');\n  return next(url, context);\n}\n`,
    );
    await writeFile(
      join(dir, 'register.mjs'),
      `import {register} from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});\n`,
    );
    const session = new RawSession(['--agent-id', 'bundle-test'], [SERVER_EVERYTHING.command, ...SERVER_EVERYTHING.args], {
      NODE_OPTIONS: `--import ${pathToFileURL(join(dir, 'register.mjs')).href}`,
    });
    try {
      await session.initialize();
      // A governed call: governance (compose, policy, audit) has loaded by its answer.
      session.send({jsonrpc: '2.0', id: 2, method: 'tools/call', params: {name: 'echo', arguments: {message: 'from the bundle'}}});
      let answer = await session.nextJson();
      while (answer['id'] !== 2) answer = await session.nextJson();
      expect(JSON.stringify(answer['result'])).toContain('Echo: from the bundle');
    } finally {
      session.closeStdin();
      await session.exited;
    }
    const dist = pathToFileURL(join(REPO_ROOT, 'dist')).href + '/';
    const loaded = (await readFile(log, 'utf8'))
      .split('\n')
      .filter((line) => line.startsWith(`${session.child.pid} ${dist}`))
      .map((line) => line.slice(`${session.child.pid} ${dist}`.length));
    expect(loaded).toContain('run-bundle/main.js');
    expect(loaded.some((path) => /^run-bundle\/chunks\/compose-\w+\.js$/.test(path))).toBe(true);
    expect(loaded.filter((path) => !path.startsWith('run-bundle/') && !path.startsWith('generated/validators/'))).toEqual([]);
  });

  it('before the spawn it loads flags, settings and the spawn: the relay and governance come after (run/relay-session.ts)', async () => {
    const main = await readFile(join(RUN_BUNDLE, 'main.js'), 'utf8');
    const beforeSpawn = await modulesIn(await staticClosure('main.js'));
    expect(beforeSpawn).toContain('dist/run/main.js');
    expect(beforeSpawn).toContain('dist/settings/for-run.js');
    expect(beforeSpawn).toContain('dist/proxy/upstream.js');
    for (const later of [
      'dist/proxy/relay.js',
      'dist/proxy/framing.js',
      'dist/run/relay-session.js',
      'dist/run/compose.js',
      'dist/audit/sink.js',
      'dist/policy/engine.js',
    ]) {
      expect(beforeSpawn, later).not.toContain(later);
    }
    // main.js reaches them through one dynamic import, after startUpstream.
    const relaySession = /await import\("(\.\/chunks\/relay-session-\w+\.js)"\)/.exec(main);
    expect(relaySession).not.toBeNull();
    expect(main.indexOf('startUpstream(plan')).toBeLessThan(relaySession!.index);
    expect(await modulesIn([relaySession![1]!.slice(2)])).toContain('dist/proxy/relay.js');
  });

  it('is what bundling the built dist/ gives now (the build made it after tsc, not before)', async () => {
    const fresh = await tempDir();
    const {files} = await bundleRunPath({repoRoot: REPO_ROOT, outDir: fresh});
    expect((await listFiles(RUN_BUNDLE)).sort()).toEqual(files);
    for (const file of files) expect(await readFile(join(RUN_BUNDLE, file), 'utf8'), file).toBe(await readFile(join(fresh, file), 'utf8'));
    // Its own package.json makes its chunks ES modules and names the package root for import.meta.url.
    expect(JSON.parse(await readFile(join(fresh, 'package.json'), 'utf8'))).toMatchObject({
      type: 'module',
      imports: {'#thoth-lib-url': './lib-url.js'},
    });
  }, 60_000);

  it('comments come out in ASCII (a character above it keeps a whole chunk in memory as UTF-16); code keeps its characters', () => {
    const code =
      'const a = String.raw`x\u2192y`; // a \u2192 b\nconst b = /\u2014/u; /* c \u2014 d */\nclass C {\n  // client \u2192 server\n  m() { return 1 || // or \u2192\n 2; }\n}\n';
    expect(asciiComments(code)).toBe(
      'const a = String.raw`x\u2192y`; // a ? b\nconst b = /\u2014/u; /* c ? d */\nclass C {\n  // client ? server\n  m() { return 1 || // or ?\n 2; }\n}\n',
    );
    expect(asciiComments('const plain = 1; // ascii\n')).toBe('const plain = 1; // ascii\n');
  });
});
