import {mkdir, realpath, rename, symlink, unlink, writeFile} from 'node:fs/promises';
import {dirname, join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {LinkMemo, NODE_FILE_LINKS, resolveLinks, type FileLinks} from '../../src/policy/links.js';
import {PathReader} from '../../src/policy/path-reader.js';
import type {PathEnvironment} from '../../src/policy/paths.js';
import {tempDir} from '../helpers/tmp.js';

/**
 * A home with a credentials directory and a workspace full of links:
 *   .ssh/id_rsa, .ssh/keys/                       the target
 *   work/notes.md                                  an ordinary file
 *   work/link -> ~/.ssh                            a link to a directory (absolute)
 *   work/key -> ../.ssh/id_rsa                     a link to a file (relative)
 *   work/a -> b, work/b -> link                    a chain
 *   work/loop1 -> loop2, work/loop2 -> loop1       a loop
 *   work/dangling -> ~/.ssh/authorized_keys        a link to a file that does not exist yet
 *   work/sub -> ~/.ssh/keys                        `sub/..` is ~/.ssh for the kernel
 */
async function linkedHome(): Promise<string> {
  const home = await realpath(await tempDir());
  await mkdir(join(home, '.ssh/keys'), {recursive: true});
  await writeFile(join(home, '.ssh/id_rsa'), 'KEY');
  await mkdir(join(home, 'work'));
  await writeFile(join(home, 'work/notes.md'), 'notes');
  await symlink(join(home, '.ssh'), join(home, 'work/link'));
  await symlink('../.ssh/id_rsa', join(home, 'work/key'));
  await symlink('b', join(home, 'work/a'));
  await symlink('link', join(home, 'work/b'));
  await symlink('loop2', join(home, 'work/loop1'));
  await symlink('loop1', join(home, 'work/loop2'));
  await symlink(join(home, '.ssh/authorized_keys'), join(home, 'work/dangling'));
  await symlink(join(home, '.ssh/keys'), join(home, 'work/sub'));
  return home;
}

const resolve = (path: string) => resolveLinks(path, 'posix', NODE_FILE_LINKS);

describe('resolveLinks on a real file system', () => {
  it('follows links to directories and files, and chains of links', async () => {
    const home = await linkedHome();
    expect(resolve(`${home}/work/notes.md`)).toEqual({ok: true, path: `${home}/work/notes.md`});
    expect(resolve(`${home}/work/link/id_rsa`)).toEqual({ok: true, path: `${home}/.ssh/id_rsa`});
    expect(resolve(`${home}/work/key`)).toEqual({ok: true, path: `${home}/.ssh/id_rsa`});
    expect(resolve(`${home}/work/a/id_rsa`)).toEqual({ok: true, path: `${home}/.ssh/id_rsa`});
    expect(resolve(`${home}//work/./link/`)).toEqual({ok: true, path: `${home}/.ssh`});
  });

  it('resolves a path that does not exist yet through its existing parents', async () => {
    const home = await linkedHome();
    expect(resolve(`${home}/work/new.txt`)).toEqual({ok: true, path: `${home}/work/new.txt`});
    expect(resolve(`${home}/work/link/new/dir/file`)).toEqual({ok: true, path: `${home}/.ssh/new/dir/file`});
    // A name under a file: the file exists, nothing under it does.
    expect(resolve(`${home}/work/key/x`)).toEqual({ok: true, path: `${home}/.ssh/id_rsa/x`});
    // A name too long for any file system cannot exist: it is a missing tail, not an error.
    const long = 'x'.repeat(300);
    expect(resolve(`${home}/work/link/${long}`)).toEqual({ok: true, path: `${home}/.ssh/${long}`});
  });

  it('follows a dangling link to where a write would create the file', async () => {
    const home = await linkedHome();
    expect(resolve(`${home}/work/dangling`)).toEqual({ok: true, path: `${home}/.ssh/authorized_keys`});
    // A relative dangling link into a directory that does not exist either, and a chain ending in one.
    await symlink('../.ssh/new/deeper', join(home, 'work/relative-dangling'));
    await symlink('relative-dangling', join(home, 'work/to-dangling'));
    expect(resolve(`${home}/work/relative-dangling/x`)).toEqual({ok: true, path: `${home}/.ssh/new/deeper/x`});
    expect(resolve(`${home}/work/to-dangling`)).toEqual({ok: true, path: `${home}/.ssh/new/deeper`});
  });

  it('applies .. after a link to the directory the link leads to, as the kernel does', async () => {
    const home = await linkedHome();
    // Lexically `work/sub/../id_rsa` is `work/id_rsa`; the kernel reaches ~/.ssh/keys/.. = ~/.ssh.
    expect(resolve(`${home}/work/sub/../id_rsa`)).toEqual({ok: true, path: `${home}/.ssh/id_rsa`});
    expect(resolve(`${home}/work/link/../work/notes.md`)).toEqual({ok: true, path: `${home}/work/notes.md`});
    expect(resolve(`${home}/work/link/../../../../../..`)).toEqual({ok: true, path: '/'});
    // After a name that does not exist the kernel would fail; the rest is taken lexically.
    expect(resolve(`${home}/work/missing/../notes.md`)).toEqual({ok: true, path: `${home}/work/notes.md`});
  });

  it('reports a loop as an error (ELOOP), directly and beyond a missing name', async () => {
    const home = await linkedHome();
    expect(resolve(`${home}/work/loop1`)).toEqual({ok: false, code: 'ELOOP'});
    expect(resolve(`${home}/work/loop1/x/y`)).toEqual({ok: false, code: 'ELOOP'});
  });

  it('sees a link change at once (nothing is cached between resolutions)', async () => {
    const home = await linkedHome();
    await mkdir(join(home, 'work/plain'));
    expect(resolve(`${home}/work/plain/id_rsa`)).toEqual({ok: true, path: `${home}/work/plain/id_rsa`});
    await rename(join(home, 'work/plain'), join(home, 'work/plain-old'));
    await symlink(join(home, '.ssh'), join(home, 'work/plain'));
    expect(resolve(`${home}/work/plain/id_rsa`)).toEqual({ok: true, path: `${home}/.ssh/id_rsa`});
    await unlink(join(home, 'work/plain'));
    expect(resolve(`${home}/work/plain/id_rsa`)).toEqual({ok: true, path: `${home}/work/plain/id_rsa`});
  });
});

/**
 * A file system described by a table: `dirs` exist, `links` maps a path to its target, `errors`
 * makes `exists` and `realpath` of a path fail with a code. Records every question.
 */
function fakeLinks(layout: {
  dirs: string[];
  links?: Record<string, string>;
  errors?: Record<string, string>;
}): FileLinks & {calls: string[]} {
  const calls: string[] = [];
  const fail = (code: string): never => {
    throw Object.assign(new Error(code), {code});
  };
  const fs: FileLinks & {calls: string[]} = {
    calls,
    exists(path) {
      calls.push(`exists ${path}`);
      const error = layout.errors?.[path];
      if (error) fail(error);
      const target = layout.links?.[path];
      return target !== undefined ? fs.exists(target) : layout.dirs.includes(path);
    },
    entry(path) {
      calls.push(`entry ${path}`);
      const error = layout.errors?.[path];
      // lstat meets what stat meets, except a missing name (ENOENT: "nothing there").
      if (error && error !== 'ENOENT') fail(error);
      return layout.links?.[path] !== undefined ? 'link' : layout.dirs.includes(path) ? 'other' : undefined;
    },
    realpath(path) {
      calls.push(`realpath ${path}`);
      const error = layout.errors?.[path];
      if (error) fail(error);
      const target = layout.links?.[path];
      if (target !== undefined) return fs.realpath(target);
      return layout.dirs.includes(path) ? path : fail('ENOENT');
    },
    readlink(path) {
      calls.push(`readlink ${path}`);
      return layout.links?.[path] ?? fail('EINVAL');
    },
  };
  return fs;
}

describe('resolveLinks with an injected file system', () => {
  it('returns errors other than "absent" (EACCES, EIO) for the caller to treat restrictively', () => {
    const io = fakeLinks({dirs: ['/', '/home'], errors: {'/home/locked/x': 'EACCES', '/home/locked': 'EACCES', '/home/bad': 'EIO'}});
    expect(resolveLinks('/home/locked/x', 'posix', io)).toEqual({ok: false, code: 'EACCES'});
    expect(resolveLinks('/home/bad', 'posix', io)).toEqual({ok: false, code: 'EIO'});
    // ENOTDIR, ENAMETOOLONG and EINVAL only say the name is not there.
    const absent = fakeLinks({dirs: ['/', '/home'], errors: {'/home/file/x': 'ENOTDIR', '/home/bad:name': 'EINVAL'}});
    expect(resolveLinks('/home/file/x', 'posix', absent)).toEqual({ok: true, path: '/home/file/x'});
    expect(resolveLinks('/home/bad:name', 'posix', absent)).toEqual({ok: true, path: '/home/bad:name'});
  });

  it('asks each question once per memo, the name then its directory, and never throws for a missing name', () => {
    const io = fakeLinks({dirs: ['/', '/a', '/a/b', '/a/b/c', '/a/b/c/old']});
    const memo = new LinkMemo();
    // A new name: what it is (nothing), then where its directory really is.
    expect(resolveLinks('/a/b/c/new', 'posix', io, memo)).toEqual({ok: true, path: '/a/b/c/new'});
    expect(io.calls).toEqual(['entry /a/b/c/new', 'realpath /a/b/c']);
    // Another name in the same directory costs one question.
    resolveLinks('/a/b/c/other', 'posix', io, memo);
    expect(io.calls.slice(2)).toEqual(['entry /a/b/c/other']);
    // Something that exists: one realpath.
    expect(resolveLinks('/a/b/c/old', 'posix', io, memo)).toEqual({ok: true, path: '/a/b/c/old'});
    expect(io.calls.slice(3)).toEqual(['entry /a/b/c/old', 'realpath /a/b/c/old']);
    // A missing directory: the walk goes back from the end to the longest part that exists.
    expect(resolveLinks('/a/b/x/y/z', 'posix', io, memo)).toEqual({ok: true, path: '/a/b/x/y/z'});
    expect(io.calls.slice(5)).toEqual([
      'entry /a/b/x/y/z',
      'realpath /a/b/x/y',
      'exists /a/b/x',
      'exists /a',
      'exists /a/b',
      'realpath /a/b',
      'entry /a/b/x',
    ]);
    // A name longer than any file system allows is not even asked about.
    const long = 'x'.repeat(256);
    expect(resolveLinks(`/a/${long}/y`, 'posix', io, memo)).toEqual({ok: true, path: `/a/${long}/y`});
    expect(io.calls.slice(12)).toEqual(['realpath /a']);
  });

  it('finds the longest existing part of a path of thousands of names in a few dozen questions', () => {
    const dirs = ['/'];
    for (let depth = 1; depth <= 1500; depth++) dirs.push(`/${Array.from({length: depth}, () => 'd').join('/')}`);
    const io = fakeLinks({dirs});
    const path = `/${Array.from({length: 2500}, () => 'd').join('/')}`;
    expect(resolveLinks(path, 'posix', io)).toEqual({ok: true, path});
    expect(io.calls.length).toBeLessThan(40);
  });

  it('gives up after 40 links (a loop of dangling links)', () => {
    const io = fakeLinks({dirs: ['/', '/d'], links: {'/d/x': '/d/y', '/d/y': '/d/x'}, errors: {'/d/x': 'ENOENT', '/d/y': 'ENOENT'}});
    expect(resolveLinks('/d/x', 'posix', io)).toEqual({ok: false, code: 'ELOOP'});
    // Each link was read once: the other 39 hops reused the answers.
    expect(io.calls.filter((call) => call.startsWith('readlink'))).toEqual(['readlink /d/x', 'readlink /d/y']);
  });

  it('speaks win32: drive and UNC roots, backslash answers, \\\\?\\ prefixes', () => {
    const table: Record<string, string> = {
      'C:/': 'C:\\',
      'C:/Users/Ann/work/link/id_rsa': '\\\\?\\C:\\Users\\Ann\\.ssh\\id_rsa',
      '//server/share/': '\\\\server\\share\\',
      '//server/share/docs': '\\\\?\\UNC\\server\\share\\docs',
    };
    const io: FileLinks = {
      exists: (path) => table[path] !== undefined,
      entry: (path) => (table[path] !== undefined ? 'other' : undefined),
      realpath(path) {
        const answer = table[path];
        if (answer === undefined) throw Object.assign(new Error('ENOENT'), {code: 'ENOENT'});
        return answer;
      },
      readlink: () => {
        throw Object.assign(new Error('EINVAL'), {code: 'EINVAL'});
      },
    };
    expect(resolveLinks('C:/Users/Ann/work/link/id_rsa', 'win32', io)).toEqual({ok: true, path: 'C:/Users/Ann/.ssh/id_rsa'});
    expect(resolveLinks('//server/share/docs/new.txt', 'win32', io)).toEqual({ok: true, path: '//server/share/docs/new.txt'});
    expect(resolveLinks('relative/path', 'win32', io)).toEqual({ok: false, code: 'EINVAL'});
  });

  it('follows a win32 link whose target is relative to its drive (\\\\dir)', () => {
    const io: FileLinks = {
      exists: (path) => ['C:/', 'C:/work', 'D:/'].includes(path),
      entry: (path) => (path === 'C:/work/j' ? 'link' : undefined),
      realpath: (path) => {
        if (path === 'C:/' || path === 'C:/work') return path.replaceAll('/', '\\');
        throw Object.assign(new Error('ENOENT'), {code: 'ENOENT'});
      },
      readlink: () => '\\secrets\\new',
    };
    expect(resolveLinks('C:/work/j/x', 'win32', io)).toEqual({ok: true, path: 'C:/secrets/new/x'});
  });
});

describe('PathReader', () => {
  const envFor = (home: string, extra: Partial<PathEnvironment> = {}): PathEnvironment => ({
    home,
    cwd: `${home}/work`,
    flavour: 'posix',
    caseInsensitive: false,
    links: NODE_FILE_LINKS,
    ...extra,
  });

  it('reads an argument as written and where it leads, and notes the difference for the trace', async () => {
    const home = await linkedHome();
    const reader = new PathReader(envFor(home));
    expect(reader.read('~/work/notes.md')).toEqual({
      lexical: `${home}/work/notes.md`,
      resolved: [],
      elsewhere: [],
      forms: [`${home}/work/notes.md`],
    });
    // Relative: against the working directory and against home (where ~/link does not exist).
    expect(reader.read('link/id_rsa')).toEqual({
      lexical: `${home}/work/link/id_rsa`,
      resolved: [`${home}/.ssh/id_rsa`],
      elsewhere: [`${home}/link/id_rsa`],
      forms: [`${home}/work/link/id_rsa`, `${home}/.ssh/id_rsa`, `${home}/link/id_rsa`],
    });
    expect(reader.read(`file://${home}/work/key`)).toEqual({
      lexical: `${home}/work/key`,
      resolved: [`${home}/.ssh/id_rsa`],
      elsewhere: [],
      forms: [`${home}/work/key`, `${home}/.ssh/id_rsa`],
    });
    // Another user's home: relative as a server reads it, and the sibling of this home as a shell does.
    expect(reader.read('~nobody/x')?.forms).toEqual([`${home}/work/~nobody/x`, `${home}/~nobody/x`, `${dirname(home)}/nobody/x`]);
    expect(reader.read('~nobody/x\u0000')).toBeUndefined();
    expect(reader.takeNotes()).toEqual([
      `symlink: "link/id_rsa" → ${home}/.ssh/id_rsa`,
      `symlink: "file://${home}/work/key" → ${home}/.ssh/id_rsa`,
    ]);
    expect(reader.takeNotes()).toEqual([]);
  });

  it("keeps both readings of .. after a link: the kernel's and a lexical-first server's", async () => {
    const home = await linkedHome();
    const reader = new PathReader(envFor(home));
    // Kernel: ~/.ssh/keys/.. + id_rsa. Lexical first: ~/work/id_rsa, which is no link.
    expect(reader.read('~/work/sub/../id_rsa')).toMatchObject({lexical: `${home}/work/id_rsa`, resolved: [`${home}/.ssh/id_rsa`]});
    // Kernel: fails at `missing`. Lexical first (as the filesystem server does): ~/work/link/id_rsa → ~/.ssh/id_rsa.
    expect(reader.read('~/work/missing/../link/id_rsa')).toMatchObject({
      lexical: `${home}/work/link/id_rsa`,
      resolved: [`${home}/.ssh/id_rsa`],
    });
  });

  it('marks a path whose links cannot be followed', async () => {
    const home = await linkedHome();
    const reader = new PathReader(envFor(home));
    expect(reader.read('~/work/loop1/x')).toMatchObject({lexical: `${home}/work/loop1/x`, resolved: [], unresolvable: 'ELOOP'});
    expect(reader.takeNotes()).toEqual([
      'symlink: "~/work/loop1/x" cannot be resolved (ELOOP); path rules read it in the restrictive direction',
    ]);
  });

  it('folds case after resolving, so the file system is asked with the spelling given', async () => {
    const home = await linkedHome();
    await mkdir(join(home, 'Work2'));
    await symlink(join(home, '.ssh'), join(home, 'Work2/Link'));
    const reader = new PathReader(envFor(home, {caseInsensitive: true}));
    const folded = home.toLowerCase();
    expect(reader.read('~/Work2/Link/ID_RSA')).toMatchObject({lexical: `${folded}/work2/link/id_rsa`, resolved: [`${folded}/.ssh/id_rsa`]});
  });

  it('follows no links without a file system (lexical only)', async () => {
    const home = await linkedHome();
    const reader = new PathReader(envFor(home, {links: undefined}));
    expect(reader.followsLinks).toBe(false);
    expect(reader.read('~/work/link/id_rsa')).toEqual({
      lexical: `${home}/work/link/id_rsa`,
      resolved: [],
      elsewhere: [],
      forms: [`${home}/work/link/id_rsa`],
    });
  });

  it('reads each argument once per decision; a new reader sees a changed link', async () => {
    const home = await linkedHome();
    let calls = 0;
    const counting: FileLinks = {
      exists: (path) => (calls++, NODE_FILE_LINKS.exists(path)),
      entry: (path) => (calls++, NODE_FILE_LINKS.entry(path)),
      realpath: (path) => (calls++, NODE_FILE_LINKS.realpath(path)),
      readlink: (path) => (calls++, NODE_FILE_LINKS.readlink(path)),
    };
    const reader = new PathReader(envFor(home, {links: counting}));
    reader.read('~/work/link/id_rsa');
    const afterFirst = calls;
    reader.read('~/work/link/id_rsa');
    expect(calls).toBe(afterFirst);
    await unlink(join(home, 'work/link'));
    await mkdir(join(home, 'work/link'));
    expect(reader.read('~/work/link/id_rsa')?.resolved).toEqual([`${home}/.ssh/id_rsa`]);
    expect(new PathReader(envFor(home, {links: counting})).read('~/work/link/id_rsa')?.resolved).toEqual([]);
  });
});
