import {spawnSync} from 'node:child_process';
import {readdir} from 'node:fs/promises';
import {join, relative} from 'node:path';
import {describe, expect, it} from 'vitest';

import {REPO_ROOT} from '../helpers/cli.js';

async function shellScripts(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, {withFileTypes: true})) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await shellScripts(path)));
    else if (entry.name.endsWith('.sh')) found.push(path);
  }
  return found;
}

describe('mdm shell scripts', () => {
  it('pass shellcheck (which must be installed: .ci/run installs it)', async () => {
    const version = spawnSync('shellcheck', ['--version'], {encoding: 'utf8'});
    expect(version.error, 'shellcheck is not installed: apt-get install -y shellcheck').toBeUndefined();
    const scripts = await shellScripts(join(REPO_ROOT, 'mdm'));
    expect(scripts.map((file) => relative(REPO_ROOT, file)).sort()).toEqual(['mdm/jamf/ea-thoth-governed.sh', 'mdm/jamf/ea-thoth-status.sh', 'mdm/jamf/ea-thoth-version.sh', 'mdm/jamf/thoth-policy.sh', 'mdm/jamf/uninstall.sh']);
    const result = spawnSync('shellcheck', ['--shell=bash', '--severity=style', ...scripts], {encoding: 'utf8'});
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});
