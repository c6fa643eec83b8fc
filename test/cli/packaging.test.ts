import {spawnSync} from 'node:child_process';
import {cp, mkdir, readFile, readdir, writeFile} from 'node:fs/promises';
import {join, relative, sep} from 'node:path';
import {describe, expect, it} from 'vitest';

import {REPO_ROOT} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';

interface PackedFile {
  path: string;
}

function npm(args: string[], cwd: string, home: string): {status: number | null; stdout: string; stderr: string} {
  return spawnSync('npm', args, {
    cwd,
    encoding: 'utf8',
    env: {PATH: process.env['PATH'], HOME: home, npm_config_cache: join(home, 'npm-cache'), npm_config_update_notifier: 'false'},
  });
}

describe('the npm package', () => {
  it('npm pack: the packed package.json has no prepare script, names repository, homepage and bugs; the checkout keeps its own', async () => {
    // A copy of the package with thoth's real package.json and pack script; the build (prepare)
    // is stubbed here: the real one rebuilds dist/, which other test files are running.
    const dir = await tempDir();
    const home = await tempDir();
    const original = await readFile(join(REPO_ROOT, 'package.json'));
    await writeFile(join(dir, 'package.json'), original);
    await mkdir(join(dir, 'scripts'));
    await cp(join(REPO_ROOT, 'scripts', 'pack-manifest.mjs'), join(dir, 'scripts', 'pack-manifest.mjs'));
    await writeFile(join(dir, 'scripts', 'build.mjs'), '// stub: the test does not rebuild dist/\n');
    for (const file of [
      'bin/run.js',
      'dist/index.js',
      'schemas/a.schema.json',
      'mdm/README.md',
      'examples/policies/a.jsonc',
      'oclif.manifest.json',
    ]) {
      await mkdir(join(dir, file, '..'), {recursive: true});
      await writeFile(join(dir, file), '{}\n');
    }
    const destination = await tempDir();
    const packed = npm(['pack', '--json', '--pack-destination', destination], dir, home);
    expect(packed.status, packed.stderr).toBe(0);
    const {filename} = (JSON.parse(packed.stdout) as Array<{filename: string}>)[0]!;
    const manifest = spawnSync('tar', ['-xzOf', join(destination, filename), 'package/package.json'], {encoding: 'utf8'});
    const pkg = JSON.parse(manifest.stdout) as {
      scripts: Record<string, string>;
      repository?: {url: string};
      homepage?: string;
      bugs?: {url: string};
    };
    expect(pkg.scripts['prepare']).toBeUndefined();
    expect(pkg.scripts['test']).toBeDefined();
    expect(pkg.repository?.url).toMatch(/^git\+https:\/\/\S+\.git$/);
    expect(pkg.homepage).toMatch(/^https:\/\//);
    expect(pkg.bugs?.url).toMatch(/^https:\/\/\S+\/issues$/);
    // The checkout's package.json is back, byte for byte, and no backup is left behind.
    expect(await readFile(join(dir, 'package.json'))).toEqual(original);
    expect(spawnSync('ls', [join(dir, 'package.json.prepack')]).status).not.toBe(0);
  });

  it('ships the example policies and the schemas, and no tests or sources', async () => {
    const home = await tempDir();
    const listed = npm(['pack', '--dry-run', '--json', '--ignore-scripts'], REPO_ROOT, home);
    expect(listed.status, listed.stderr).toBe(0);
    const {files} = (JSON.parse(listed.stdout) as Array<{files: PackedFile[]}>)[0]!;
    const paths = files.map((file) => file.path);
    expect(paths).toEqual(
      expect.arrayContaining(['examples/policies/starter.jsonc', 'examples/policies/filesystem.jsonc', 'schemas/policy.schema.json']),
    );
    expect(paths.filter((path) => /^(test|src|fixtures)\//.test(path))).toEqual([]);
  });

  it('ships the thoth run bundle whole: dist/run-bundle/ (which bin/run.js runs) with every chunk, its package.json and the notices', async () => {
    const home = await tempDir();
    const listed = npm(['pack', '--dry-run', '--json', '--ignore-scripts'], REPO_ROOT, home);
    expect(listed.status, listed.stderr).toBe(0);
    const {files} = (JSON.parse(listed.stdout) as Array<{files: PackedFile[]}>)[0]!;
    const packed = files.map((file) => file.path).filter((path) => path.startsWith('dist/run-bundle/'));
    const built = (await readdir(join(REPO_ROOT, 'dist', 'run-bundle'), {recursive: true, withFileTypes: true}))
      .filter((entry) => entry.isFile())
      .map((entry) => relative(REPO_ROOT, join(entry.parentPath, entry.name)).split(sep).join('/'));
    expect(built).toEqual(
      expect.arrayContaining([
        'dist/run-bundle/main.js',
        'dist/run-bundle/package.json',
        'dist/run-bundle/lib-url.js',
        'dist/run-bundle/THIRD-PARTY-LICENSES.txt',
      ]),
    );
    expect(built.some((path) => path.startsWith('dist/run-bundle/chunks/'))).toBe(true);
    expect(packed.sort()).toEqual(built.sort());
  });
});
