import {describe, expect, it} from 'vitest';

import {ExitCode} from '../../src/core/exit-codes.js';
import {ThothError} from '../../src/core/errors.js';
import {resolveSettings} from '../../src/settings/resolve.js';
import {assertRunUserAllowed} from '../../src/settings/run-user.js';
import {tempDir} from '../helpers/tmp.js';

const settings = async (env: Record<string, string>) => resolveSettings({env, home: await tempDir(), platform: 'linux'});
const root = {uid: 0, username: 'root'};
const alice = {uid: 501, username: 'alice'};

function refusal(run: () => unknown): ThothError {
  try {
    run();
  } catch (error) {
    if (error instanceof ThothError) return error;
    throw error;
  }
  throw new Error('expected assertRunUserAllowed to refuse');
}

describe('assertRunUserAllowed (the non-root requirement)', () => {
  it('refuses root for fleet use (tenant set, prod by default) and says where the requirement came from', async () => {
    const resolved = await settings({THOTH_TENANT_ID: 'acme'});
    const error = refusal(() => assertRunUserAllowed(resolved, root));
    expect(error.exitCode).toBe(ExitCode.SECURITY);
    expect(error.code).toBe('RUN_AS_ROOT');
    expect(error.message).toBe('thoth run refuses to run as root: THOTH_REQUIRE_NON_ROOT is true (default (tenant set, env prod))');
    expect(error.suggestions.join(' ')).toMatch(/launchctl asuser/);
    expect(assertRunUserAllowed(resolved, alice)).toEqual({warnings: []});
  });

  it('only warns for root in local use (no tenant), so a first try in a root container works', async () => {
    const result = assertRunUserAllowed(await settings({}), root);
    expect(result.warnings).toEqual([expect.stringMatching(/^running as root: fine for a local try-out/)]);
  });

  it('lets an explicit THOTH_REQUIRE_NON_ROOT win both ways', async () => {
    const forced = await settings({THOTH_REQUIRE_NON_ROOT: 'true'});
    expect(refusal(() => assertRunUserAllowed(forced, root)).message).toMatch(
      /THOTH_REQUIRE_NON_ROOT is true \(env: THOTH_REQUIRE_NON_ROOT\)/,
    );
    const relaxed = await settings({THOTH_TENANT_ID: 'acme', THOTH_REQUIRE_NON_ROOT: 'false'});
    expect(assertRunUserAllowed(relaxed, root).warnings).toEqual([
      'running as root because THOTH_REQUIRE_NON_ROOT is false (env: THOTH_REQUIRE_NON_ROOT)',
    ]);
  });

  it('checks THOTH_EXPECTED_PROXY_USER and THOTH_EXPECTED_PROXY_UID even for non-root users', async () => {
    const byName = await settings({THOTH_EXPECTED_PROXY_USER: 'svc-mcp'});
    const nameError = refusal(() => assertRunUserAllowed(byName, alice));
    expect(nameError.exitCode).toBe(ExitCode.SECURITY);
    expect(nameError.message).toBe(
      'thoth run is running as "alice" but THOTH_EXPECTED_PROXY_USER is "svc-mcp" (env: THOTH_EXPECTED_PROXY_USER)',
    );
    expect(assertRunUserAllowed(byName, {uid: 600, username: 'svc-mcp'}).warnings).toEqual([]);
    const byUid = await settings({THOTH_EXPECTED_PROXY_UID: '600'});
    expect(refusal(() => assertRunUserAllowed(byUid, alice)).message).toBe(
      'thoth run is running as uid 501 but THOTH_EXPECTED_PROXY_UID is 600 (env: THOTH_EXPECTED_PROXY_UID)',
    );
    expect(assertRunUserAllowed(byUid, {uid: 600, username: 'x'}).warnings).toEqual([]);
  });

  it('has no uid to check on Windows', async () => {
    const resolved = await settings({THOTH_TENANT_ID: 'acme', THOTH_EXPECTED_PROXY_UID: '600'});
    expect(assertRunUserAllowed(resolved, {uid: undefined, username: 'alice'}).warnings).toEqual([]);
  });
});
