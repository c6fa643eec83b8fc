import {apiKeyFingerprint} from '../profile/api-key.js';
import {terminalSafe} from '../util/terminal-text.js';
import {
  SETTINGS,
  SETTING_KEYS,
  THOTH_PREFERENCE_DOMAIN,
  WINDOWS_POLICY_KEYS,
  type SettingDefinition,
  type SettingKey,
} from './definitions.js';
import {describeOverride, type ResolvedSettings, type SettingOverride, type SettingSource} from './resolve.js';

export interface SettingReportRow {
  key: SettingKey;
  name: string;
  /** The effective value; secrets are replaced by their fingerprint; null when unset. */
  value: string | number | boolean | string[] | null;
  masked: boolean;
  source: SettingSource;
  origin: string;
}

/** `thoth config show --json` result; schemas/settings-report.schema.json is its contract. */
export interface SettingsReport {
  profileDir: string;
  managedPreferenceDomain: string;
  windowsPolicyKeys: string[];
  settings: SettingReportRow[];
  /** Flags and variables refused because managed preferences set the setting. */
  overrides: SettingOverride[];
  problems: string[];
}

export function settingsReport(resolved: ResolvedSettings): SettingsReport {
  const settings = SETTING_KEYS.map((key): SettingReportRow => {
    const definition = SETTINGS[key] as SettingDefinition<unknown>;
    const raw = resolved.values[key];
    const origin = resolved.origins[key];
    const masked = definition.secret === true && raw !== undefined;
    const value = raw === undefined ? null : masked ? apiKeyFingerprint(String(raw)) : (raw as SettingReportRow['value']);
    return {key, name: definition.name, value, masked, source: origin.source, origin: origin.origin};
  });
  return {
    profileDir: resolved.profileDir,
    managedPreferenceDomain: THOTH_PREFERENCE_DOMAIN,
    windowsPolicyKeys: [...WINDOWS_POLICY_KEYS],
    settings,
    overrides: resolved.overrides.map((override) => ({...override, attempted: {...override.attempted}})),
    problems: [...resolved.problems],
  };
}

/** Values and origins come from the environment, managed preferences and files: escaped for the terminal. */
export function renderSettingsText(report: SettingsReport): string {
  const raw = (row: SettingReportRow) =>
    row.value === null
      ? '(unset)'
      : row.masked
        ? `set, ${String(row.value)}`
        : Array.isArray(row.value)
          ? row.value.join(',')
          : String(row.value);
  const shown = (row: SettingReportRow) => terminalSafe(raw(row));
  const nameWidth = Math.max(...report.settings.map((row) => row.name.length));
  const valueWidth = Math.min(48, Math.max(...report.settings.map((row) => shown(row).length)));
  const lines = report.settings.map((row) => {
    const where = terminalSafe(row.value === null ? '' : row.source === 'default' ? row.origin : `${row.source}: ${row.origin}`);
    return `${row.name.padEnd(nameWidth)}  ${shown(row).padEnd(valueWidth)}  ${where}`.trimEnd();
  });
  lines.push(
    '',
    `profile: ${terminalSafe(report.profileDir)}  managed preferences: ${report.managedPreferenceDomain} (macOS), ${report.windowsPolicyKeys.join(', ')} (Windows)`,
  );
  if (report.overrides.length > 0) {
    lines.push('', 'refused (managed preferences win):');
    for (const override of report.overrides) lines.push(`  - ${terminalSafe(describeOverride(override))}`);
  }
  if (report.problems.length > 0) {
    lines.push('', 'problems:');
    for (const problem of report.problems) lines.push(`  - ${terminalSafe(problem)}`);
  }
  return `${lines.join('\n')}\n`;
}
