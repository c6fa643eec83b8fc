import {spawnSync} from 'node:child_process';
import {mkdtemp, readFile, readdir, rm, symlink} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join, relative} from 'node:path';
import {describe, expect, it} from 'vitest';

import {REPO_ROOT} from '../helpers/cli.js';
import {SHELLCHECK, skipReasonFor} from '../helpers/system-tool.js';

async function shellScripts(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, {withFileTypes: true})) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await shellScripts(path)));
    else if (entry.name.endsWith('.sh')) found.push(path);
  }
  return found;
}

// shellcheck is a Debian package, not an npm one: where it is missing the lint is skipped (and
// says so), unless THOTH_REQUIRE_SHELLCHECK=1 (.ci/run installs it and sets that).
const skipped = skipReasonFor(SHELLCHECK);
if (skipped !== undefined) console.warn(`test/mdm/shellcheck: ${skipped}`);

describe('mdm shell scripts', () => {
  it.skipIf(skipped !== undefined)(`pass shellcheck${skipped === undefined ? '' : ` (${skipped})`}`, async () => {
    const version = spawnSync('shellcheck', ['--version'], {encoding: 'utf8'});
    expect(version.error, 'shellcheck is not installed: apt-get install -y shellcheck').toBeUndefined();
    const scripts = await shellScripts(join(REPO_ROOT, 'mdm'));
    expect(scripts.map((file) => relative(REPO_ROOT, file)).sort()).toEqual([
      'mdm/jamf/ea-thoth-governed.sh',
      'mdm/jamf/ea-thoth-status.sh',
      'mdm/jamf/ea-thoth-version.sh',
      'mdm/jamf/thoth-policy.sh',
      'mdm/jamf/uninstall.sh',
    ]);
    const result = spawnSync('shellcheck', ['--shell=bash', '--severity=style', ...scripts], {encoding: 'utf8'});
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});

describe('running the lint where shellcheck is missing', () => {
  it('skips with a message naming the package, unless THOTH_REQUIRE_SHELLCHECK=1 makes it required', async () => {
    // A PATH with node only: what a fresh machine with just Node looks like to the test.
    const bin = await mkdtemp(join(tmpdir(), 'thoth-path-'));
    try {
      await symlink(process.execPath, join(bin, 'node'));
      const nodeOnly = {PATH: bin};
      expect(skipReasonFor(SHELLCHECK, nodeOnly)).toBe(
        'skipped: shellcheck is not installed (apt-get install shellcheck; THOTH_REQUIRE_SHELLCHECK=1 turns this into a failure)',
      );
      expect(skipReasonFor(SHELLCHECK, {...nodeOnly, THOTH_REQUIRE_SHELLCHECK: '1'})).toBeUndefined();
    } finally {
      await rm(bin, {recursive: true, force: true});
    }
  });

  it('is required in CI: .ci/run installs shellcheck and sets THOTH_REQUIRE_SHELLCHECK=1', async () => {
    const ci = await readFile(join(REPO_ROOT, '.ci', 'run'), 'utf8');
    expect(ci).toMatch(/shellcheck:shellcheck/);
    expect(ci).toMatch(/^export .*\bTHOTH_REQUIRE_SHELLCHECK=1\b/m);
  });
});
