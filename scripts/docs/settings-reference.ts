import type {DefaultContext, SettingDefinition, SettingKey} from '../../src/settings/definitions.js';
import {cell, code, escapeMarkdown, generatedNotice, headingAnchor} from './markdown.js';

export type SettingsTable = Readonly<Record<string, SettingDefinition<unknown>>>;

/**
 * Defaults are shown as they apply on a machine where nothing else is set, with the profile at
 * its default place. Defaults that depend on other settings say so in their description.
 */
const PROFILE = '~/.thoth';

interface DefaultShown {
  text: string;
  note?: string;
}

function shownDefault(definition: SettingDefinition<unknown>): DefaultShown {
  if (definition.fallback === undefined) return {text: 'none'};
  const context: DefaultContext = {profileDir: PROFILE, resolved: {}, sourceOf: (_key: SettingKey) => 'default'};
  const fallback = definition.fallback(context);
  if (fallback === undefined) return {text: 'none', note: 'derived from other settings when they are set'};
  const {value, origin} = fallback;
  let text = Array.isArray(value) ? value.join(',') : String(value);
  // join() under the profile directory uses the platform's separator: keep the file the same everywhere.
  if (text.startsWith(PROFILE)) text = text.replaceAll('\\', '/');
  const note = origin === 'default' ? undefined : origin.replace(/^default\s*\((.*)\)$/, '$1');
  return note === undefined ? {text: code(text)} : {text: code(text), note};
}

function managedKeys(definition: SettingDefinition<unknown>): string {
  if (definition.secret) return 'never read from there (a secret)';
  return [definition.name, ...(definition.managedAliases ?? [])].map(code).join(', ');
}

function sorted(settings: SettingsTable): Array<SettingDefinition<unknown>> {
  return Object.values(settings).sort((a, b) => a.name.localeCompare(b.name, 'en'));
}

function renderSetting(definition: SettingDefinition<unknown>): string[] {
  const shown = shownDefault(definition);
  const lines = [`### ${code(definition.name)}`, '', escapeMarkdown(definition.description), ''];
  lines.push(`- Default: ${shown.text}${shown.note === undefined ? '' : ` (${escapeMarkdown(shown.note)})`}`);
  if (definition.aliases && definition.aliases.length > 0)
    lines.push(`- Environment aliases: ${definition.aliases.map(code).join(', ')} (older names, lower priority)`);
  if (definition.flag) lines.push(`- Flag: ${code(definition.flag)}`);
  lines.push(`- Managed preferences and \`settings.json\` key: ${managedKeys(definition)}`);
  if (definition.managedWins) lines.push('- Managed wins: a value from managed preferences wins over the environment and the flags');
  if (definition.secret)
    lines.push(`- Secret: shown only as a fingerprint; read only from the environment${definition.flag ? ' or its flag' : ''}`);
  lines.push('');
  return lines;
}

/** docs/reference/settings.md: every setting of the table, sorted by name. */
export function renderSettingsReference(settings: SettingsTable): string {
  const definitions = sorted(settings);
  const lines: string[] = [
    '# Settings reference',
    '',
    generatedNotice('the settings table (`SETTINGS` in `src/settings/definitions.ts`)'),
    '',
    'Every setting thoth reads. Each is an environment variable and, unless it is a secret, a key of the same name in',
    'managed preferences (macOS domain `io.thoth.agent`, Windows `HKLM`/`HKCU\\SOFTWARE\\Policies\\Thoth`) and in',
    '`~/.thoth/settings.json`. Precedence: flags > environment > managed preferences > `settings.json` > defaults, except',
    'where managed wins. `thoth config show` prints the value in force and where it came from. How the layers work:',
    '[fleet on the device](../fleet.md#settings).',
    '',
    '| setting | default | flag | managed wins | secret |',
    '|---|---|---|---|---|',
  ];
  for (const definition of definitions) {
    const heading = code(definition.name);
    lines.push(
      `| [${heading}](#${headingAnchor(heading)}) | ${cell(shownDefault(definition).text)} | ${definition.flag ? code(definition.flag) : ''} | ${definition.managedWins ? 'yes' : ''} | ${definition.secret ? 'yes' : ''} |`,
    );
  }
  lines.push('', '## Settings', '');
  for (const definition of definitions) lines.push(...renderSetting(definition));
  return `${lines.join('\n').replace(/\n+$/, '')}\n`;
}
