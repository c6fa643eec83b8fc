import {createHash} from 'node:crypto';
import {mkdir, mkdtemp, rm, symlink, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {dirname, join, resolve} from 'node:path';

import {runProgram} from '../registry-package.mjs';
import type {Tree} from './tree.js';
import {escapeXml} from './xar.js';

/**
 * The Windows installer, built with msitools' wixl from a generated WiX source:
 * - per machine, x64, into C:\Program Files\thoth\ (ProgramFiles64Folder), node.exe beside thoth.cmd;
 * - one UpgradeCode for ever (below), a ProductCode derived from it and the version, so a rebuild
 *   of the same version is the same product and every new version a major upgrade (the old one
 *   is removed first; a downgrade is refused);
 * - HKLM\SOFTWARE\Thoth holds InstallDir, ProductCode and Version, so the Intune scripts find the
 *   product without enumerating the Uninstall key.
 * Windows Installer adds the Add/Remove Programs entry itself (DisplayName thoth, Publisher,
 * DisplayVersion); ARPNOMODIFY hides the Change button, there being nothing to change.
 */

export const UPGRADE_CODE = '280460F1-BE1C-4523-8E98-6737F7F49F00';
export const MANUFACTURER = 'thoth';
export const PRODUCT_NAME = 'thoth';

export interface MsiIdentity {
  productCode: string;
  upgradeCode: string;
  productVersion: string;
}

/** MSI versions are major.minor.build with major and minor ≤ 255 and build ≤ 65535, no pre-release. */
export function msiVersion(version: string): string {
  const match = /^(\d+)\.(\d+)\.(\d+)$/.exec(version);
  if (!match || Number(match[1]) > 255 || Number(match[2]) > 255 || Number(match[3]) > 65535) {
    throw new Error(`package.json version ${version} cannot be an MSI ProductVersion (major.minor.patch, major and minor at most 255, patch at most 65535, no pre-release): Windows Installer would not upgrade it reliably`);
  }
  return version;
}

export function msiIdentity(version: string): MsiIdentity {
  const productVersion = msiVersion(version);
  return {productCode: uuidV5(UPGRADE_CODE, `product:${productVersion}:x64`), upgradeCode: UPGRADE_CODE, productVersion};
}

/** RFC 4122 version 5 (SHA-1, namespaced) UUID, upper case as MSI tables write GUIDs. */
export function uuidV5(namespace: string, name: string): string {
  const hash = createHash('sha1').update(Buffer.from(namespace.replace(/-/g, ''), 'hex')).update(name, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex').toUpperCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export interface MsiOptions {
  tree: Tree;
  version: string;
  output: string;
  /** e.g. https://thoth.example (ARPURLINFOABOUT); optional. */
  aboutUrl?: string;
}

/** The identity plus the package code (the MSI file's own GUID, which wixl picks at random). */
export type BuiltMsi = MsiIdentity & {packageCode: string};

export async function buildMsi(options: MsiOptions): Promise<BuiltMsi> {
  const identity = msiIdentity(options.version);
  const work = await mkdtemp(join(tmpdir(), 'thoth-msi-'));
  try {
    // wixl reads Source paths relative to its working directory only: every file is linked (or, for
    // generated text, written) under work/data, by its install path.
    const sources = new Map<string, string>();
    for (const entry of options.tree.entries) {
      if (entry.type === 'symlink') throw new Error(`msi: ${entry.path} is a symlink, which an MSI cannot hold`);
      if (entry.type !== 'file' || !entry.source) continue;
      const staged = join(work, 'data', ...entry.path.split('/'));
      await mkdir(dirname(staged), {recursive: true});
      if ('file' in entry.source) await symlink(resolve(entry.source.file), staged);
      else await writeFile(staged, entry.source.data);
      sources.set(entry.path, `data/${entry.path}`);
    }
    const wxs = join(work, 'thoth.wxs');
    await writeFile(wxs, wixSource(options, identity, sources));
    runProgram('wixl', ['--arch', 'x64', '--output', resolve(options.output), 'thoth.wxs'], {cwd: work});
    const summary = runProgram('msiinfo', ['suminfo', options.output]);
    const packageCode = /^Revision number \(UUID\): \{([0-9A-F-]{36})\}$/im.exec(summary)?.[1];
    if (packageCode === undefined) throw new Error(`msiinfo suminfo ${options.output} shows no package code`);
    return {...identity, packageCode: packageCode.toUpperCase()};
  } finally {
    await rm(work, {recursive: true, force: true});
  }
}

export function wixSource(options: MsiOptions, identity: MsiIdentity, sources: ReadonlyMap<string, string>): string {
  const id = (kind: string, path: string): string => `${kind}_${createHash('sha256').update(path).digest('hex').slice(0, 24)}`;
  const components: string[] = [];
  const render = (dir: string, indent: string): string => {
    let xml = '';
    for (const entry of options.tree.entries) {
      const parent = entry.path.includes('/') ? entry.path.slice(0, entry.path.lastIndexOf('/')) : '';
      if (entry.path === '' || parent !== dir) continue;
      const name = escapeXml(entry.path.slice(entry.path.lastIndexOf('/') + 1));
      if (entry.type === 'directory') {
        xml += `${indent}<Directory Id="${id('d', entry.path)}" Name="${name}">\n${render(entry.path, `${indent}  `)}${indent}</Directory>\n`;
      } else {
        const component = id('c', entry.path);
        components.push(component);
        xml +=
          `${indent}<Component Id="${component}" Guid="${uuidV5(identity.upgradeCode, `component:${entry.path}`)}" Win64="yes">\n` +
          `${indent}  <File Id="${id('f', entry.path)}" Name="${name}" Source="${escapeXml(sources.get(entry.path)!)}" KeyPath="yes"/>\n` +
          `${indent}</Component>\n`;
      }
    }
    return xml;
  };
  const files = render('', '          ');
  components.push('c_registry');
  const about = options.aboutUrl === undefined ? '' : `    <Property Id="ARPURLINFOABOUT" Value="${escapeXml(options.aboutUrl)}"/>\n`;
  return `<?xml version="1.0" encoding="utf-8"?>
<!-- Generated by scripts/dist/msi.ts for wixl (msitools). -->
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="${identity.productCode}" Name="${PRODUCT_NAME}" Language="1033" Version="${identity.productVersion}" Manufacturer="${MANUFACTURER}" UpgradeCode="${identity.upgradeCode}">
    <Package InstallerVersion="500" Compressed="yes" InstallScope="perMachine" Description="thoth ${identity.productVersion}" Manufacturer="${MANUFACTURER}" Comments="MCP governance sidecar with its own Node.js"/>
    <MajorUpgrade DowngradeErrorMessage="A newer version of thoth is already installed."/>
    <Media Id="1" Cabinet="thoth.cab" EmbedCab="yes"/>
    <Property Id="ARPNOMODIFY" Value="1"/>
${about}    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFiles64Folder">
        <Directory Id="INSTALLDIR" Name="thoth">
          <Component Id="c_registry" Guid="${uuidV5(identity.upgradeCode, 'component:registry')}" Win64="yes">
            <RegistryValue Root="HKLM" Key="SOFTWARE\\Thoth" Name="InstallDir" Type="string" Value="[INSTALLDIR]" KeyPath="yes"/>
            <RegistryValue Root="HKLM" Key="SOFTWARE\\Thoth" Name="ProductCode" Type="string" Value="[ProductCode]"/>
            <RegistryValue Root="HKLM" Key="SOFTWARE\\Thoth" Name="Version" Type="string" Value="[ProductVersion]"/>
          </Component>
${files}        </Directory>
      </Directory>
    </Directory>
    <Feature Id="Main" Level="1" Title="thoth">
${components.map((component) => `      <ComponentRef Id="${component}"/>`).join('\n')}
    </Feature>
  </Product>
</Wix>
`;
}
