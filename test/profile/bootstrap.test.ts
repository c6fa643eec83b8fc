import {chmod, mkdir, readdir, readFile, stat, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {bootstrapProfile} from '../../src/profile/bootstrap.js';
import {runThoth} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';

const mode = async (path: string) => (await stat(path)).mode & 0o777;

describe('bootstrapProfile', () => {
  it('creates the directory 0700 and both files as {} with mode 0600, whatever the umask', async () => {
    const dir = join(await tempDir(), '.thoth');
    const previous = process.umask(0o022);
    try {
      const result = await bootstrapProfile(dir);
      expect(result.created).toEqual([dir, join(dir, 'intent_map.json'), join(dir, 'proxy_api_key.json')]);
      expect(result.warnings).toEqual([]);
    } finally {
      process.umask(previous);
    }
    expect(await mode(dir)).toBe(0o700);
    expect(await mode(join(dir, 'proxy_api_key.json'))).toBe(0o600);
    expect(await mode(join(dir, 'intent_map.json'))).toBe(0o600);
    expect(JSON.parse(await readFile(join(dir, 'intent_map.json'), 'utf8'))).toEqual({});
    expect(JSON.parse(await readFile(join(dir, 'proxy_api_key.json'), 'utf8'))).toEqual({});
  });

  it('changes nothing the second time and never overwrites what is there', async () => {
    const dir = join(await tempDir(), '.thoth');
    await bootstrapProfile(dir);
    await writeFile(join(dir, 'intent_map.json'), '{"filesystem": "read_only_review"}\n');
    const again = await bootstrapProfile(dir);
    expect(again).toEqual({profileDir: dir, created: [], tightened: [], warnings: []});
    expect(await readFile(join(dir, 'intent_map.json'), 'utf8')).toBe('{"filesystem": "read_only_review"}\n');
  });

  it('tightens a looser directory and key file, with a warning naming the old and new modes', async () => {
    const dir = join(await tempDir(), '.thoth');
    await mkdir(dir);
    await chmod(dir, 0o755);
    await writeFile(join(dir, 'proxy_api_key.json'), '{"api_key": "sk-x"}', {mode: 0o644});
    await chmod(join(dir, 'proxy_api_key.json'), 0o644);
    const result = await bootstrapProfile(dir);
    expect(result.tightened).toEqual([dir, join(dir, 'proxy_api_key.json')]);
    expect(result.warnings).toEqual([
      `tightened ${dir} from 0755 to 0700 (the profile directory)`,
      `tightened ${join(dir, 'proxy_api_key.json')} from 0644 to 0600 (it holds the API key)`,
    ]);
    expect(await mode(dir)).toBe(0o700);
    expect(await mode(join(dir, 'proxy_api_key.json'))).toBe(0o600);
    expect(await readFile(join(dir, 'proxy_api_key.json'), 'utf8')).toBe('{"api_key": "sk-x"}');
  });

  it('warns instead of failing when the profile cannot exist', async () => {
    const base = await tempDir();
    await writeFile(join(base, 'file'), 'x');
    const blocked = await bootstrapProfile(join(base, 'file', '.thoth'));
    expect(blocked.warnings[0]).toMatch(/cannot create the profile directory .*file\/\.thoth: ENOTDIR/);
    const notDir = await bootstrapProfile(join(base, 'file'));
    expect(notDir.warnings[0]).toMatch(/is not a directory/);
  });

  it('is safe when many thoth processes start at once (one per MCP server)', async () => {
    const home = join(await tempDir(), 'profile');
    const runs = await Promise.all(Array.from({length: 6}, () => runThoth(['config', 'show', '--json'], {env: {THOTH_HOME: home}})));
    for (const run of runs) expect(run.code).toBe(0);
    expect((await readdir(home)).sort()).toEqual(['intent_map.json', 'proxy_api_key.json']);
    expect(await readFile(join(home, 'proxy_api_key.json'), 'utf8')).toBe('{}\n');
  });

  it('runs before every command and prints its warnings on stderr', async () => {
    const home = join(await tempDir(), 'profile');
    await mkdir(home, {mode: 0o777});
    await chmod(home, 0o777);
    const run = await runThoth(['identity'], {env: {THOTH_HOME: home}});
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`thoth: warning: tightened ${home} from 0777 to 0700 (the profile directory)`);
    expect(await mode(home)).toBe(0o700);
  });
});
