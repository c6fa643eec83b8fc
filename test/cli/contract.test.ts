import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {loadValidator} from '../../src/util/validators.js';
import {REPO_ROOT, runThoth} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';

interface Manifest {
  commands: Record<string, {flags: Record<string, unknown>}>;
}

describe('the CLI contract', () => {
  it('every command that prints results has --json (run is the protocol and help is help, not results)', () => {
    const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'oclif.manifest.json'), 'utf8')) as Manifest;
    const ids = Object.keys(manifest.commands);
    expect(ids.length).toBeGreaterThan(15);
    const withoutJson = ids.filter((id) => !('json' in manifest.commands[id]!.flags));
    expect(withoutJson.sort()).toEqual(['help', 'run']);
  });

  it('prints the same envelope for results and errors, with the exit code in status', async () => {
    const validate = await loadValidator('envelope');
    const home = await tempDir();
    const env = {THOTH_HOME: home, THOTH_REQUIRE_NON_ROOT: 'false'};
    // ok: the command produced its result (which may carry a non-zero status scripts branch on,
    // like an invalid policy); not ok: it failed, with an error object and a line on stderr.
    const cases: Array<{args: string[]; code: number; ok: boolean}> = [
      {args: ['identity', '--json'], code: 0, ok: true},
      {args: ['config', 'show', '--json'], code: 0, ok: true},
      {args: ['approvals', 'list', '--json'], code: 0, ok: true},
      {args: ['policy', 'validate', join(REPO_ROOT, 'fixtures/policies/phi-intent.json'), '--json'], code: 0, ok: true},
      {args: ['policy', 'validate', join(home, 'missing.json'), '--json'], code: 4, ok: true},
      {args: ['identity', '--json', '--no-such-flag'], code: 2, ok: false},
      {args: ['approve', 'no-such-approval', '--json'], code: 4, ok: false},
    ];
    for (const {args, code, ok} of cases) {
      const result = await runThoth(args, {env});
      expect(result.code, `${args.join(' ')}\n${result.stderr}`).toBe(code);
      const envelope = JSON.parse(result.stdout) as {ok: boolean; status: number};
      expect(validate(envelope), `${args.join(' ')}: ${JSON.stringify(validate.errors)}`).toBe(true);
      expect(envelope.status).toBe(code);
      expect(envelope.ok).toBe(ok);
      if (!ok) expect(result.stderr).toMatch(/^thoth: error: /m);
    }
  });

  it('--version and --help work without a profile and print to stdout', async () => {
    const home = join(await tempDir(), 'none');
    const version = await runThoth(['--version'], {env: {THOTH_HOME: home}});
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^thoth-mcp\/\d+\.\d+\.\d+ /);
    const help = await runThoth(['--help'], {env: {THOTH_HOME: home}});
    expect(help.code).toBe(0);
    for (const word of ['run', 'wrap-config', 'status', 'health', 'audit', 'policy']) expect(help.stdout).toContain(word);
    const runHelp = await runThoth(['run', '--help'], {env: {THOTH_HOME: home}});
    expect(runHelp.stdout).toContain('--enforcement-mode');
  });
});
