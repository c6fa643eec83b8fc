import {BaseCommand} from '../../cli/base-command.js';
import {ExitCode} from '../../core/exit-codes.js';
import {renderSettingsText, settingsReport, type SettingsReport} from '../../settings/report.js';
import {resolveSettings} from '../../settings/resolve.js';

export type ConfigShowResult = SettingsReport;

export default class ConfigShow extends BaseCommand<ConfigShowResult> {
  static override summary = 'Print every effective setting and where it came from (secrets masked).';
  static override description =
    'Precedence: flags > environment > managed preferences (macOS io.thoth.agent, Windows HKLM/HKCU\\SOFTWARE\\Policies\\Thoth) > ~/.thoth/settings.json and the key file > defaults. Exits 3 when a value is invalid.';
  static override examples = ['<%= config.bin %> config show', '<%= config.bin %> config show --json'];

  async run(): Promise<ConfigShowResult> {
    const {flags} = await this.parse(ConfigShow);
    const resolved = await resolveSettings(flags['thoth-home'] === undefined ? {} : {profileDir: flags['thoth-home']});
    for (const warning of resolved.warnings) this.note(warning);
    const report = settingsReport(resolved);
    if (report.problems.length > 0) this.setExitCode(ExitCode.INVALID_INPUT);
    if (!this.jsonEnabled()) this.log(renderSettingsText(report).trimEnd());
    return report;
  }
}
