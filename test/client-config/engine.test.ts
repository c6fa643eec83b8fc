import {chown, lstat, mkdir, stat, symlink, utimes, writeFile} from 'node:fs/promises';
import {dirname} from 'node:path';

import {describe, expect, it} from 'vitest';

import {ThothError} from '../../src/core/errors.js';
import {ExitCode} from '../../src/core/exit-codes.js';
import {changeConfigs, type ChangeRequest} from '../../src/client-config/engine.js';
import type {ConfigHost} from '../../src/client-config/host.js';
import {loadValidator} from '../../src/util/validators.js';
import {fixture} from './helpers.js';
import {LINUX, MAC, WINDOWS, WRAP_SETTINGS, machine, type Machine} from './layout.js';

const BASIC = fixture('claude-desktop/macos-basic.json');

async function wrap(m: Machine | ConfigHost, request: Partial<ChangeRequest> = {}) {
  const host = 'host' in m ? m.host : m;
  return changeConfigs({action: 'wrap', host, settings: WRAP_SETTINGS, ...request});
}

async function failure(promise: Promise<unknown>): Promise<ThothError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ThothError);
    return error as ThothError;
  }
  throw new Error('expected a ThothError');
}

describe('finding Claude Desktop on every platform', () => {
  it('macOS: ~/Library/Application Support/Claude', async () => {
    const m = await machine(MAC);
    const file = '/Users/jane/Library/Application Support/Claude/claude_desktop_config.json';
    await m.write(file, BASIC);
    const result = await wrap(m);
    expect(result.files.map((f) => [f.file, f.scope, f.written])).toEqual([[file, 'user', true]]);
    expect(await m.read(file)).toContain('"--agent-id",\n        "filesystem"');
  });

  it('Linux: $XDG_CONFIG_HOME/Claude, else ~/.config/Claude', async () => {
    const m = await machine(LINUX);
    await m.write('/home/jane/.config/Claude/claude_desktop_config.json', BASIC);
    expect((await wrap(m)).files.map((f) => f.file)).toEqual(['/home/jane/.config/Claude/claude_desktop_config.json']);
    const xdg = await machine({...LINUX, env: {...LINUX.env, XDG_CONFIG_HOME: '/srv/jane-config'}});
    await xdg.write('/srv/jane-config/Claude/claude_desktop_config.json', BASIC);
    expect((await wrap(xdg)).files.map((f) => f.file)).toEqual(['/srv/jane-config/Claude/claude_desktop_config.json']);
  });

  it("Windows: the classic %APPDATA% file and the MSIX build's own copy are both governed", async () => {
    const m = await machine(WINDOWS);
    const classic = 'C:\\Users\\jane\\AppData\\Roaming\\Claude\\claude_desktop_config.json';
    const msix = 'C:\\Users\\jane\\AppData\\Local\\Packages\\Claude_pzs8sxrjxfjjc\\LocalCache\\Roaming\\Claude\\claude_desktop_config.json';
    await m.write(classic, fixture('claude-desktop/windows-npx-cmd.json'));
    await m.write(msix, BASIC);
    await m.write(
      'C:\\Users\\jane\\AppData\\Local\\Packages\\Microsoft.WindowsTerminal_8wekyb3d8bbwe\\LocalCache\\Roaming\\Claude\\claude_desktop_config.json',
      '{}',
    );
    const result = await wrap(m);
    expect(result.files.map((f) => [f.file, f.scope])).toEqual([
      [msix, 'msix'],
      [classic, 'user'],
    ]);
    expect(result.files.every((f) => f.written)).toBe(true);
    const wrappedClassic = await m.read(classic);
    expect(wrappedClassic).toContain('"npx.cmd",\r\n');
    expect(wrappedClassic.split('\r\n').length).toBeGreaterThan(20);
    expect(wrappedClassic.replaceAll('\r\n', '')).not.toContain('\n');
  });

  it("Windows without APPDATA/LOCALAPPDATA (a service context) falls back to the profile's AppData", async () => {
    const m = await machine({...WINDOWS, env: {USERPROFILE: 'C:\\Users\\jane'}});
    await m.write('C:\\Users\\jane\\AppData\\Roaming\\Claude\\claude_desktop_config.json', BASIC);
    expect((await wrap(m)).files).toHaveLength(1);
  });

  it('no config: a clear NOT_FOUND naming where it looked; with --all, an empty result', async () => {
    const m = await machine(MAC);
    const error = await failure(wrap(m));
    expect(error.exitCode).toBe(ExitCode.NOT_FOUND);
    expect(error.message).toContain('/Users/jane/Library/Application Support/Claude/claude_desktop_config.json');
    const all = await wrap(m, {all: true});
    expect(all.files).toEqual([]);
    expect(all.searched?.length).toBeGreaterThan(5);
  });
});

describe('every client, --all and --client', () => {
  async function everyClient(): Promise<Machine> {
    const m = await machine({...MAC, cwd: '/Users/jane/src/webapp'});
    await m.write('/Users/jane/Library/Application Support/Claude/claude_desktop_config.json', BASIC);
    await m.write('/Users/jane/.claude.json', fixture('claude-code/claude.json'));
    await m.write('/Users/jane/src/webapp/.mcp.json', fixture('claude-code/.mcp.json'));
    await m.write('/Users/jane/.cursor/mcp.json', fixture('cursor/mcp.json'));
    await m.write('/Users/jane/Library/Application Support/Code/User/mcp.json', fixture('vscode/mcp.json'));
    await m.write('/Users/jane/src/webapp/.vscode/mcp.json', fixture('vscode/mcp.json'));
    await m.write('/Users/jane/.codeium/windsurf/mcp_config.json', fixture('windsurf/mcp_config.json'));
    return m;
  }

  it("--all wraps every client's files and skips what cannot be governed", async () => {
    const m = await everyClient();
    const result = await wrap(m, {all: true});
    expect(result.files.map((f) => `${f.client} ${f.scope}`)).toEqual([
      'claude-desktop user',
      'claude-code user',
      'claude-code project',
      'cursor user',
      'vscode user',
      'vscode workspace',
      'windsurf user',
    ]);
    const actions = Object.fromEntries(
      result.files.flatMap((f) => f.servers.map((s) => [`${f.client}:${s.scope ?? f.scope}:${s.server}`, s.action])),
    );
    expect(actions).toMatchObject({
      'claude-code:local:/Users/jane/src/webapp:postgres': 'wrapped',
      'claude-code:user:sentry': 'skipped',
      'cursor:user:context7': 'skipped',
      'vscode:workspace:github': 'skipped',
      'windsurf:user:figma': 'skipped',
      'windsurf:user:playwright': 'skipped',
      'windsurf:user:github': 'wrapped',
    });
    const validate = await loadValidator('config-change');
    expect(validate(JSON.parse(JSON.stringify(result)))).toBe(true);
    // The VS Code file keeps its comments.
    expect(await m.read('/Users/jane/src/webapp/.vscode/mcp.json')).toContain('// A local stdio server');
    // A second run finds nothing to do.
    const again = await wrap(m, {all: true});
    expect(again.changed).toBe(false);
    expect(again.files.every((f) => !f.written)).toBe(true);
  });

  it('a FILE and --all exclude each other', async () => {
    const m = await everyClient();
    const error = await failure(wrap(m, {all: true, file: '/Users/jane/.cursor/mcp.json'}));
    expect([error.exitCode, error.message]).toEqual([ExitCode.USAGE, '--all and a FILE exclude each other']);
  });

  it('--client picks one client', async () => {
    const m = await everyClient();
    const result = await wrap(m, {client: 'windsurf'});
    expect(result.files.map((f) => f.file)).toEqual(['/Users/jane/.codeium/windsurf/mcp_config.json']);
  });

  it('infers the client of a given file from its name, its directory or its content, and says so', async () => {
    const m = await machine(LINUX);
    const cases: Array<[string, string | Buffer, string]> = [
      ['/tmp/in/mcp_config.json', fixture('windsurf/mcp_config.json'), 'windsurf'],
      ['/tmp/in/.vscode/mcp.json', fixture('vscode/mcp.json'), 'vscode'],
      ['/tmp/in/.cursor/mcp.json', fixture('cursor/mcp.json'), 'cursor'],
      ['/tmp/in/.claude.json', fixture('claude-code/claude.json'), 'claude-code'],
      ['/tmp/in/servers-export.json', '{"servers": {"a": {"type": "stdio", "command": "x"}}}', 'vscode'],
      ['/tmp/in/backup.json', '{"projects": {}, "mcpServers": {}}', 'claude-code'],
      ['/tmp/in/anything.json', '{"mcpServers": {"a": {"command": "x"}}}', 'claude-desktop'],
    ];
    for (const [file, content, client] of cases) {
      await m.write(file, content);
      const result = await wrap(m, {file, dryRun: true});
      expect([file, result.files[0]!.client]).toEqual([file, client]);
      expect(result.files[0]!.inferred).toMatch(/treating .* as a .* config \(from its (file name|content)\); pass --client to choose/);
    }
    const given = await wrap(m, {file: '/tmp/in/anything.json', client: 'cursor', dryRun: true});
    expect(given.files[0]).toMatchObject({client: 'cursor'});
    expect(given.files[0]!.inferred).toBeUndefined();
  });
});

describe('writing safely', () => {
  const FILE = '/Users/jane/Library/Application Support/Claude/claude_desktop_config.json';
  const DIR = '/Users/jane/Library/Application Support/Claude';

  it("keeps the file's mode and owner, and an owner-only backup of the previous content beside it", async () => {
    const m = await machine(MAC);
    await m.write(FILE, BASIC, 0o640);
    const owner = process.getuid?.() === 0 ? {uid: 501, gid: 20} : {uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0};
    await chown(m.real(FILE), owner.uid, owner.gid);
    const result = await wrap(m);
    const backup = result.files[0]!.backup!;
    expect(backup).toMatch(/claude_desktop_config\.json\.thoth-backup-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z$/);
    expect(await m.bytes(backup)).toEqual(BASIC);
    expect(await m.mode(backup)).toBe(0o600);
    expect(await m.mode(FILE)).toBe(0o640);
    for (const file of [FILE, backup]) {
      const info = await stat(m.real(file));
      expect({uid: info.uid, gid: info.gid}).toEqual(owner);
    }
    expect(await m.list(DIR)).toEqual(['claude_desktop_config.json', backup.slice(DIR.length + 1)]);
  });

  it('keeps a bounded number of backups', async () => {
    let clock = Date.parse('2026-01-01T00:00:00Z');
    const m = await machine({...MAC, now: () => new Date((clock += 1000))});
    await m.write(FILE, BASIC);
    for (let i = 0; i < 8; i++) {
      await changeConfigs({action: i % 2 === 0 ? 'wrap' : 'unwrap', host: m.host, settings: WRAP_SETTINGS});
    }
    const backups = (await m.list(DIR)).filter((name) => name.includes('.thoth-backup-'));
    expect(backups).toHaveLength(5);
    expect(backups[4]).toBe('claude_desktop_config.json.thoth-backup-2026-01-01T00-00-08-000Z');
    // The newest backup holds the content before the last write: the wrapped file.
    expect(await m.read(`${DIR}/${backups[4]!}`)).toContain('"--agent-id"');
    expect(await m.bytes(FILE)).toEqual(BASIC);
  });

  it('--dry-run writes nothing and reports the patch', async () => {
    const m = await machine(MAC);
    await m.write(FILE, BASIC);
    const result = await wrap(m, {dryRun: true});
    expect(result.changed).toBe(true);
    expect(result.files[0]!.written).toBe(false);
    expect(result.files[0]!.patch.map((op) => `${op.op} ${op.path}`)).toEqual([
      'replace /mcpServers/filesystem/command',
      'replace /mcpServers/filesystem/args',
      'replace /mcpServers/github/command',
      'replace /mcpServers/github/args',
      'replace /mcpServers/sqlite/command',
      'replace /mcpServers/sqlite/args',
    ]);
    expect(await m.bytes(FILE)).toEqual(BASIC);
    expect(await m.list(DIR)).toEqual(['claude_desktop_config.json']);
  });

  it('--output writes elsewhere and leaves the input alone', async () => {
    const m = await machine(MAC);
    await m.write(FILE, BASIC);
    const result = await wrap(m, {file: FILE, output: '/Users/jane/wrapped.json'});
    expect(result.files[0]).toMatchObject({output: '/Users/jane/wrapped.json', written: true});
    expect(result.files[0]!.backup).toBeUndefined();
    expect(await m.bytes(FILE)).toEqual(BASIC);
    expect(await m.read('/Users/jane/wrapped.json')).toContain('"--enforcement-mode",\n        "block"');
    const again = await wrap(m, {file: FILE, output: '/Users/jane/wrapped.json'});
    expect(again.files[0]!.written).toBe(false);
  });

  it('invalid input: an error with file, line:column and pointer, exit code 3, and the file untouched', async () => {
    const m = await machine(MAC);
    const invalid = fixture('claude-desktop/invalid-schema.json');
    await m.write(FILE, invalid);
    const error = await failure(wrap(m));
    expect(error.message).toBe(`${FILE}:5:7 at /mcpServers/memory/args: must be array`);
    expect(error.exitCode).toBe(ExitCode.INVALID_INPUT);
    expect(await m.bytes(FILE)).toEqual(invalid);
    expect(await m.list(DIR)).toEqual(['claude_desktop_config.json']);
  });

  it('refuses to overwrite a file that changed after it was read (the client wrote it meanwhile)', async () => {
    const m = await machine(MAC);
    await m.write(FILE, BASIC);
    const clientWrite = '{"mcpServers": {}, "writtenBy": "Claude Desktop"}\n';
    const racing: ConfigHost = {
      ...m.host,
      fs: {
        ...m.host.fs,
        async writeFileAtomic(file, data, options) {
          // Claude Desktop saves its settings between thoth's read and thoth's rename.
          await writeFile(m.real(file), clientWrite);
          return m.host.fs.writeFileAtomic(file, data, options);
        },
      },
    };
    const error = await failure(wrap(racing));
    expect(error.code).toBe('CONFIG_CHANGED');
    expect(error.exitCode).toBe(ExitCode.CONFLICT);
    expect(error.message).toBe(`${FILE} changed while thoth was editing it; nothing was written`);
    expect(await m.read(FILE)).toBe(clientWrite);
    expect(await m.list(DIR)).toEqual(['claude_desktop_config.json']);
  });

  it('waits for, then gives up on, another thoth holding the lock', async () => {
    const m = await machine({...MAC, lockTimeoutMs: 300});
    await m.write(FILE, BASIC);
    // A live process (this one) owns the lock: it is not stale.
    await m.write(
      `${FILE}.thoth-lock`,
      JSON.stringify({pid: process.pid, host: (await import('node:os')).hostname(), created: Date.now()}),
    );
    const error = await failure(wrap(m));
    expect(error.code).toBe('LOCK_TIMEOUT');
    expect(error.exitCode).toBe(ExitCode.CONFLICT);
    expect(await m.bytes(FILE)).toEqual(BASIC);
  });

  it('two concurrent runs serialise on the lock: both succeed and the file is wrapped once', async () => {
    const m = await machine(MAC);
    await m.write(FILE, BASIC);
    const [a, b] = await Promise.all([wrap(m), wrap(m)]);
    expect([a.files[0]!.written, b.files[0]!.written].sort()).toEqual([false, true]);
    const once = await m.read(FILE);
    expect(once.match(/"--agent-id"/g)).toHaveLength(3);
  });

  it('with several files, one bad file does not stop the others and is reported with its exit code', async () => {
    const m = await machine(MAC);
    await m.write(FILE, BASIC);
    await m.write('/Users/jane/.cursor/mcp.json', fixture('claude-desktop/invalid-json.json'));
    const before = await m.bytes('/Users/jane/.cursor/mcp.json');
    const result = await wrap(m, {all: true});
    expect(result.files.map((f) => [f.client, f.written, f.error?.exitCode])).toEqual([
      ['claude-desktop', true, undefined],
      ['cursor', false, ExitCode.INVALID_INPUT],
    ]);
    expect(result.files[1]!.error!.message).toBe('/Users/jane/.cursor/mcp.json:5:7 at /mcpServers/filesystem/args: expected ","');
    expect(await m.bytes('/Users/jane/.cursor/mcp.json')).toEqual(before);
  });

  it('edits a symlinked config where it really is and keeps the link', async () => {
    const m = await machine(MAC);
    const real = '/Users/jane/dotfiles/claude/claude_desktop_config.json';
    await m.write(real, BASIC);
    await mkdir(dirname(m.real(FILE)), {recursive: true});
    await symlink(m.real(real), m.real(FILE));
    const result = await wrap(m);
    expect(result.files[0]!.backup).toMatch(/^\/Users\/jane\/dotfiles\/claude\/claude_desktop_config\.json\.thoth-backup-/);
    expect((await lstat(m.real(FILE))).isSymbolicLink()).toBe(true);
    expect(await m.read(real)).toContain('"--agent-id"');
    expect(await m.read(FILE)).toBe(await m.read(real));
  });

  it('a file it may not write: exit 6 naming the file, nothing written', async () => {
    const m = await machine(MAC);
    await m.write(FILE, BASIC);
    const denied: ConfigHost = {
      ...m.host,
      fs: {
        ...m.host.fs,
        writeFileAtomic: async () => Promise.reject(Object.assign(new Error('EACCES: permission denied'), {code: 'EACCES'})),
      },
    };
    const error = await failure(wrap(denied));
    expect([error.code, error.exitCode, error.message]).toEqual([
      'CONFIG_UNWRITABLE',
      ExitCode.SECURITY,
      `${FILE}: permission denied (EACCES); nothing was written`,
    ]);
    expect(await m.bytes(FILE)).toEqual(BASIC);
    expect(await m.list(DIR)).toEqual(['claude_desktop_config.json']);
  });

  it('--output into a directory that does not exist: NOT_FOUND', async () => {
    const m = await machine(MAC);
    await m.write(FILE, BASIC);
    const error = await failure(wrap(m, {file: FILE, output: '/Users/jane/missing/out.json'}));
    expect([error.exitCode, error.message]).toEqual([ExitCode.NOT_FOUND, '/Users/jane/missing: no such directory']);
  });

  it('does not touch a file (not even its mtime) when nothing changes', async () => {
    const m = await machine(MAC);
    await m.write(FILE, BASIC);
    await wrap(m);
    const old = new Date('2020-01-01T00:00:00Z');
    await utimes(m.real(FILE), old, old);
    const again = await wrap(m);
    expect(again.files[0]!.written).toBe(false);
    expect((await stat(m.real(FILE))).mtime.toISOString()).toBe(old.toISOString());
  });
});
