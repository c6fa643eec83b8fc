import {mkdtemp, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {buildBom} from './bom.js';
import {writeCpio} from './cpio.js';
import {fileSink} from './sink.js';
import {treeOf, type Tree} from './tree.js';
import {escapeXml, writeXar} from './xar.js';

/**
 * A macOS flat product archive, as productbuild writes one: a xar holding `Distribution` and one
 * component package `thoth.pkg/` with PackageInfo, Bom, Payload (gzip of an odc cpio, root:wheel)
 * and Scripts (the same, with postinstall). It installs the payload into `installLocation` on the
 * boot volume, for the one CPU architecture it was built for, on macOS 11 or later (Node 22's floor).
 */

export const PKG_IDENTIFIER = 'io.thoth.agent';
/** Installer's name for the architectures: arm64, x86_64. */
export type MacArchitecture = 'arm64' | 'x86_64';

export interface PkgOptions {
  payload: Tree;
  /** File name → text of the install scripts (postinstall ...), mode 0755. */
  scripts: Record<string, string>;
  version: string;
  installLocation: string;
  architecture: MacArchitecture;
  output: string;
}

export async function buildPkg(options: PkgOptions): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'thoth-pkg-'));
  try {
    const payload = join(work, 'Payload');
    let sink = fileSink(payload, {gzip: true});
    await writeCpio(options.payload, sink);
    await sink.close();

    const scriptsTree = await treeOf(
      Object.entries(options.scripts).map(([name, text]) => ({path: name, mode: 0o755, source: {data: Buffer.from(text, 'utf8')}})),
      {mtime: options.payload.mtime},
    );
    const scripts = join(work, 'Scripts');
    sink = fileSink(scripts, {gzip: true});
    await writeCpio(scriptsTree, sink);
    await sink.close();

    const bom = join(work, 'Bom');
    await writeFile(bom, await buildBom(options.payload));

    const installKBytes = Math.ceil(options.payload.entries.reduce((sum, entry) => sum + (entry.type === 'file' ? entry.size : 0), 0) / 1024);
    const packageInfo = packageInfoXml({...options, numberOfFiles: options.payload.entries.length, installKBytes, scriptNames: Object.keys(options.scripts)});
    const distribution = distributionXml({...options, installKBytes});
    sink = fileSink(options.output);
    await writeXar(
      [
        {path: 'Distribution', source: {data: Buffer.from(distribution, 'utf8')}},
        {path: 'thoth.pkg/PackageInfo', source: {data: Buffer.from(packageInfo, 'utf8')}},
        {path: 'thoth.pkg/Bom', source: {file: bom}},
        {path: 'thoth.pkg/Payload', source: {file: payload}},
        {path: 'thoth.pkg/Scripts', source: {file: scripts}},
      ],
      sink,
      {mtime: options.payload.mtime},
    );
    await sink.close();
  } finally {
    await rm(work, {recursive: true, force: true});
  }
}

export function packageInfoXml(options: {version: string; installLocation: string; numberOfFiles: number; installKBytes: number; scriptNames: string[]}): string {
  const scripts = options.scriptNames.map((name) => `        <${name} file="./${escapeXml(name)}"/>\n`).join('');
  return `<?xml version="1.0" encoding="utf-8"?>
<pkg-info overwrite-permissions="true" relocatable="false" identifier="${PKG_IDENTIFIER}" postinstall-action="none" version="${escapeXml(options.version)}" format-version="2" generator-version="thoth scripts/dist" install-location="${escapeXml(options.installLocation)}" auth="root">
    <payload numberOfFiles="${options.numberOfFiles}" installKBytes="${options.installKBytes}"/>
    <bundle-version/>
    <upgrade-bundle/>
    <update-bundle/>
    <atomic-update-bundle/>
    <strict-identifier/>
    <relocate/>
    <scripts>
${scripts}    </scripts>
</pkg-info>
`;
}

export function distributionXml(options: {version: string; architecture: MacArchitecture; installKBytes: number}): string {
  const version = escapeXml(options.version);
  return `<?xml version="1.0" encoding="utf-8"?>
<installer-gui-script minSpecVersion="2">
    <title>thoth ${version}</title>
    <pkg-ref id="${PKG_IDENTIFIER}"/>
    <options customize="never" require-scripts="false" hostArchitectures="${options.architecture}"/>
    <domains enable_anywhere="false" enable_currentUserHome="false" enable_localSystem="true"/>
    <volume-check>
        <allowed-os-versions>
            <os-version min="11.0"/>
        </allowed-os-versions>
    </volume-check>
    <choices-outline>
        <line choice="default">
            <line choice="${PKG_IDENTIFIER}"/>
        </line>
    </choices-outline>
    <choice id="default"/>
    <choice id="${PKG_IDENTIFIER}" visible="false">
        <pkg-ref id="${PKG_IDENTIFIER}"/>
    </choice>
    <pkg-ref id="${PKG_IDENTIFIER}" version="${version}" onConclusion="none" installKBytes="${options.installKBytes}">#thoth.pkg</pkg-ref>
</installer-gui-script>
`;
}
