import fc from 'fast-check';
import {describe, expect, it} from 'vitest';

import {NODE_FILE_LINKS} from '../../src/policy/links.js';
import {isAnchored, isWithin, normalisePath, normalisePolicyPath, pathEnvironment, type PathEnvironment} from '../../src/policy/paths.js';

const posix: PathEnvironment = {home: '/home/ann', cwd: '/srv/app', flavour: 'posix', caseInsensitive: false};
const mac: PathEnvironment = {home: '/Users/Ann', cwd: '/', flavour: 'posix', caseInsensitive: true};
const windows: PathEnvironment = {home: 'C:\\Users\\Ann', cwd: 'C:\\work', flavour: 'win32', caseInsensitive: true};

describe('normalisePath', () => {
  it.each([
    ['/etc/passwd', '/etc/passwd'],
    ['/etc//passwd', '/etc/passwd'],
    ['/etc/./passwd', '/etc/passwd'],
    ['/srv/app/../../etc/passwd', '/etc/passwd'],
    ['/../../../etc/passwd', '/etc/passwd'],
    ['//etc///passwd/', '/etc/passwd'],
    ['~', '/home/ann'],
    ['~/.ssh/id_rsa', '/home/ann/.ssh/id_rsa'],
    ['~/work/../.ssh/id_rsa', '/home/ann/.ssh/id_rsa'],
    ['notes.txt', '/srv/app/notes.txt'],
    ['../../home/ann/.ssh', '/home/ann/.ssh'],
    ['file:///etc/passwd', '/etc/passwd'],
    ['file:///home/ann/%2Essh/id_rsa', '/home/ann/.ssh/id_rsa'],
    ['FILE://localhost/etc/shadow', '/etc/shadow'],
    ['/Home/Ann/.SSH', '/Home/Ann/.SSH'],
  ])('posix: %s → %s', (raw, expected) => {
    expect(normalisePath(raw, posix)).toBe(expected);
  });

  it.each([
    ['/etc/passwd\u0000.txt'],
    ['~root/.ssh/id_rsa'],
    ['file://evil.example/etc/passwd'],
    ['file:///etc/%00passwd'],
    ['file:///etc/%E0%A4%A'],
    [''],
  ])('posix: %j cannot be interpreted', (raw) => {
    expect(normalisePath(raw, posix)).toBeUndefined();
  });

  it.each([
    ['/Users/Ann/.SSH/ID_RSA', '/users/ann/.ssh/id_rsa'],
    ['~/.Ssh', '/users/ann/.ssh'],
    // NFD (decomposed, as HFS+ stores names) and NFC spellings of "é" are the same file.
    ['/Users/Ann/Re\u0301sume\u0301.txt', '/users/ann/r\u00e9sum\u00e9.txt'],
  ])('case-insensitive (macOS): %s → %s', (raw, expected) => {
    expect(normalisePath(raw, mac)).toBe(expected);
  });

  it.each([
    ['C:\\Users\\Ann\\.ssh\\id_rsa', 'c:/users/ann/.ssh/id_rsa'],
    ['c:/users/ann/.SSH/ID_RSA', 'c:/users/ann/.ssh/id_rsa'],
    ['C:\\work\\..\\Users\\Ann\\.ssh', 'c:/users/ann/.ssh'],
    ['C:\\Users\\\\Ann\\.ssh', 'c:/users/ann/.ssh'],
    ['~\\.ssh\\id_rsa', 'c:/users/ann/.ssh/id_rsa'],
    ['~/.ssh/id_rsa', 'c:/users/ann/.ssh/id_rsa'],
    ['notes.txt', 'c:/work/notes.txt'],
    // Windows ignores trailing dots and spaces in each component.
    ['C:\\Users\\Ann\\.ssh.\\id_rsa. ', 'c:/users/ann/.ssh/id_rsa'],
    ['\\\\?\\C:\\Users\\Ann\\.ssh', 'c:/users/ann/.ssh'],
    ['\\\\server\\share\\secrets', '//server/share/secrets'],
    ['file:///C:/Users/Ann/.ssh/id_rsa', 'c:/users/ann/.ssh/id_rsa'],
  ])('win32: %s → %s', (raw, expected) => {
    expect(normalisePath(raw, windows)).toBe(expected);
  });

  it('defaults to case folding on macOS and Windows only', () => {
    expect(pathEnvironment('auto', {}, 'darwin').caseInsensitive).toBe(true);
    expect(pathEnvironment('auto', {}, 'win32').caseInsensitive).toBe(true);
    expect(pathEnvironment('auto', {}, 'linux').caseInsensitive).toBe(false);
    expect(pathEnvironment(true, {}, 'linux').caseInsensitive).toBe(true);
    expect(pathEnvironment(false, {}, 'darwin').caseInsensitive).toBe(false);
    expect(pathEnvironment('auto', {}, 'win32').flavour).toBe('win32');
  });

  it("follows links on the real file system by default, only for paths of the host's flavour", () => {
    const host = process.platform === 'win32' ? 'win32' : 'linux';
    const foreign = process.platform === 'win32' ? 'linux' : 'win32';
    expect(pathEnvironment('auto', {}, host).links).toBe(NODE_FILE_LINKS);
    expect(pathEnvironment('auto', {}, foreign).links).toBeUndefined();
    expect(pathEnvironment('auto', {links: undefined}, host).links).toBeUndefined();
  });

  it('is idempotent and always absolute (property)', () => {
    const segment = fc.constantFrom('a', 'B', '..', '.', '', '.ssh', 'x y', '~', 'é');
    fc.assert(
      fc.property(fc.array(segment, {maxLength: 12}), fc.boolean(), (segments, leadingSlash) => {
        const raw = `${leadingSlash ? '/' : ''}${segments.join('/')}` || '.';
        for (const env of [posix, mac]) {
          const once = normalisePath(raw, env);
          if (once === undefined) continue;
          expect(once.startsWith('/')).toBe(true);
          expect(once.split('/')).not.toContain('..');
          expect(normalisePath(once, env)).toBe(once);
        }
      }),
    );
  });

  it('cannot be escaped from a directory by dot segments unless it really leaves it (property)', () => {
    const segment = fc.constantFrom('a', 'b', '..', '.', '');
    fc.assert(
      fc.property(fc.array(segment, {maxLength: 10}), (segments) => {
        const normalised = normalisePath(`/root/jail/${segments.join('/')}`, posix)!;
        // Walk the segments by hand: inside the jail iff the depth never drops below it at the end.
        const stack = ['root', 'jail'];
        for (const s of segments) {
          if (s === '..') stack.pop();
          else if (s !== '.' && s !== '') stack.push(s);
        }
        const expected = `/${stack.join('/')}`;
        expect(normalised).toBe(expected === '/' ? '/' : expected);
        expect(isWithin(normalised, '/root/jail')).toBe(stack.length >= 2 && stack[0] === 'root' && stack[1] === 'jail');
      }),
    );
  });
});

describe('policy paths', () => {
  it('must be anchored', () => {
    expect(isAnchored('/etc', 'posix')).toBe(true);
    expect(isAnchored('~/work', 'posix')).toBe(true);
    expect(isAnchored('work', 'posix')).toBe(false);
    expect(isAnchored('C:\\work', 'win32')).toBe(true);
    expect(isAnchored('\\\\server\\share', 'win32')).toBe(true);
    expect(isAnchored('work\\x', 'win32')).toBe(false);
  });

  it('keeps glob characters while normalising separators, ~ and case', () => {
    expect(normalisePolicyPath('~/.ssh/**', posix, true)).toBe('/home/ann/.ssh/**');
    expect(normalisePolicyPath('~\\.SSH\\**', windows, true)).toBe('c:/users/ann/.ssh/**');
    expect(normalisePolicyPath('/etc//*.conf', posix, true)).toBe('/etc/*.conf');
    expect(normalisePolicyPath('relative/**', posix, true)).toBeUndefined();
  });

  it('isWithin compares whole components', () => {
    expect(isWithin('/home/ann/work', '/home/ann/work')).toBe(true);
    expect(isWithin('/home/ann/work/a', '/home/ann/work')).toBe(true);
    expect(isWithin('/home/ann/workshop', '/home/ann/work')).toBe(false);
    expect(isWithin('/anything', '/')).toBe(true);
  });
});
