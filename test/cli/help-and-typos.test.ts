import {spawnSync} from 'node:child_process';
import {readFile, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {closestCommands, describeNotFound, editDistance} from '../../src/cli/suggest.js';
import {wholeMessage} from '../../src/util/error-format.js';
import {loadValidator} from '../../src/util/validators.js';
import {REPO_ROOT, parseEnvelope, runThoth} from '../helpers/cli.js';
import {toolAvailable} from '../helpers/system-tool.js';
import {tempDir} from '../helpers/tmp.js';

interface Manifest {
  commands: Record<string, {hidden?: boolean}>;
}

async function manifestIds(): Promise<string[]> {
  const manifest = JSON.parse(await readFile(join(REPO_ROOT, 'oclif.manifest.json'), 'utf8')) as Manifest;
  return Object.keys(manifest.commands).filter((id) => manifest.commands[id]!.hidden !== true);
}

async function profileEnv(): Promise<Record<string, string>> {
  const home = await tempDir();
  return {HOME: home, THOTH_HOME: join(home, '.thoth')};
}

describe('help', () => {
  it('thoth help, thoth help COMMAND and thoth help TOPIC print oclif help, with a link to the docs', async () => {
    const env = await profileEnv();
    const root = await runThoth(['help'], {env});
    expect(root.code).toBe(0);
    expect(root.stdout).toContain('USAGE\n  $ thoth [COMMAND]');
    expect(root.stdout).toMatch(/Documentation: https:\/\/\S+\/docs/);
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as {homepage: string};
    expect(root.stdout).toContain(pkg.homepage.replace(/#readme$/, ''));
    // The same as --help.
    expect((await runThoth(['--help'], {env})).stdout).toBe(root.stdout);
    const command = await runThoth(['help', 'audit', 'show'], {env});
    expect(command.code).toBe(0);
    expect(command.stdout).toContain('$ thoth audit show');
    expect(command.stdout).toBe((await runThoth(['audit', 'show', '--help'], {env})).stdout);
    const topic = await runThoth(['help', 'audit'], {env});
    expect(topic.stdout).toMatch(/audit verify\s+Check that the audit trail/);
  });

  it('-h works on every command, thoth run -h included (its fast path leaves help to oclif)', async () => {
    const env = await profileEnv();
    // `thoth help -h` is the root help, as in every oclif CLI: help is about the other commands.
    const ids = (await manifestIds()).filter((id) => id !== 'help');
    expect(ids).toContain('run');
    // In small batches: two cores, other suites running.
    for (let start = 0; start < ids.length; start += 4) {
      await Promise.all(
        ids.slice(start, start + 4).map(async (id) => {
          const typed = id.split(':');
          const result = await runThoth([...typed, '-h'], {env});
          expect(result.code, `thoth ${typed.join(' ')} -h\n${result.stderr}`).toBe(0);
          expect(result.stdout).toContain(`$ thoth ${typed.join(' ')}`);
          expect(result.stderr).toBe('');
        }),
      );
    }
    const run = await runThoth(['run', '-h'], {env});
    expect(run.stdout).toContain('--enforcement-mode');
  });

  it('thoth help with an unknown command says so in thoth format, with what was meant', async () => {
    const result = await runThoth(['help', 'audit', 'shwo'], {env: await profileEnv()});
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'thoth: error: "audit shwo" is not a thoth command\n  Try this: Did you mean `thoth audit show`? `thoth help audit` lists the audit commands.\n',
    );
  });
});

describe('typos: "did you mean", in thoth format and in the --json envelope', () => {
  it('an unknown command names the closest one, space-separated as typed', async () => {
    const env = await profileEnv();
    const validate = await loadValidator('envelope');
    const cases = [
      {args: ['wrap-confg'], typed: 'wrap-confg', meant: 'thoth wrap-config', list: '`thoth help` lists every command.'},
      {args: ['audit', 'shwo'], typed: 'audit shwo', meant: 'thoth audit show', list: '`thoth help audit` lists the audit commands.'},
      {args: ['polcy', 'validate'], typed: 'polcy validate', meant: 'thoth policy validate', list: '`thoth help` lists every command.'},
    ];
    for (const {args, typed, meant, list} of cases) {
      const human = await runThoth(args, {env});
      expect(human.code, args.join(' ')).toBe(2);
      expect(human.stdout).toBe('');
      expect(human.stderr).toBe(`thoth: error: "${typed}" is not a thoth command\n  Try this: Did you mean \`${meant}\`? ${list}\n`);
      expect(human.stderr).not.toMatch(/audit:|›/);

      const json = await runThoth([...args, '--json'], {env});
      expect(json.code).toBe(2);
      const envelope = parseEnvelope(json.stdout);
      expect(validate(envelope), JSON.stringify(validate.errors)).toBe(true);
      expect(envelope).toEqual({
        ok: false,
        command: typed,
        status: 2,
        error: {code: 'COMMAND_NOT_FOUND', message: `"${typed}" is not a thoth command`, suggestions: [`Did you mean \`${meant}\`?`, list]},
        warnings: [],
      });
      expect(json.stderr).toMatch(/^thoth: error: /);
    }
  });

  it('a word nothing resembles gets the command list only; an argument to a command that takes none is a usage error', async () => {
    const env = await profileEnv();
    const far = await runThoth(['frobnicate'], {env});
    expect(far.code).toBe(2);
    expect(far.stderr).toBe('thoth: error: "frobnicate" is not a thoth command\n  Try this: `thoth help` lists every command.\n');
    const extra = await runThoth(['identity', 'extra', '--json'], {env});
    expect(extra.code).toBe(2);
    expect(parseEnvelope(extra.stdout).error).toEqual({
      code: 'USAGE',
      message: 'unexpected argument "extra": thoth identity takes no arguments',
      suggestions: ['Run `thoth identity --help` to see its flags.'],
    });
  });

  it('suggestions: edit distance counts a swap as one edit, and far-off words suggest nothing', () => {
    expect(editDistance('shwo', 'show')).toBe(1);
    expect(editDistance('wrap-confg', 'wrap-config')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
    expect(closestCommands('audit shwo', ['audit show', 'audit tail', 'status'])).toEqual(['audit show']);
    expect(closestCommands('xyzzy', ['audit show', 'status'])).toEqual([]);
    expect(closestCommands('approv', ['approve', 'approvals'])).toEqual(['approve']);
    expect(describeNotFound(['pins', 'acept'], ['pins:accept', 'pins:list'], ['pins']).suggestions).toEqual([
      'Did you mean `thoth pins accept`?',
      '`thoth help pins` lists the pins commands.',
    ]);
  });
});

describe('whole usage errors', () => {
  it('name the argument or flag and what it accepts, on one line, with the command to get help for', async () => {
    const env = await profileEnv();
    const validate = await loadValidator('envelope');
    const cases: Array<{args: string[]; message: RegExp; command: string}> = [
      {args: ['approve'], message: /^missing required argument ID: the approval id from `thoth approvals list`/, command: 'approve'},
      {
        args: ['audit', 'show', '--limit', '0'],
        message: /^Parsing --limit: Expected an integer greater than or equal to 1 but received: 0$/,
        command: 'audit show',
      },
      {
        args: ['policy', 'explain'],
        message: /^missing required flags --agent-id: the agent \(server name\) making the call; --tool: the tool name$/,
        command: 'policy explain',
      },
      {
        args: ['wrap-config', '--all', '--client', 'cursor'],
        message: /^--client=cursor cannot also be provided when using --all$/,
        command: 'wrap-config',
      },
      {
        args: ['status', '--client', 'bogus'],
        message: /^Expected --client=bogus to be one of: claude-desktop, claude-code, cursor, vscode, windsurf$/,
        command: 'status',
      },
    ];
    for (const {args, message, command} of cases) {
      const human = await runThoth(args, {env});
      expect(human.code, args.join(' ')).toBe(2);
      const [first, hint, ...rest] = human.stderr.split('\n');
      expect(first!.replace(/^thoth: error: /, '')).toMatch(message);
      expect(hint).toBe(`  Try this: Run \`thoth ${command} --help\` to see its flags and arguments.`);
      expect(rest).toEqual(['']);
      const json = await runThoth([...args, '--json'], {env});
      expect(json.code).toBe(2);
      const envelope = parseEnvelope(json.stdout);
      expect(validate(envelope), JSON.stringify(validate.errors)).toBe(true);
      expect(envelope.error?.message).toMatch(message);
      expect(envelope.error?.code).toBe('USAGE');
    }
  });

  it('joins the lines of a multi-line message and drops oclif colours and its "See more help" line', () => {
    expect(wholeMessage('Parsing --limit \n\tExpected an integer but received: x\nSee more help with --help')).toBe(
      'Parsing --limit: Expected an integer but received: x',
    );
    expect(wholeMessage('The following error occurred:\n  \u001b[2m--a cannot also be provided when using --b\u001b[22m')).toBe(
      'The following error occurred: --a cannot also be provided when using --b',
    );
    expect(wholeMessage('one line')).toBe('one line');
  });
});

describe('thoth version', () => {
  it('prints what --version prints; --json has the parts; neither creates a profile', async () => {
    const home = await tempDir();
    const env = {HOME: home, THOTH_HOME: join(home, 'none')};
    const flag = await runThoth(['--version'], {env});
    const command = await runThoth(['version'], {env});
    expect(command.code).toBe(0);
    expect(command.stdout).toBe(flag.stdout);
    const json = await runThoth(['version', '--json'], {env});
    const envelope = parseEnvelope<{name: string; version: string; node: string; userAgent: string}>(json.stdout);
    expect((await loadValidator('envelope'))(envelope)).toBe(true);
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as {name: string; version: string};
    expect(envelope.result).toMatchObject({name: pkg.name, version: pkg.version, node: process.version, userAgent: flag.stdout.trim()});
    expect(spawnSync('ls', [join(home, 'none')]).status).not.toBe(0);
  });
});

describe('shell completion', () => {
  /** Runs the generated completion function in a real shell for the words typed, as completion would. */
  function complete(shell: 'bash' | 'zsh', script: string, words: string[], home: string): string[] {
    const quoted = words.map((word) => `'${word.replaceAll("'", "'\\''")}'`).join(' ');
    const call = `COMP_WORDS=(${quoted}); COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 )); COMPREPLY=(); _thoth_complete; printf '%s\\n' "\${COMPREPLY[@]}"`;
    // zsh runs the function in its bash emulation (0-based arrays), as bashcompinit does.
    const program = shell === 'bash' ? `source "$1"; ${call}` : `source "$1"; emulate sh -c '${call.replaceAll("'", "'\\''")}'`;
    const result = spawnSync(shell, ['-c', program, shell, script], {encoding: 'utf8', env: {PATH: process.env['PATH'], HOME: home}});
    expect(result.stderr).toBe('');
    return result.stdout.split('\n').filter((line) => line !== '');
  }

  it('bash: completes commands, topic commands, flags and flag values', async () => {
    const env = await profileEnv();
    const generated = await runThoth(['autocomplete', 'bash'], {env});
    expect(generated.code).toBe(0);
    const script = join(await tempDir(), 'thoth.bash');
    await writeFile(script, generated.stdout);
    expect(complete('bash', script, ['thoth', 'wr'], env['HOME']!)).toEqual(['wrap-config']);
    expect(complete('bash', script, ['thoth', 'audit', ''], env['HOME']!)).toEqual(['export', 'show', 'tail', 'verify']);
    expect(complete('bash', script, ['thoth', 'audit', 'show', '--dec'], env['HOME']!)).toEqual(['--decision']);
    expect(complete('bash', script, ['thoth', 'audit', 'show', '--decision', 's'], env['HOME']!)).toEqual(['step_up']);
    expect(complete('bash', script, ['thoth', 'status', '--client', 'cu'], env['HOME']!)).toEqual(['cursor']);
    expect(complete('bash', script, ['thoth', ''], env['HOME']!)).toEqual(
      expect.arrayContaining(['audit', 'help', 'policy', 'version', 'wrap-config']),
    );
    // After `--` the words belong to the server command: thoth completes nothing.
    expect(complete('bash', script, ['thoth', 'run', '--', 'np'], env['HOME']!)).toEqual([]);
    const json = parseEnvelope<{shell: string; script: string}>((await runThoth(['autocomplete', 'bash', '--json'], {env})).stdout);
    expect(json.result).toEqual({shell: 'bash', script: generated.stdout});
  });

  it.skipIf(!toolAvailable('zsh'))('zsh: the same completions through bashcompinit (skipped where zsh is not installed)', async () => {
    const env = await profileEnv();
    const generated = await runThoth(['autocomplete', 'zsh'], {env});
    const script = join(await tempDir(), 'thoth.zsh');
    await writeFile(script, generated.stdout);
    // zsh filters by the typed prefix itself: the function offers every word at that position.
    expect(complete('zsh', script, ['thoth', 'audit', 'sh'], env['HOME']!)).toEqual(['export', 'show', 'tail', 'verify']);
    expect(complete('zsh', script, ['thoth', 'status', '--client', 'c'], env['HOME']!)).toContain('cursor');
  });

  it('an unknown shell is a usage error naming the supported ones', async () => {
    const result = await runThoth(['autocomplete', '--json'], {env: {...(await profileEnv()), SHELL: '/usr/bin/fish'}});
    expect(result.code).toBe(2);
    expect(parseEnvelope(result.stdout).error?.message).toBe('no completion for the shell "fish": bash and zsh are supported');
  });
});
