import {BaseCommand} from '../../cli/base-command.js';
import {ThothError} from '../../core/errors.js';
import {ExitCode} from '../../core/exit-codes.js';
import {apiKeyFingerprint} from '../../profile/api-key.js';
import {describeOrigin, resolveSettings, type SettingSource} from '../../settings/resolve.js';
import {terminalSafe} from '../../util/terminal-text.js';

export interface ApiKeyShowResult {
  fingerprint: string;
  source: SettingSource;
  origin: string;
}

export default class ApiKeyShow extends BaseCommand<ApiKeyShowResult> {
  static override summary = 'Show which API key is in effect, as a fingerprint only.';
  static override description =
    'Prints sha256: and the first 12 hex digits of the key’s SHA-256, and where the key comes from. Exits 4 when no key is configured.';
  static override examples = ['<%= config.bin %> api-key show', '<%= config.bin %> api-key show --json'];

  async run(): Promise<ApiKeyShowResult> {
    const {flags} = await this.parse(ApiKeyShow);
    const resolved = await resolveSettings(flags['thoth-home'] === undefined ? {} : {profileDir: flags['thoth-home']});
    for (const warning of resolved.warnings) this.note(warning);
    for (const problem of resolved.problems) this.note(problem);
    const key = resolved.values.apiKey;
    if (key === undefined) {
      throw new ThothError(
        'API_KEY_MISSING',
        `no API key configured (key file ${resolved.values.apiKeyFile} holds none and THOTH_API_KEY is unset)`,
        {
          exitCode: ExitCode.NOT_FOUND,
          suggestions: ['Store one with `thoth api-key set < key.txt`.'],
        },
      );
    }
    const origin = resolved.origins.apiKey;
    const result = {fingerprint: apiKeyFingerprint(key), source: origin.source, origin: origin.origin};
    if (!this.jsonEnabled()) this.log(`${result.fingerprint}  (${terminalSafe(describeOrigin(origin))})`);
    return result;
  }
}
