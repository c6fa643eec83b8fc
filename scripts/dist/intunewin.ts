import {createCipheriv, createHash, createHmac, randomBytes} from 'node:crypto';

import {escapeXml} from './xar.js';
import {buildZip} from './zip.js';
import type {MsiIdentity} from './msi.js';

/**
 * An .intunewin as Microsoft's Win32 Content Prep Tool (IntuneWinAppUtil) writes it: a ZIP with
 *   IntuneWinPackage/Contents/IntunePackage.intunewin   HMAC-SHA256 ‖ IV ‖ AES-256-CBC(zip of the source folder)
 *   IntuneWinPackage/Metadata/Detection.xml             name, setup file, sizes, keys, MAC, SHA-256 of the zip, MSI facts
 * The MAC is HMAC-SHA256 over IV ‖ ciphertext with its own key; FileDigest is the SHA-256 of the
 * unencrypted zip. Intune checks the MAC, decrypts, and compares the digest.
 */

export const TOOL_VERSION = '1.8.6.0';

export interface IntunewinOptions {
  /** The files of the source folder (name → bytes); `setupFile` is one of them. */
  sourceFiles: ReadonlyArray<{name: string; data: Buffer}>;
  setupFile: string;
  msi?: MsiIdentity & {packageCode: string; publisher: string};
  mtime: Date;
}

export interface IntunewinResult {
  archive: Buffer;
  detectionXml: string;
  encryptionInfo: {encryptionKey: Buffer; macKey: Buffer; iv: Buffer; mac: Buffer; fileDigest: Buffer};
  unencryptedSize: number;
}

export function buildIntunewin(options: IntunewinOptions, random: (size: number) => Buffer = randomBytes): IntunewinResult {
  if (!options.sourceFiles.some((file) => file.name === options.setupFile)) throw new Error(`intunewin: the setup file ${options.setupFile} is not in the source folder`);
  const inner = buildZip(options.sourceFiles.map((file) => ({name: file.name, data: file.data})), options.mtime);
  const encryptionKey = random(32);
  const macKey = random(32);
  const iv = random(16);
  const cipher = createCipheriv('aes-256-cbc', encryptionKey, iv);
  const ciphertext = Buffer.concat([cipher.update(inner), cipher.final()]);
  const mac = createHmac('sha256', macKey).update(iv).update(ciphertext).digest();
  const fileDigest = createHash('sha256').update(inner).digest();
  const encrypted = Buffer.concat([mac, iv, ciphertext]);
  const info = {encryptionKey, macKey, iv, mac, fileDigest};
  const detectionXml = detection(options, info, inner.length);
  const archive = buildZip(
    [
      {name: 'IntuneWinPackage/Contents/IntunePackage.intunewin', data: encrypted, method: 'store'},
      {name: 'IntuneWinPackage/Metadata/Detection.xml', data: Buffer.from(detectionXml, 'utf8')},
    ],
    options.mtime,
  );
  return {archive, detectionXml, encryptionInfo: info, unencryptedSize: inner.length};
}

function detection(options: IntunewinOptions, info: IntunewinResult['encryptionInfo'], size: number): string {
  const b64 = (data: Buffer): string => data.toString('base64');
  const msi = options.msi;
  const msiInfo =
    msi === undefined
      ? ''
      : '  <MsiInfo>\n' +
        `    <MsiProductCode>{${msi.productCode}}</MsiProductCode>\n` +
        `    <MsiProductVersion>${escapeXml(msi.productVersion)}</MsiProductVersion>\n` +
        `    <MsiPackageCode>{${msi.packageCode}}</MsiPackageCode>\n` +
        `    <MsiUpgradeCode>{${msi.upgradeCode}}</MsiUpgradeCode>\n` +
        '    <MsiExecutionContext>System</MsiExecutionContext>\n' +
        '    <MsiRequiresLogon>false</MsiRequiresLogon>\n' +
        '    <MsiRequiresReboot>false</MsiRequiresReboot>\n' +
        '    <MsiIsMachineInstall>true</MsiIsMachineInstall>\n' +
        '    <MsiIsUserInstall>false</MsiIsUserInstall>\n' +
        '    <MsiIncludesServices>false</MsiIncludesServices>\n' +
        '    <MsiIncludesODBCDataSource>false</MsiIncludesODBCDataSource>\n' +
        '    <MsiContainsSystemRegistryKeys>true</MsiContainsSystemRegistryKeys>\n' +
        '    <MsiContainsSystemFolders>false</MsiContainsSystemFolders>\n' +
        `    <MsiPublisher>${escapeXml(msi.publisher)}</MsiPublisher>\n` +
        '  </MsiInfo>\n';
  return (
    '<?xml version="1.0" encoding="utf-8"?>\n' +
    `<ApplicationInfo xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ToolVersion="${TOOL_VERSION}">\n` +
    `  <Name>${escapeXml(options.setupFile)}</Name>\n` +
    `  <UnencryptedContentSize>${size}</UnencryptedContentSize>\n` +
    '  <FileName>IntunePackage.intunewin</FileName>\n' +
    `  <SetupFile>${escapeXml(options.setupFile)}</SetupFile>\n` +
    '  <EncryptionInfo>\n' +
    `    <EncryptionKey>${b64(info.encryptionKey)}</EncryptionKey>\n` +
    `    <MacKey>${b64(info.macKey)}</MacKey>\n` +
    `    <InitializationVector>${b64(info.iv)}</InitializationVector>\n` +
    `    <Mac>${b64(info.mac)}</Mac>\n` +
    '    <ProfileIdentifier>ProfileVersion1</ProfileIdentifier>\n' +
    `    <FileDigest>${b64(info.fileDigest)}</FileDigest>\n` +
    '    <FileDigestAlgorithm>SHA256</FileDigestAlgorithm>\n' +
    '  </EncryptionInfo>\n' +
    msiInfo +
    '</ApplicationInfo>\n'
  );
}
