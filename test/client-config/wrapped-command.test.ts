import {describe, expect, it} from 'vitest';

import {parseCommand, runPrefix, wrappedArgs} from '../../src/client-config/wrapped-command.js';

describe('parseCommand: which command lines are thoth', () => {
  const inner = ['--', 'npx', '-y', '@modelcontextprotocol/server-memory'];

  it.each([
    ['the default node form', '/usr/local/bin/node', ['/opt/thoth/bin/run.js', 'run', '--agent-id', 'memory', ...inner], 1],
    [
      'Windows node.exe form',
      'C:\\Program Files\\nodejs\\node.exe',
      ['C:\\thoth\\bin\\run.js', 'run', '--agent-id', 'memory', ...inner],
      1,
    ],
    ['a thoth binary (--thoth-bin)', '/usr/local/bin/thoth', ['run', '--agent-id', 'memory', '--enforcement-mode', 'block', ...inner], 0],
    ['thoth.exe', 'C:\\Tools\\thoth.exe', ['run', '--agent-id', 'memory', ...inner], 0],
    ['a renamed binary still carrying --agent-id', '/opt/acme/governor', ['run', '--agent-id', 'memory', ...inner], 0],
    ["the seed's manual form without --agent-id", 'thoth', ['run', ...inner], 0],
    ['a package runner', 'npx', ['-y', 'thoth-mcp', 'run', '--agent-id', 'memory', ...inner], 2],
    ['--flag=value forms', 'thoth', ['run', '--agent-id=memory', '--tenant-id=acme', ...inner], 0],
  ])('recognises %s', (_name, command, args, launcherPrefix) => {
    const parsed = parseCommand(command, args);
    expect(parsed.kind).toBe('wrapped');
    if (parsed.kind !== 'wrapped') return;
    expect(parsed.launcher).toEqual({command, prefix: args.slice(0, launcherPrefix)});
    expect(parsed.inner).toEqual({command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory']});
    expect(args.slice(parsed.prefixLength)).toEqual(['-y', '@modelcontextprotocol/server-memory']);
  });

  it.each([
    ['docker run', 'docker', ['run', '-i', '--rm', 'mcp/fetch']],
    ['uv run', 'uv', ['run', '--with', 'mcp', 'server.py']],
    ['npm run', 'npm', ['run', 'mcp', '--', '--port', '1']],
    ['a node script with a run subcommand but no thoth flags', 'node', ['cli.js', 'run', '--', 'x']],
    ['plain npx', 'npx', ['-y', '@modelcontextprotocol/server-memory']],
  ])('leaves %s alone', (_name, command, args) => {
    expect(parseCommand(command, args).kind).toBe('plain');
  });

  it.each([
    ['an unknown flag', ['run', '--agent-id', 'x', '--frobnicate', '--', 'npx']],
    ['no -- separator', ['run', '--agent-id', 'x', 'npx']],
    ['nothing after --', ['run', '--agent-id', 'x', '--']],
    ['a flag without its value', ['run', '--agent-id']],
    ['no run at all', ['serve']],
  ])('reports thoth it cannot parse (%s) instead of wrapping it again', (_name, args) => {
    const parsed = parseCommand('/usr/local/bin/thoth', args);
    expect(parsed.kind).toBe('unrecognised');
  });
});

describe('the wrapped command line (stable contract)', () => {
  it('puts managed flags first, in a fixed order, then the original command unchanged', () => {
    const args = wrappedArgs(
      {command: '/usr/bin/node', prefix: ['/opt/thoth/bin/run.js']},
      [
        {name: 'log-file', value: '/tmp/thoth.log'},
        {name: 'session-intent', value: 'phi_eligibility_check'},
        {name: 'agent-id', value: 'phi'},
        {name: 'enforcement-mode', value: 'block'},
        {name: 'tenant-id', value: 'acme'},
      ],
      {command: 'npx', args: ['-y', '@mcp/server-phi-boundary', '--', '--weird']},
    );
    expect(args).toEqual([
      '/opt/thoth/bin/run.js',
      'run',
      '--agent-id',
      'phi',
      '--tenant-id',
      'acme',
      '--enforcement-mode',
      'block',
      '--session-intent',
      'phi_eligibility_check',
      '--log-file',
      '/tmp/thoth.log',
      '--',
      'npx',
      '-y',
      '@mcp/server-phi-boundary',
      '--',
      '--weird',
    ]);
    const parsed = parseCommand('/usr/bin/node', args);
    expect(parsed.kind === 'wrapped' && parsed.inner).toEqual({command: 'npx', args: ['-y', '@mcp/server-phi-boundary', '--', '--weird']});
  });

  it('joins a value that starts with "-" to its flag so it cannot read as a flag', () => {
    expect(runPrefix([{name: 'agent-id', value: '-dash'}], 'x')).toEqual(['run', '--agent-id=-dash', '--', 'x']);
    const parsed = parseCommand('thoth', runPrefix([{name: 'agent-id', value: '-dash'}], 'x'));
    expect(parsed.kind === 'wrapped' && parsed.flags).toEqual([{name: 'agent-id', value: '-dash'}]);
  });

  it("is parsed by thoth run's own parser: what wrap-config writes, run reads back", async () => {
    const {parseRunArgs} = await import('../../src/core/run-flags.js');
    const args = wrappedArgs(
      {command: 'thoth', prefix: []},
      [
        {name: 'agent-id', value: '-odd name'},
        {name: 'tenant-id', value: 'acme'},
        {name: 'enforcement-mode', value: 'observe'},
        {name: 'session-intent', value: 'x'},
      ],
      {command: 'npx.cmd', args: ['-y', 'pkg', '--', '--x']},
    );
    const options = parseRunArgs(args.slice(1));
    expect(options).toMatchObject({
      agentId: '-odd name',
      tenantId: 'acme',
      enforcementMode: 'observe',
      sessionIntent: 'x',
      command: 'npx.cmd',
      args: ['-y', 'pkg', '--', '--x'],
    });
  });
});
