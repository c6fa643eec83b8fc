import {existsSync} from 'node:fs';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {RawSession} from '../helpers/raw-session.js';
import {tempDir} from '../helpers/tmp.js';
import {E2E_POLICY, startSession} from '../policy/session.js';

/** A "server" that only leaves a marker file: proof of whether thoth started it at all. */
const markerServer = (marker: string) => [process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran')`];
const uid = typeof process.getuid === 'function' ? process.getuid() : -1;

describe('thoth run applies the settings before it starts the server', () => {
  it('refuses to start, without running the server, when THOTH_EXPECTED_PROXY_UID does not match', async () => {
    const home = await tempDir();
    const marker = join(home, 'marker');
    const session = new RawSession(['--agent-id', 'x'], markerServer(marker), {
      THOTH_HOME: home,
      THOTH_EXPECTED_PROXY_UID: String(uid + 1),
    });
    const exit = await session.exited;
    expect(exit.code).toBe(6);
    expect(session.stdoutBytes).toBe(0);
    expect(session.stderr).toMatch(/THOTH_EXPECTED_PROXY_UID/);
    expect(existsSync(marker)).toBe(false);
  });

  it('in fleet use (a tenant in prod) refuses root, and allows it when THOTH_REQUIRE_NON_ROOT=false says so', async () => {
    const home = await tempDir();
    const marker = join(home, 'marker');
    const refused = new RawSession(['--agent-id', 'x', '--tenant-id', 'acme'], markerServer(marker), {
      THOTH_HOME: home,
      THOTH_REQUIRE_NON_ROOT: '',
    });
    const exit = await refused.exited;
    if (uid === 0) {
      expect(exit.code).toBe(6);
      expect(refused.stderr).toMatch(/root/);
      expect(existsSync(marker)).toBe(false);
    } else {
      expect(exit.code).toBe(0);
      expect(existsSync(marker)).toBe(true);
    }
    const allowed = new RawSession(['--agent-id', 'x', '--tenant-id', 'acme'], markerServer(`${marker}-2`), {
      THOTH_HOME: home,
      THOTH_REQUIRE_NON_ROOT: 'false',
    });
    expect((await allowed.exited).code).toBe(0);
    expect(existsSync(`${marker}-2`)).toBe(true);
  });

  it('fails closed on an invalid setting with exit 3, naming the variable', async () => {
    const home = await tempDir();
    const marker = join(home, 'marker');
    const session = new RawSession(['--agent-id', 'x'], markerServer(marker), {THOTH_HOME: home, THOTH_ENV: 'production-ish'});
    const exit = await session.exited;
    expect(exit.code).toBe(3);
    expect(session.stderr).toMatch(/THOTH_ENV/);
    expect(existsSync(marker)).toBe(false);
  });

  it('bootstraps the profile on first run (0700 directory, 0600 key file)', async () => {
    const home = join(await tempDir(), 'fresh-profile');
    const session = new RawSession(['--agent-id', 'x'], markerServer(join(await tempDir(), 'm')), {THOTH_HOME: home});
    expect((await session.exited).code).toBe(0);
    const {statSync} = await import('node:fs');
    expect(statSync(home).mode & 0o777).toBe(0o700);
    expect(statSync(join(home, 'proxy_api_key.json')).mode & 0o777).toBe(0o600);
    expect(existsSync(join(home, 'intent_map.json'))).toBe(true);
  });

  it('THOTH_FILTER_TOOLS=off is the setting behind --no-filter-tools (so managed preferences can pin it); default on', async () => {
    const home = await tempDir();
    const flags = ['--agent-id', 'everything', '--policy', E2E_POLICY];
    const toolNames = async (env: Record<string, string>) => {
      const session = await startSession({home, flags, env});
      try {
        return (await session.client.listTools()).tools.map((tool) => tool.name);
      } finally {
        await session.close();
      }
    };
    // The policy blocks get-env outright: filtered out of tools/list unless filtering is off.
    expect(await toolNames({THOTH_FILTER_TOOLS: 'off'})).toContain('get-env');
    expect(await toolNames({})).not.toContain('get-env');
  });
});
