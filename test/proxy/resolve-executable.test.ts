import {describe, expect, it} from 'vitest';

import {ThothError} from '../../src/core/errors.js';
import {escapeForCmd, npmShimTarget, planSpawn, type ResolverFs, type ResolverHost} from '../../src/proxy/resolve-executable.js';

/** An in-memory file system: path → {content, executable}. Paths compare case-insensitively on Windows. */
function memoryFs(files: Record<string, {content?: string; executable?: boolean}>, caseInsensitive = false): ResolverFs {
  const norm = (p: string) => (caseInsensitive ? p.toLowerCase() : p);
  const table = new Map(Object.entries(files).map(([p, f]) => [norm(p), f]));
  return {
    isFile: (p) => table.has(norm(p)),
    isExecutable: (p) => table.get(norm(p))?.executable === true,
    readText: (p) => table.get(norm(p))?.content,
    list: () => [],
  };
}

const NPM_SHIM = [
  '@ECHO off',
  'GOTO start',
  ':find_dp0',
  'SET dp0=%~dp0',
  'EXIT /b',
  ':start',
  'SETLOCAL',
  'CALL :find_dp0',
  'IF EXIST "%dp0%\\node.exe" (',
  '  SET "_prog=%dp0%\\node.exe"',
  ') ELSE (',
  '  SET "_prog=node"',
  '  SET PATHEXT=%PATHEXT:;.JS;=;%',
  ')',
  'endLocal & goto #_undefined_# 2>NUL || title %COMSPEC% & "%_prog%"  "%dp0%\\node_modules\\@modelcontextprotocol\\server-filesystem\\dist\\index.js" %*',
].join('\r\n');

const windowsHost = (env: NodeJS.ProcessEnv): ResolverHost => ({
  platform: 'win32',
  env: {PATHEXT: '.COM;.EXE;.BAT;.CMD', SystemRoot: 'C:\\Windows', ...env},
  cwd: 'C:\\Users\\ada',
  execPath: 'C:\\Program Files\\nodejs\\node.exe',
});

describe('planSpawn on macOS and Linux', () => {
  const host = (env: NodeJS.ProcessEnv, platform: NodeJS.Platform = 'darwin'): ResolverHost => ({
    platform,
    env,
    cwd: '/Users/ada',
    execPath: '/opt/node/bin/node',
  });

  it('finds an executable on PATH and passes arguments unchanged', () => {
    const fs = memoryFs({'/usr/local/bin/uvx': {executable: true}});
    const plan = planSpawn('uvx', ['mcp-server-git', '--repo', 'a b; rm -rf /'], host({PATH: '/usr/bin:/usr/local/bin'}), fs);
    expect(plan).toEqual({file: '/usr/local/bin/uvx', args: ['mcp-server-git', '--repo', 'a b; rm -rf /'], foundVia: 'path'});
  });

  it('skips files that are not executable', () => {
    const fs = memoryFs({'/usr/bin/tool': {executable: false}, '/bin/tool': {executable: true}});
    expect(planSpawn('tool', [], host({PATH: '/usr/bin:/bin'}), fs).file).toBe('/bin/tool');
  });

  it('falls back to Homebrew when the client gives a minimal PATH (Claude Desktop on macOS)', () => {
    const fs = memoryFs({'/opt/homebrew/bin/npx': {executable: true}});
    const plan = planSpawn('npx', ['-y', '@modelcontextprotocol/server-everything'], host({PATH: '/usr/bin:/bin:/usr/sbin:/sbin'}), fs);
    expect(plan.file).toBe('/opt/homebrew/bin/npx');
    expect(plan.foundVia).toBe('fallback');
  });

  it('falls back to the directory of the node running thoth (nvm, volta) last', () => {
    const fs = memoryFs({'/opt/node/bin/npx': {executable: true}});
    expect(planSpawn('npx', [], host({PATH: ''}), fs).file).toBe('/opt/node/bin/npx');
  });

  it('resolves relative paths against the working directory', () => {
    const fs = memoryFs({'/Users/ada/servers/run.sh': {executable: true}});
    expect(planSpawn('./servers/run.sh', [], host({PATH: ''}), fs).file).toBe('/Users/ada/servers/run.sh');
  });

  it('fails fast, listing every place it looked and how to fix it', () => {
    const fs = memoryFs({});
    let error: unknown;
    try {
      planSpawn('npx', [], host({PATH: '/usr/bin'}, 'linux'), fs);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ThothError);
    const thothError = error as ThothError;
    expect(thothError.exitCode).toBe(127);
    for (const dir of ['/usr/bin/npx', '/usr/local/bin/npx', '/opt/homebrew/bin/npx', '/bin/npx', '/opt/node/bin/npx']) {
      expect(thothError.message).toContain(dir);
    }
    expect(thothError.suggestions.join(' ')).toMatch(/Node\.js/);
  });
});

describe('planSpawn on Windows', () => {
  it('applies PATHEXT and runs npx.cmd as node + npx-cli.js, without cmd.exe (CVE-2024-27980)', () => {
    const fs = memoryFs(
      {
        'C:\\Program Files\\nodejs\\npx.cmd': {content: '@ECHO OFF\r\n...'},
        'C:\\Program Files\\nodejs\\node.exe': {},
        'C:\\Program Files\\nodejs\\node_modules\\npm\\bin\\npx-cli.js': {},
      },
      true,
    );
    const plan = planSpawn(
      'npx',
      ['-y', '@modelcontextprotocol/server-filesystem', 'C:\\Users\\ada & calc'],
      windowsHost({Path: 'C:\\Windows\\System32;C:\\Program Files\\nodejs'}),
      fs,
    );
    expect(plan.file).toBe('C:\\Program Files\\nodejs\\node.exe');
    expect(plan.args).toEqual([
      'C:\\Program Files\\nodejs\\node_modules\\npm\\bin\\npx-cli.js',
      '-y',
      '@modelcontextprotocol/server-filesystem',
      'C:\\Users\\ada & calc',
    ]);
    expect(plan.foundVia).toBe('npm-shim');
    expect(plan.verbatimArguments).toBeUndefined();
  });

  it('finds npx.cmd in %ProgramFiles%\\nodejs when the PATH is minimal', () => {
    const fs = memoryFs(
      {
        'C:\\Program Files\\nodejs\\npx.cmd': {content: ''},
        'C:\\Program Files\\nodejs\\node.exe': {},
        'C:\\Program Files\\nodejs\\node_modules\\npm\\bin\\npx-cli.js': {},
      },
      true,
    );
    const plan = planSpawn('npx', [], windowsHost({Path: 'C:\\Windows\\System32', ProgramFiles: 'C:\\Program Files'}), fs);
    expect(plan.args[0]).toBe('C:\\Program Files\\nodejs\\node_modules\\npm\\bin\\npx-cli.js');
  });

  it('runs a global npm package shim (%AppData%\\npm) through node and its script', () => {
    const fs = memoryFs(
      {
        'C:\\Users\\ada\\AppData\\Roaming\\npm\\mcp-server-filesystem.cmd': {content: NPM_SHIM},
        'C:\\Users\\ada\\AppData\\Roaming\\npm\\node_modules\\@modelcontextprotocol\\server-filesystem\\dist\\index.js': {},
        'C:\\Program Files\\nodejs\\node.exe': {},
      },
      true,
    );
    const plan = planSpawn(
      'mcp-server-filesystem',
      ['C:\\data'],
      windowsHost({Path: 'C:\\Program Files\\nodejs', APPDATA: 'C:\\Users\\ada\\AppData\\Roaming'}),
      fs,
    );
    expect(plan.file).toBe('C:\\Program Files\\nodejs\\node.exe');
    expect(plan.args).toEqual([
      'C:\\Users\\ada\\AppData\\Roaming\\npm\\node_modules\\@modelcontextprotocol\\server-filesystem\\dist\\index.js',
      'C:\\data',
    ]);
  });

  it('runs other batch files through cmd.exe with every metacharacter escaped', () => {
    const fs = memoryFs({'C:\\tools\\server.bat': {content: '@echo off\r\npython server.py %*'}}, true);
    const plan = planSpawn(
      'server',
      ['a&calc', '%PATH%', 'x"y'],
      windowsHost({Path: 'C:\\tools', ComSpec: 'C:\\Windows\\System32\\cmd.exe'}),
      fs,
    );
    expect(plan.file).toBe('C:\\Windows\\System32\\cmd.exe');
    expect(plan.verbatimArguments).toBe(true);
    expect(plan.args.slice(0, 3)).toEqual(['/d', '/s', '/c']);
    const line = plan.args[3]!;
    expect(line).toContain('^"a^&calc^"');
    expect(line).toContain('^%PATH^%');
    expect(line).not.toMatch(/[^^][&|<>]/);
  });

  it('prefers .exe over .cmd in the PATHEXT order and accepts an explicit extension', () => {
    const fs = memoryFs({'C:\\bin\\tool.exe': {}, 'C:\\bin\\tool.cmd': {content: ''}}, true);
    expect(planSpawn('tool', [], windowsHost({Path: 'C:\\bin'}), fs).file).toBe('C:\\bin\\tool.exe');
    expect(planSpawn('tool.cmd', [], windowsHost({Path: 'C:\\bin'}), fs).foundVia).toBe('cmd');
  });
});

describe('helpers', () => {
  it('npmShimTarget reads both the current and the older (%~dp0) shim formats', () => {
    expect(npmShimTarget(NPM_SHIM)).toBe('node_modules\\@modelcontextprotocol\\server-filesystem\\dist\\index.js');
    expect(npmShimTarget('"%~dp0\\node.exe"  "%~dp0\\node_modules\\foo\\cli.js" %*')).toBe('node_modules\\foo\\cli.js');
    expect(npmShimTarget('@echo off\r\npython x.py')).toBeUndefined();
  });

  it('escapeForCmd doubles backslashes before quotes and carets every metacharacter', () => {
    expect(escapeForCmd('plain')).toBe('^"plain^"');
    expect(escapeForCmd('a\\"b')).toBe('^"a\\\\\\^"b^"');
    expect(escapeForCmd('trail\\')).toBe('^"trail\\\\^"');
    expect(escapeForCmd('|<>()!')).toBe('^"^|^<^>^(^)^!^"');
  });
});
