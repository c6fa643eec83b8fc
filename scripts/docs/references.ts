import {readFile} from 'node:fs/promises';
import {join} from 'node:path';

import {SETTINGS} from '../../src/settings/definitions.js';
import {renderCommandsReference, type OclifManifest, type Topics} from './commands-reference.js';
import {renderSettingsReference, type SettingsTable} from './settings-reference.js';

export interface GeneratedFile {
  /** Relative to the repository root, with forward slashes. */
  path: string;
  text: string;
}

export const COMMANDS_REFERENCE = 'docs/reference/commands.md';
export const SETTINGS_REFERENCE = 'docs/reference/settings.md';

/**
 * The generated references, from their only two sources: the oclif manifest that the build
 * writes at the repository root (commands, flags, args; topics from package.json, where oclif
 * keeps them) and the settings table. Nothing else is read, so that commands can move between
 * folders without the generator following them.
 */
export async function renderReferences(root: string): Promise<GeneratedFile[]> {
  const manifestPath = join(root, 'oclif.manifest.json');
  let manifest: OclifManifest;
  try {
    manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as OclifManifest;
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read (${String(error)})`;
    throw new Error(`${manifestPath} ${reason}: run \`node scripts/build.mjs\` first, which writes it`);
  }
  const packageJson = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {oclif?: {topics?: Topics}};
  return [
    {path: COMMANDS_REFERENCE, text: renderCommandsReference(manifest, packageJson.oclif?.topics ?? {})},
    {path: SETTINGS_REFERENCE, text: renderSettingsReference(SETTINGS as unknown as SettingsTable)},
  ];
}
