import {createHash, randomBytes} from 'node:crypto';
import {mkdir, readFile, readdir, readlink, stat, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {gunzipSync} from 'node:zlib';
import {describe, expect, it} from 'vitest';

import {buildBom} from '../../scripts/dist/bom.js';
import {cksum} from '../../scripts/dist/cksum.js';
import {darwinPostinstall} from '../../scripts/dist/launchers.js';
import {writeCpio} from '../../scripts/dist/cpio.js';
import {buildIntunewin} from '../../scripts/dist/intunewin.js';
import {msiIdentity, msiVersion, uuidV5} from '../../scripts/dist/msi.js';
import {fileSink} from '../../scripts/dist/sink.js';
import {writeTar} from '../../scripts/dist/tar.js';
import {treeOf, type Tree} from '../../scripts/dist/tree.js';
import {writeXar} from '../../scripts/dist/xar.js';
import {buildZip} from '../../scripts/dist/zip.js';
import {tempDir} from '../helpers/tmp.js';
import {openIntunewin, readBom} from './readers.js';
import {run, skipReason} from './release-helper.js';

/**
 * Each archive writer of scripts/dist against a reader that shares no code with it: GNU tar,
 * GNU cpio, 7-Zip (xar, zip), coreutils cksum, and the format-description readers in readers.ts.
 */

const LONG_DIR = `lib/${'deep-directory-name/'.repeat(5)}`;

async function sampleTree(dir: string): Promise<Tree> {
  const onDisk = join(dir, 'big.bin');
  await writeFile(onDisk, randomBytes(300_000));
  return treeOf(
    [
      {path: 'bin/thoth', mode: 0o755, source: {data: Buffer.from('#!/bin/sh\necho thoth\n')}},
      {path: 'bin/node', mode: 0o755, source: {file: onDisk}},
      {path: 'lib/empty.txt', mode: 0o644, source: {data: Buffer.alloc(0)}},
      {path: `${LONG_DIR}file-with-a-long-name.js`, mode: 0o644, source: {data: Buffer.from('export {};\n')}},
      {path: 'lib/ünïcode.txt', mode: 0o600, source: {data: Buffer.from('é')}},
    ],
    {mtime: 1_700_000_000, symlinks: [{path: 'bin/node-link', target: 'node'}]},
  );
}

async function bytesOf(tree: Tree, path: string): Promise<Buffer> {
  const entry = tree.entries.find((e) => e.path === path)!;
  return 'data' in entry.source! ? entry.source.data : readFile(entry.source!.file);
}

const unixTools = skipReason(['tar', 'cpio', 'cksum']);

describe.skipIf(unixTools !== undefined)('tar, cpio and cksum writers (read back by GNU tar, GNU cpio, coreutils cksum)', () => {
  it('cksum is POSIX cksum', async () => {
    const dir = await tempDir();
    for (const size of [0, 1, 255, 256, 65_537, 1_000_003]) {
      const data = randomBytes(size);
      await writeFile(join(dir, 'data'), data);
      const expected = await run('cksum', [join(dir, 'data')]);
      expect(`${cksum(data)} ${size}`, `size ${size}`).toBe(expected.stdout.split(' ').slice(0, 2).join(' '));
    }
  });

  it('tar: GNU tar lists every entry owned by root with its mode and time, and extracts the same bytes', async () => {
    const dir = await tempDir();
    const tree = await sampleTree(dir);
    const archive = join(dir, 'out.tar.gz');
    const sink = fileSink(archive, {gzip: true});
    await writeTar(tree, sink, {prefix: 'thoth/'});
    await sink.close();
    const listing = await run('tar', ['-tzv', '--numeric-owner', '--full-time', '-f', archive], {env: {...process.env, TZ: 'UTC'}});
    expect(listing.code, listing.stderr).toBe(0);
    const lines = listing.stdout.trim().split('\n');
    expect(lines).toContain('-rwxr-xr-x 0/0          300000 2023-11-14 22:13:20 thoth/bin/node');
    expect(lines).toContain('lrwxr-xr-x 0/0               0 2023-11-14 22:13:20 thoth/bin/node-link -> node');
    expect(lines).toContain(`-rw-r--r-- 0/0              11 2023-11-14 22:13:20 thoth/${LONG_DIR}file-with-a-long-name.js`);
    expect(lines.length).toBe(tree.entries.length);
    const out = join(dir, 'x');
    await mkdir(out);
    expect((await run('tar', ['-xzf', archive, '-C', out])).code).toBe(0);
    for (const entry of tree.entries.filter((e) => e.type === 'file')) {
      expect((await readFile(join(out, 'thoth', entry.path))).equals(await bytesOf(tree, entry.path)), entry.path).toBe(true);
      expect((await stat(join(out, 'thoth', entry.path))).mode & 0o777, entry.path).toBe(entry.mode);
    }
    expect(await readlink(join(out, 'thoth', 'bin', 'node-link'))).toBe('node');
  });

  it('cpio: an odc archive GNU cpio reads (070707, root:root, ./ paths) and extracts byte for byte', async () => {
    const dir = await tempDir();
    const tree = await sampleTree(dir);
    const archive = join(dir, 'Payload.cpio');
    const sink = fileSink(archive);
    await writeCpio(tree, sink);
    await sink.close();
    const bytes = await readFile(archive);
    expect(bytes.subarray(0, 6).toString('latin1')).toBe('070707');
    const listing = await run('sh', ['-c', 'exec cpio -itv --numeric-uid-gid -H odc < "$0"', archive], {env: {...process.env, TZ: 'UTC'}});
    expect(listing.code, listing.stderr).toBe(0);
    const rows = listing.stdout
      .trim()
      .split('\n')
      .map((line) => line.split(/\s+/));
    expect(rows.map((row) => (row.at(-1) === 'node' && row.at(-2) === '->' ? row.at(-3) : row.at(-1)))).toEqual(
      tree.entries.map((e) => (e.path === '' ? '.' : `./${e.path}`)),
    );
    for (const row of rows) expect([row[2], row[3]]).toEqual(['0', '0']);
    const out = join(dir, 'x');
    await mkdir(out);
    expect((await run('sh', ['-c', 'cd "$1" && exec cpio -idm --quiet -H odc < "$0"', archive, out])).code).toBe(0);
    for (const entry of tree.entries.filter((e) => e.type === 'file')) {
      expect((await readFile(join(out, entry.path))).equals(await bytesOf(tree, entry.path)), entry.path).toBe(true);
      expect((await stat(join(out, entry.path))).mode & 0o777, entry.path).toBe(entry.mode);
    }
    expect(await readlink(join(out, 'bin', 'node-link'))).toBe('node');
  });

  it('Bom: a BOMStore whose Paths tree lists every path with type, mode, root owner, size and the cksum of its bytes', async () => {
    const dir = await tempDir();
    const tree = await sampleTree(dir);
    const bom = await buildBom(tree);
    expect(bom.subarray(0, 8).toString('latin1')).toBe('BOMStore');
    const read = readBom(bom);
    expect(read.named).toEqual(['BomInfo', 'Paths', 'HLIndex', 'VIndex', 'Size64']);
    expect(read.paths.map((p) => p.path).sort()).toEqual(tree.entries.map((e) => (e.path === '' ? '.' : `./${e.path}`)).sort());
    for (const entry of tree.entries) {
      const found = read.paths.find((p) => p.path === (entry.path === '' ? '.' : `./${entry.path}`))!;
      const typeBits = {file: 0o100000, directory: 0o040000, symlink: 0o120000}[entry.type];
      expect(found, entry.path).toMatchObject({type: entry.type, mode: typeBits | entry.mode, uid: 0, gid: 0});
      if (entry.type === 'file') {
        await writeFile(join(dir, 'check'), await bytesOf(tree, entry.path));
        const expected = (await run('cksum', [join(dir, 'check')])).stdout.split(' ');
        expect([found.checksum, found.size], entry.path).toEqual([Number(expected[0]), Number(expected[1])]);
      }
    }
    expect(read.paths.find((p) => p.path === './bin/node-link')).toMatchObject({
      linkTarget: 'node',
      size: 4,
      checksum: cksum(Buffer.from('node')),
    });
  });

  it('Bom: more paths than one tree node holds (256) are split into chained nodes, all of them read back', async () => {
    const files = Array.from({length: 700}, (_, i) => ({
      path: `lib/f${String(i).padStart(4, '0')}.js`,
      mode: 0o644,
      source: {data: Buffer.from(String(i))},
    }));
    const tree = await treeOf(files, {mtime: 1});
    const read = readBom(await buildBom(tree));
    expect(read.leaves).toBe(3);
    expect(read.paths.map((p) => p.path).sort()).toEqual(tree.entries.map((e) => (e.path === '' ? '.' : `./${e.path}`)).sort());
  });
});

const sevenZip = skipReason(['7z']);

describe.skipIf(sevenZip !== undefined)('xar and zip writers (read back by 7-Zip)', () => {
  it('xar: 7-Zip lists the files, checks the TOC and every file checksum, and extracts the same bytes', async () => {
    const dir = await tempDir();
    const payload = join(dir, 'Payload');
    await writeFile(payload, randomBytes(200_000));
    const archive = join(dir, 'test.pkg');
    const sink = fileSink(archive);
    await writeXar(
      [
        {path: 'Distribution', source: {data: Buffer.from('<installer-gui-script/>')}},
        {path: 'thoth.pkg/Bom', source: {data: Buffer.from('BOMStore')}},
        {path: 'thoth.pkg/Payload', source: {file: payload}},
      ],
      sink,
      {mtime: 1_700_000_000},
    );
    await sink.close();
    const bytes = await readFile(archive);
    expect(bytes.subarray(0, 4).toString('latin1')).toBe('xar!');
    const tested = await run('7z', ['t', archive]);
    expect(tested.code, tested.stdout).toBe(0);
    expect(tested.stdout).toContain('Everything is Ok');
    expect(tested.stdout).not.toMatch(/CRC|WARNING|ERROR/i);
    const listing = await run('7z', ['l', '-slt', archive]);
    expect(listing.stdout).toContain('Method = SHA1');
    const out = join(dir, 'x');
    expect((await run('7z', ['x', '-y', `-o${out}`, archive])).code).toBe(0);
    expect((await readFile(join(out, 'thoth.pkg', 'Payload'))).equals(await readFile(payload))).toBe(true);
    expect(await readFile(join(out, 'Distribution'), 'utf8')).toBe('<installer-gui-script/>');

    // The checksums are real: one flipped byte in the Payload, and 7-Zip says so.
    const damaged = Buffer.from(bytes);
    damaged[damaged.length - 1000] = damaged[damaged.length - 1000]! ^ 0xff;
    await writeFile(join(dir, 'damaged.pkg'), damaged);
    const broken = await run('7z', ['t', join(dir, 'damaged.pkg')]);
    expect(broken.code).not.toBe(0);
    expect(broken.stdout + broken.stderr).toContain('CRC Failed : thoth.pkg/Payload');
  });

  it('zip: 7-Zip tests and extracts stored and deflated entries with UTF-8 names', async () => {
    const dir = await tempDir();
    const big = randomBytes(100_000);
    const archive = join(dir, 'a.zip');
    await writeFile(
      archive,
      buildZip(
        [
          {name: 'Contents/stored.bin', data: big, method: 'store'},
          {name: 'Metadata/ünï.xml', data: Buffer.from('<x/>'.repeat(1000))},
        ],
        new Date('2026-01-02T03:04:06Z'),
      ),
    );
    const tested = await run('7z', ['t', archive]);
    expect(tested.stdout).toContain('Everything is Ok');
    const listing = await run('7z', ['l', '-slt', archive]);
    expect(listing.stdout).toMatch(/Path = Contents\/stored.bin[\s\S]*?Method = Store/);
    expect(listing.stdout).toMatch(/Path = Metadata\/ünï.xml[\s\S]*?Method = Deflate/);
    const out = join(dir, 'x');
    expect((await run('7z', ['x', '-y', `-o${out}`, archive])).code).toBe(0);
    expect((await readFile(join(out, 'Contents', 'stored.bin'))).equals(big)).toBe(true);
    expect(await readFile(join(out, 'Metadata', 'ünï.xml'), 'utf8')).toBe('<x/>'.repeat(1000));
  });

  it('.intunewin: opened as Intune opens it (MAC, AES-256-CBC, SHA-256 digest), the zip inside is the source folder', async () => {
    const dir = await tempDir();
    const msi = randomBytes(50_000);
    const script = Buffer.from('exit 0\r\n');
    const identity = {...msiIdentity('1.2.3'), packageCode: '11111111-2222-3333-4444-555555555555', publisher: 'thoth'};
    const built = buildIntunewin({
      sourceFiles: [
        {name: 'thoth-1.2.3-win-x64.msi', data: msi},
        {name: 'uninstall.ps1', data: script},
      ],
      setupFile: 'thoth-1.2.3-win-x64.msi',
      msi: identity,
      mtime: new Date('2026-01-01T00:00:00Z'),
    });
    const file = join(dir, 'thoth.intunewin');
    await writeFile(file, built.archive);
    const opened = await openIntunewin(file, join(dir, 'open'));
    expect(opened.field('SetupFile')).toBe('thoth-1.2.3-win-x64.msi');
    expect(opened.field('FileName')).toBe('IntunePackage.intunewin');
    expect(opened.field('ProfileIdentifier')).toBe('ProfileVersion1');
    expect(opened.field('MsiProductCode')).toBe(`{${identity.productCode}}`);
    expect(opened.field('MsiUpgradeCode')).toBe(`{${identity.upgradeCode}}`);
    expect(opened.field('MsiProductVersion')).toBe('1.2.3');
    expect(opened.field('MsiIsMachineInstall')).toBe('true');
    expect(opened.detectionXml.startsWith('<?xml version="1.0" encoding="utf-8"?>\n<ApplicationInfo ')).toBe(true);
    await writeFile(join(dir, 'inner.zip'), opened.content);
    const out = join(dir, 'inner');
    expect((await run('7z', ['x', '-y', `-o${out}`, join(dir, 'inner.zip')])).code).toBe(0);
    expect((await readdir(out)).sort()).toEqual(['thoth-1.2.3-win-x64.msi', 'uninstall.ps1']);
    expect((await readFile(join(out, 'thoth-1.2.3-win-x64.msi'))).equals(msi)).toBe(true);
    // Keys are fresh for every package.
    const again = buildIntunewin({sourceFiles: [{name: 'a.msi', data: msi}], setupFile: 'a.msi', mtime: new Date()});
    expect(again.encryptionInfo.encryptionKey.equals(built.encryptionInfo.encryptionKey)).toBe(false);
  });

  it('.intunewin: a flipped ciphertext byte fails the MAC check, as Intune would refuse it', async () => {
    const dir = await tempDir();
    const built = buildIntunewin({
      sourceFiles: [{name: 'a.msi', data: randomBytes(10_000)}],
      setupFile: 'a.msi',
      mtime: new Date('2026-01-01T00:00:00Z'),
    });
    const original = join(dir, 'ok.intunewin');
    await writeFile(original, built.archive);
    const opened = await openIntunewin(original, join(dir, 'ok'));
    const tampered = Buffer.from(opened.encrypted);
    tampered[100] = tampered[100]! ^ 0x01;
    const archive = buildZip(
      [
        {name: 'IntuneWinPackage/Contents/IntunePackage.intunewin', data: tampered, method: 'store'},
        {name: 'IntuneWinPackage/Metadata/Detection.xml', data: Buffer.from(opened.detectionXml)},
      ],
      new Date('2026-01-01T00:00:00Z'),
    );
    await writeFile(join(dir, 'bad.intunewin'), archive);
    await expect(openIntunewin(join(dir, 'bad.intunewin'), join(dir, 'bad'))).rejects.toThrow('the MAC does not match');
  });
});

describe('MSI identity', () => {
  it("uuidV5 is RFC 4122 version 5 (the RFC's DNS example)", () => {
    expect(uuidV5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'www.example.com')).toBe('2ED6657D-E927-568B-95E1-2665A8AEA6A2');
  });

  it('one product code per version, the same for every build of that version', () => {
    expect(msiIdentity('0.1.0').productCode).toBe(msiIdentity('0.1.0').productCode);
    expect(msiIdentity('0.1.0').productCode).not.toBe(msiIdentity('0.1.1').productCode);
    expect(msiIdentity('0.1.0').upgradeCode).toBe(msiIdentity('9.9.9').upgradeCode);
  });

  it.each(['0.2.0-rc.1', '256.0.0', '1.256.0', '1.2.65536', '1.2'])('refuses %s, which Windows Installer cannot order', (version) => {
    expect(() => msiVersion(version)).toThrow(/cannot be an MSI ProductVersion/);
  });

  it('keeps major.minor.patch as it is', () => {
    expect(msiVersion('255.255.65535')).toBe('255.255.65535');
  });
});

// The sha256 helper the release tests use, checked once against coreutils.
describe.skipIf(skipReason(['sha256sum']) !== undefined)('test helpers', () => {
  it('gunzip and sha256 of a written gzip agree with coreutils', async () => {
    const dir = await tempDir();
    const sink = fileSink(join(dir, 'a.gz'), {gzip: true});
    await sink.write(Buffer.from('hello'));
    await sink.close();
    const plain = gunzipSync(await readFile(join(dir, 'a.gz')));
    expect(plain.toString()).toBe('hello');
    const expected = (await run('sha256sum', [join(dir, 'a.gz')])).stdout.split(' ')[0];
    expect(
      createHash('sha256')
        .update(await readFile(join(dir, 'a.gz')))
        .digest('hex'),
    ).toBe(expected);
  });
});

describe('the macOS postinstall (run here against a directory standing in for /)', () => {
  it('links /usr/local/bin/thoth, makes /Library/Logs/thoth, and removes what an earlier version left in lib/ (and only that)', async () => {
    const root = await tempDir();
    const prefix = join(root, 'usr', 'local', 'thoth');
    await mkdir(join(prefix, 'lib', 'chunks'), {recursive: true});
    await mkdir(join(prefix, 'lib', 'old-dir'), {recursive: true});
    await mkdir(join(prefix, 'lib', 'bin'), {recursive: true});
    await mkdir(join(prefix, 'bin'), {recursive: true});
    await writeFile(join(prefix, 'bin', 'thoth'), '#!/bin/sh\n');
    for (const file of ['bin/run.js', 'chunks/chunk-NEW.js', 'chunks/chunk-OLD.js', 'old-dir/gone.js', 'package.json'])
      await writeFile(join(prefix, 'lib', ...file.split('/')), file);
    await writeFile(join(prefix, 'lib', 'FILES'), './FILES\n./bin/run.js\n./chunks/chunk-NEW.js\n./package.json\n');
    const script = join(root, 'postinstall');
    await writeFile(script, darwinPostinstall('9.9.9', prefix, root), {mode: 0o755});
    const result = await run(script, ['/tmp/thoth.pkg', prefix, '/', '/'], {env: {PATH: '/nonexistent'}});
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(await readlink(join(root, 'usr', 'local', 'bin', 'thoth'))).toBe(join(prefix, 'bin', 'thoth'));
    expect((await stat(join(root, 'Library', 'Logs', 'thoth'))).isDirectory()).toBe(true);
    const left = (await run('find', ['.', '-type', 'f'], {cwd: join(prefix, 'lib')})).stdout.trim().split('\n').sort();
    expect(left).toEqual(['./FILES', './bin/run.js', './chunks/chunk-NEW.js', './package.json']);
    expect((await readdir(join(prefix, 'lib'))).sort()).toEqual(['FILES', 'bin', 'chunks', 'package.json']);
    // Run again (a reinstall of the same version): nothing more goes.
    expect((await run(script, [], {env: {PATH: '/nonexistent'}})).code).toBe(0);
    expect((await run('find', ['.', '-type', 'f'], {cwd: join(prefix, 'lib')})).stdout.trim().split('\n').sort()).toEqual(left);
  });

  it('is what the package carries, with the real system paths', () => {
    const text = darwinPostinstall('1.0.0', '/usr/local/thoth');
    expect(text).toContain('/bin/ln -sfn "$prefix/bin/thoth" /usr/local/bin/thoth || exit 1');
    expect(text).toContain('/bin/mkdir -p /usr/local/bin /Library/Logs/thoth || exit 1');
  });
});
