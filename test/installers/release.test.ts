import {copyFile, mkdir, readFile, readdir, stat, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {gunzipSync} from 'node:zlib';
import {beforeAll, describe, expect, it} from 'vitest';

import {UPGRADE_CODE, msiIdentity} from '../../scripts/dist/msi.js';
import {signMsi} from '../../scripts/dist/sign.js';
import {REPO_ROOT} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';
import {openIntunewin, readBom} from './readers.js';
import {release, run, sha256, skipReason, type Release} from './release-helper.js';

/**
 * The artefacts `npm run dist` writes, each opened by a reader that is not ours: coreutils
 * (SHA256SUMS), GNU tar, 7-Zip (xar: the .pkg) and GNU cpio (its Payload and Scripts),
 * msitools (msiinfo, msiextract), osslsigncode (Authenticode), and Intune's own procedure for the
 * .intunewin. The Node binaries inside must be the pinned ones, byte for byte.
 */

const pins = JSON.parse(await readFile(join(REPO_ROOT, 'scripts', 'dist', 'node-pins.json'), 'utf8')) as {
  version: string;
  targets: Record<string, {sha256: string; size: number}>;
  license: {sha256: string};
};

const BUILD_TIMEOUT = 15 * 60_000;
let built: Release;

const macSkip = skipReason(['7z', 'cpio', 'tar', 'sha256sum']);
const windowsSkip = skipReason(['wixl', 'msiinfo', 'msiextract', 'osslsigncode', '7z', 'openssl']);

beforeAll(async () => {
  built = await release();
}, BUILD_TIMEOUT);

describe.skipIf(macSkip !== undefined)('npm run dist: the release directory', () => {
  it('holds the artefacts and a SHA256SUMS that `sha256sum -c` accepts', async () => {
    const names = (await readdir(built.dir)).filter((name) => !name.startsWith('.')).sort();
    const expected = [
      `thoth-${built.version}-darwin-arm64.pkg`,
      `thoth-${built.version}-darwin-x64.pkg`,
      `thoth-${built.version}-linux-x64.tar.gz`,
    ];
    if (built.msi) expected.push(`thoth-${built.version}-win-x64.intunewin`, `thoth-${built.version}-win-x64.msi`);
    expect(names).toEqual(['SHA256SUMS', ...expected].sort());
    const check = await run('sha256sum', ['-c', 'SHA256SUMS'], {cwd: built.dir});
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stdout.trim().split('\n').sort()).toEqual(expected.map((name) => `${name}: OK`).sort());
  });

  it('linux-x64.tar.gz: thoth/bin/thoth, the pinned Node as thoth/bin/node, the bundle in thoth/lib, all owned by root', async () => {
    const listing = await run('tar', ['-tzv', '--numeric-owner', '-f', built.linux]);
    expect(listing.code, listing.stderr).toBe(0);
    const rows = listing.stdout
      .trim()
      .split('\n')
      .map((line) => line.split(/\s+/));
    const byPath = new Map(rows.map((row) => [row.at(-1)!, row]));
    expect(rows.every((row) => row.at(-1)!.startsWith('thoth/') && row[1] === '0/0')).toBe(true);
    expect(byPath.get('thoth/bin/thoth')?.[0]).toBe('-rwxr-xr-x');
    expect(byPath.get('thoth/bin/node')?.slice(0, 3)).toEqual(['-rwxr-xr-x', '0/0', String(pins.targets['linux-x64']!.size)]);
    for (const path of [
      'thoth/lib/bin/run.js',
      'thoth/lib/package.json',
      'thoth/lib/oclif.manifest.json',
      'thoth/lib/lib-url.js',
      'thoth/lib/THIRD-PARTY-LICENSES.txt',
      'thoth/lib/FILES',
      'thoth/licenses/node.txt',
    ]) {
      expect(byPath.has(path), path).toBe(true);
    }
    const dir = await tempDir();
    expect((await run('tar', ['-xzf', built.linux, '-C', dir])).code).toBe(0);
    expect(await sha256(join(dir, 'thoth', 'bin', 'node'))).toBe(pins.targets['linux-x64']!.sha256);
    expect(await sha256(join(dir, 'thoth', 'licenses', 'node.txt'))).toBe(pins.license.sha256);
    const libPackage = JSON.parse(await readFile(join(dir, 'thoth', 'lib', 'package.json'), 'utf8')) as {version: string; type: string};
    expect(libPackage).toMatchObject({version: built.version, type: 'module'});
    // Only the production dependencies of the lockfile are in the bundle (no typescript, no vitest...).
    const notices = await readFile(join(dir, 'thoth', 'lib', 'THIRD-PARTY-LICENSES.txt'), 'utf8');
    expect(notices).toMatch(/^@oclif\/core@/m);
    expect(notices).not.toMatch(/^(typescript|vitest|esbuild|@modelcontextprotocol\/sdk)@/m);
  });

  it.each([
    ['darwin-arm64', 'arm64'],
    ['darwin-x64', 'x86_64'],
  ] as const)(
    '%s.pkg: a flat package 7-Zip opens (Distribution + thoth.pkg with PackageInfo, Bom, Payload, Scripts)',
    async (target, architecture) => {
      const pkg = target === 'darwin-arm64' ? built.darwinArm64 : built.darwinX64;
      const dir = await tempDir();
      const tested = await run('7z', ['t', pkg]);
      expect(tested.stdout).toContain('Everything is Ok');
      expect(tested.stdout).not.toMatch(/CRC|WARNING/i);
      const listing = await run('7z', ['l', '-slt', pkg]);
      const paths = [...listing.stdout.matchAll(/^Path = (.*)$/gm)].map((match) => match[1]).slice(1);
      expect(paths.sort()).toEqual(
        [
          'Distribution',
          'thoth.pkg',
          'thoth.pkg/Bom',
          'thoth.pkg/PackageInfo',
          'thoth.pkg/Payload',
          'thoth.pkg/Scripts',
          '[TOC].xml',
        ].sort(),
      );
      expect((await run('7z', ['x', '-y', `-o${dir}`, pkg])).code).toBe(0);

      const distribution = await readFile(join(dir, 'Distribution'), 'utf8');
      expect(distribution).toContain(`hostArchitectures="${architecture}"`);
      expect(distribution).toContain('<os-version min="11.0"/>');
      expect(distribution).toContain(`<pkg-ref id="io.thoth.agent" version="${built.version}" onConclusion="none"`);
      expect(distribution).toMatch(/>#thoth\.pkg<\/pkg-ref>/);
      const packageInfo = await readFile(join(dir, 'thoth.pkg', 'PackageInfo'), 'utf8');
      expect(packageInfo).toMatch(/identifier="io.thoth.agent"/);
      expect(packageInfo).toMatch(new RegExp(`version="${built.version.replaceAll('.', '\\.')}"`));
      expect(packageInfo).toMatch(/install-location="\/usr\/local\/thoth"/);
      expect(packageInfo).toMatch(/auth="root"/);
      expect(packageInfo).toContain('<postinstall file="./postinstall"/>');

      // The Payload: gzip of an odc cpio, everything root:wheel (0:0), read by GNU cpio.
      const payload = gunzipSync(await readFile(join(dir, 'thoth.pkg', 'Payload')));
      expect(payload.subarray(0, 6).toString('latin1')).toBe('070707');
      await writeFile(join(dir, 'payload.cpio'), payload);
      const cpio = await run('sh', ['-c', 'exec cpio -itv --numeric-uid-gid -H odc < "$0"', join(dir, 'payload.cpio')]);
      expect(cpio.code, cpio.stderr).toBe(0);
      const rows = cpio.stdout
        .trim()
        .split('\n')
        .map((line) => line.split(/\s+/));
      expect(rows.every((row) => row[2] === '0' && row[3] === '0')).toBe(true);
      const cpioPaths = rows.map((row) => row.at(-1)!);
      expect(cpioPaths).toEqual(
        expect.arrayContaining([
          '.',
          './bin',
          './bin/node',
          './bin/thoth',
          './lib/bin/run.js',
          './lib/package.json',
          './licenses/node.txt',
        ]),
      );
      const payloadDir = join(dir, 'payload');
      await mkdir(payloadDir);
      expect((await run('sh', ['-c', 'cd "$1" && exec cpio -idm --quiet -H odc < "$0"', join(dir, 'payload.cpio'), payloadDir])).code).toBe(
        0,
      );
      const node = join(payloadDir, 'bin', 'node');
      expect(await sha256(node)).toBe(pins.targets[target]!.sha256);
      expect((await stat(node)).mode & 0o777).toBe(0o755);
      // Untouched Mach-O: the 64-bit magic, the CPU type, and a code signature load command still there.
      const machO = await readFile(node);
      expect(machO.readUInt32LE(0)).toBe(0xfeedfacf);
      expect(machO.readUInt32LE(4)).toBe(target === 'darwin-arm64' ? 0x0100000c : 0x01000007);
      expect(loadCommands(machO)).toContain(0x1d);
      expect(await readFile(join(payloadDir, 'bin', 'thoth'), 'utf8')).toContain(
        'exec /usr/local/thoth/bin/node /usr/local/thoth/lib/bin/run.js "$@"',
      );

      // The Bom lists exactly the Payload's paths, root-owned, with the sizes cpio extracted.
      const bom = await readFile(join(dir, 'thoth.pkg', 'Bom'));
      expect(bom.subarray(0, 8).toString('latin1')).toBe('BOMStore');
      const read = readBom(bom);
      expect(read.paths.map((p) => p.path).sort()).toEqual([...cpioPaths].sort());
      expect(read.paths.every((p) => p.uid === 0 && p.gid === 0)).toBe(true);
      expect(read.paths.find((p) => p.path === './bin/node')).toMatchObject({
        type: 'file',
        mode: 0o100755,
        size: pins.targets[target]!.size,
      });
      expect(packageInfo).toContain(`numberOfFiles="${cpioPaths.length}"`);

      // Scripts: postinstall, executable, creating the /usr/local/bin/thoth launcher.
      const scripts = gunzipSync(await readFile(join(dir, 'thoth.pkg', 'Scripts')));
      await writeFile(join(dir, 'scripts.cpio'), scripts);
      const scriptsDir = join(dir, 'scripts');
      await mkdir(scriptsDir);
      expect((await run('sh', ['-c', 'cd "$1" && exec cpio -idm --quiet -H odc < "$0"', join(dir, 'scripts.cpio'), scriptsDir])).code).toBe(
        0,
      );
      expect((await stat(join(scriptsDir, 'postinstall'))).mode & 0o777).toBe(0o755);
      expect(await readFile(join(scriptsDir, 'postinstall'), 'utf8')).toContain('/bin/ln -sfn "$prefix/bin/thoth" /usr/local/bin/thoth');
    },
  );
});

/** The load command types of a 64-bit Mach-O file. */
function loadCommands(file: Buffer): number[] {
  const count = file.readUInt32LE(16);
  const types: number[] = [];
  let offset = 32;
  for (let i = 0; i < count; i++) {
    types.push(file.readUInt32LE(offset));
    offset += file.readUInt32LE(offset + 4);
  }
  return types;
}

/** An msiinfo table export as rows of columns (the first three lines are the column names, types and table name). */
async function msiTable(msi: string, table: string): Promise<string[][]> {
  const exported = await run('msiinfo', ['export', msi, table]);
  expect(exported.code, exported.stderr).toBe(0);
  return exported.stdout
    .split(/\r?\n/)
    .slice(3)
    .filter((line) => line !== '')
    .map((line) => line.split('\t'));
}

describe.skipIf(windowsSkip !== undefined)('npm run dist: the Windows installer', () => {
  it('win-x64.msi: per machine, x64, C:\\Program Files\\thoth, fixed UpgradeCode, major upgrade, Add/Remove Programs entry (msiinfo)', async () => {
    const msi = built.msi!;
    const identity = msiIdentity(built.version);
    const properties = Object.fromEntries((await msiTable(msi, 'Property')).map(([name, value]) => [name, value]));
    expect(properties).toMatchObject({
      UpgradeCode: `{${UPGRADE_CODE}}`,
      ProductCode: `{${identity.productCode}}`,
      ProductVersion: built.version,
      ProductName: 'thoth',
      Manufacturer: 'thoth',
      ALLUSERS: '1',
      ARPNOMODIFY: '1',
    });
    const summary = await run('msiinfo', ['suminfo', msi]);
    expect(summary.stdout).toMatch(/^Template: x64;1033$/m);
    const directories = await msiTable(msi, 'Directory');
    expect(directories).toContainEqual(['INSTALLDIR', 'ProgramFiles64Folder', 'thoth']);
    expect(directories).toContainEqual(['ProgramFiles64Folder', 'TARGETDIR', '.']);
    const components = await msiTable(msi, 'Component');
    expect(components.length).toBeGreaterThan(100);
    // 256 = msidbComponentAttributes64bit: every component goes to the 64-bit locations.
    expect(components.filter((row) => (Number(row[3]) & 256) !== 256)).toEqual([]);
    const upgrades = await msiTable(msi, 'Upgrade');
    expect(upgrades).toContainEqual([`{${UPGRADE_CODE}}`, '', built.version, '', '1', '', 'WIX_UPGRADE_DETECTED']);
    expect(upgrades).toContainEqual([`{${UPGRADE_CODE}}`, built.version, '', '', '2', '', 'WIX_DOWNGRADE_DETECTED']);
    expect((await msiTable(msi, 'LaunchCondition'))[0]?.[0]).toBe('NOT WIX_DOWNGRADE_DETECTED');
    const sequence = (await msiTable(msi, 'InstallExecuteSequence')).map((row) => row[0]);
    expect(sequence).toContain('RemoveExistingProducts');
    const registry = await msiTable(msi, 'Registry');
    expect(registry.map((row) => [row[1], row[2], row[3], row[4]])).toEqual(
      expect.arrayContaining([
        ['2', 'SOFTWARE\\Thoth', 'InstallDir', '[INSTALLDIR]'],
        ['2', 'SOFTWARE\\Thoth', 'ProductCode', '[ProductCode]'],
        ['2', 'SOFTWARE\\Thoth', 'Version', '[ProductVersion]'],
      ]),
    );
  });

  it('win-x64.msi: msiextract gives node.exe (pinned, its OpenJS Authenticode signature intact) beside thoth.cmd, and the same bundle as the tarball', async () => {
    const dir = await tempDir();
    const extracted = await run('msiextract', ['-C', dir, built.msi!]);
    expect(extracted.code, extracted.stderr).toBe(0);
    const root = join(dir, 'thoth');
    expect((await readdir(root)).sort()).toEqual(['lib', 'licenses', 'node.exe', 'thoth.cmd']);
    const nodeExe = join(root, 'node.exe');
    expect(await sha256(nodeExe)).toBe(pins.targets['win-x64']!.sha256);
    const verify = await run('osslsigncode', ['verify', '-in', nodeExe]);
    const current = /Current message digest\s*:\s*([0-9A-F]+)/.exec(verify.stdout)?.[1];
    const calculated = /Calculated message digest\s*:\s*([0-9A-F]+)/.exec(verify.stdout)?.[1];
    expect(current).toBeDefined();
    expect(calculated).toBe(current);
    expect(verify.stdout).toContain('O=OpenJS Foundation');
    expect(await readFile(join(root, 'thoth.cmd'), 'utf8')).toContain('@"%~dp0node.exe" "%~dp0lib\\bin\\run.js" %*\r\n');
    const tar = await tempDir();
    await run('tar', ['-xzf', built.linux, '-C', tar]);
    for (const file of ['bin/run.js', 'package.json', 'oclif.manifest.json', 'FILES']) {
      expect(await readFile(join(root, 'lib', ...file.split('/')), 'utf8'), file).toBe(
        await readFile(join(tar, 'thoth', 'lib', ...file.split('/')), 'utf8'),
      );
    }
  });

  it('win-x64.intunewin: Intune opens it (MAC, decrypt, SHA-256 digest) and finds the MSI, the Intune scripts and the MSI facts Intune detects by', async () => {
    const dir = await tempDir();
    const opened = await openIntunewin(built.intunewin!, join(dir, 'open'));
    const msiName = `thoth-${built.version}-win-x64.msi`;
    expect(opened.field('SetupFile')).toBe(msiName);
    expect(opened.field('Name')).toBe(msiName);
    await writeFile(join(dir, 'content.zip'), opened.content);
    const content = join(dir, 'content');
    expect((await run('7z', ['x', '-y', `-o${content}`, join(dir, 'content.zip')])).code).toBe(0);
    expect((await readdir(content)).sort()).toEqual([msiName, 'install.ps1', 'uninstall.ps1'].sort());
    expect(await sha256(join(content, msiName))).toBe(await sha256(built.msi!));
    for (const script of ['install.ps1', 'uninstall.ps1']) {
      expect(await readFile(join(content, script), 'utf8'), script).toBe(await readFile(join(REPO_ROOT, 'mdm', 'intune', script), 'utf8'));
    }
    const properties = Object.fromEntries((await msiTable(built.msi!, 'Property')).map(([name, value]) => [name, value]));
    expect(opened.field('MsiProductCode')).toBe(properties['ProductCode']);
    expect(opened.field('MsiUpgradeCode')).toBe(properties['UpgradeCode']);
    expect(opened.field('MsiProductVersion')).toBe(properties['ProductVersion']);
    const packageCode = /^Revision number \(UUID\): (\{[0-9A-F-]+\})$/m.exec((await run('msiinfo', ['suminfo', built.msi!])).stdout)?.[1];
    expect(opened.field('MsiPackageCode')).toBe(packageCode);
    expect(opened.field('MsiExecutionContext')).toBe('System');
  });

  it('signs the MSI when given an identity (osslsigncode), and osslsigncode verifies it against that certificate', async () => {
    const dir = await tempDir();
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    const p12 = join(dir, 'identity.p12');
    const password = join(dir, 'password.txt');
    await writeFile(password, 'correct horse battery staple\n', {mode: 0o600});
    const subject = '/CN=thoth test code signing';
    const made = await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '2',
      '-subj',
      subject,
      '-addext',
      'extendedKeyUsage=codeSigning',
    ]);
    expect(made.code, made.stderr).toBe(0);
    const exported = await run('openssl', ['pkcs12', '-export', '-inkey', key, '-in', cert, '-out', p12, '-passout', `file:${password}`]);
    expect(exported.code, exported.stderr).toBe(0);
    const msi = join(dir, 'thoth.msi');
    await copyFile(built.msi!, msi);
    const unsigned = await run('osslsigncode', ['verify', '-in', msi]);
    expect(unsigned.code).not.toBe(0);
    await signMsi(msi, {pkcs12: p12, passwordFile: password}, `thoth ${built.version}`);
    const verified = await run('osslsigncode', ['verify', '-in', msi, '-CAfile', cert]);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toContain('Signature verification: ok');
    expect(verified.stdout).toContain('CN=thoth test code signing');
    // Still the same installer: msiinfo reads the signed file.
    expect((await msiTable(msi, 'Property')).find(([name]) => name === 'ProductVersion')?.[1]).toBe(built.version);
  });
});

describe('npm run dist: usage', () => {
  it('refuses an unknown target and a half-given signing identity with exit 2 and one line saying which', async () => {
    const tsx = join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
    const main = join(REPO_ROOT, 'scripts', 'dist', 'main.ts');
    const unknown = await run(process.execPath, [tsx, main, '--targets', 'linux-x64,solaris-sparc']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.split('\n')[0]).toBe(
      'dist: --targets: unknown target "solaris-sparc" (known: linux-x64, darwin-arm64, darwin-x64, win-x64)',
    );
    const half = await run(process.execPath, [tsx, main, '--sign-pkcs12', 'x.p12']);
    expect(half.code).toBe(2);
    expect(half.stderr.split('\n')[0]).toBe('dist: --sign-pkcs12 and --sign-password-file go together');
  });
});
