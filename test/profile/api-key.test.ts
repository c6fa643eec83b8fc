import {readFile, stat} from 'node:fs/promises';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {apiKeyFingerprint} from '../../src/profile/api-key.js';
import {parseEnvelope, runThoth} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';

const KEY = 'sk-thoth-test-7f3c9a1e5b2d';

describe('thoth api-key set | show', () => {
  it('stores the key from stdin as {"api_key"} with mode 0600 and prints only its fingerprint', async () => {
    const home = join(await tempDir(), 'profile');
    const set = await runThoth(['api-key', 'set'], {env: {THOTH_HOME: home}, input: `${KEY}\n`});
    expect(set.code).toBe(0);
    const fingerprint = apiKeyFingerprint(KEY);
    expect(fingerprint).toMatch(/^sha256:[0-9a-f]{12}$/);
    expect(set.stdout).toBe(`stored API key ${fingerprint} in ${join(home, 'proxy_api_key.json')} (mode 0600)\n`);
    const file = join(home, 'proxy_api_key.json');
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({api_key: KEY});
    expect((await stat(file)).mode & 0o777).toBe(0o600);

    const show = await runThoth(['api-key', 'show'], {env: {THOTH_HOME: home}});
    expect(show.code).toBe(0);
    expect(show.stdout).toBe(`${fingerprint}  (profile: key file ${file})\n`);
    const json = await runThoth(['api-key', 'show', '--json'], {env: {THOTH_HOME: home}});
    expect(parseEnvelope(json.stdout).result).toEqual({fingerprint, source: 'profile', origin: `key file ${file}`});
    for (const run of [set, show, json]) expect(run.stdout + run.stderr).not.toContain(KEY);
  });

  it('writes to THOTH_API_KEY_FILE when it is set', async () => {
    const base = await tempDir();
    const target = join(base, 'keys', 'thoth.json');
    const set = await runThoth(['api-key', 'set', '--json'], {env: {THOTH_HOME: join(base, 'p'), THOTH_API_KEY_FILE: target}, input: KEY});
    expect(parseEnvelope(set.stdout).result).toEqual({file: target, fingerprint: apiKeyFingerprint(KEY)});
    expect(JSON.parse(await readFile(target, 'utf8'))).toEqual({api_key: KEY});
  });

  it('refuses the key on the command line without echoing it, and stores nothing', async () => {
    const home = join(await tempDir(), 'profile');
    const run = await runThoth(['api-key', 'set', KEY], {env: {THOTH_HOME: home}});
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/does not take the key as an argument/);
    expect(run.stdout + run.stderr).not.toContain(KEY);
    expect(await readFile(join(home, 'proxy_api_key.json'), 'utf8')).toBe('{}\n');
    const json = await runThoth(['api-key', 'set', '--json', KEY], {env: {THOTH_HOME: home}});
    expect(parseEnvelope(json.stdout).error?.code).toBe('API_KEY_IN_ARGV');
    expect(json.stdout + json.stderr).not.toContain(KEY);
  });

  it('refuses empty or multi-word input with exit 3', async () => {
    const home = join(await tempDir(), 'profile');
    const empty = await runThoth(['api-key', 'set'], {env: {THOTH_HOME: home}, input: ''});
    expect(empty.code).toBe(3);
    expect(empty.stderr).toMatch(/the API key is empty; nothing was stored/);
    const two = await runThoth(['api-key', 'set'], {env: {THOTH_HOME: home}, input: 'sk-one sk-two\n'});
    expect(two.code).toBe(3);
    expect(two.stderr).not.toContain('sk-one');
  });

  it('show exits 4 when no key is configured, and reports THOTH_API_KEY as the env source without printing it', async () => {
    const home = join(await tempDir(), 'profile');
    const none = await runThoth(['api-key', 'show'], {env: {THOTH_HOME: home}});
    expect(none.code).toBe(4);
    expect(none.stderr).toMatch(/no API key configured/);
    const env = await runThoth(['api-key', 'show', '--json'], {env: {THOTH_HOME: home, THOTH_API_KEY: KEY}});
    expect(parseEnvelope(env.stdout).result).toEqual({fingerprint: apiKeyFingerprint(KEY), source: 'env', origin: 'THOTH_API_KEY'});
    expect(env.stdout).not.toContain(KEY);
  });
});

describe('thoth api-key set at a terminal', () => {
  it('prompts without echoing the key (run under a real pseudo-terminal with script(1))', async () => {
    const {spawn} = await import('node:child_process');
    const {THOTH_BIN} = await import('../helpers/cli.js');
    const home = join(await tempDir(), 'profile');
    const child = spawn('script', ['-qfec', `${process.execPath} ${THOTH_BIN} api-key set`, '/dev/null'], {
      env: {PATH: process.env['PATH'], HOME: process.env['HOME'], THOTH_HOME: home},
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let screen = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      screen += chunk;
      if (screen.includes('API key (input hidden): ') && !child.stdin.writableEnded) child.stdin.end(`${KEY}\r`);
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    expect(screen).toContain(`stored API key ${apiKeyFingerprint(KEY)}`);
    expect(screen).not.toContain(KEY);
    expect(JSON.parse(await readFile(join(home, 'proxy_api_key.json'), 'utf8'))).toEqual({api_key: KEY});
  });
});
