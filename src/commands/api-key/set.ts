import {BaseCommand} from '../../cli/base-command.js';
import {ThothError} from '../../core/errors.js';
import {ExitCode} from '../../core/exit-codes.js';
import {apiKeyFingerprint, normaliseApiKeyInput, storeApiKey} from '../../profile/api-key.js';
import {readSecret} from '../../profile/secret-input.js';
import {resolveSettings} from '../../settings/resolve.js';
import {terminalSafe} from '../../util/terminal-text.js';

export interface ApiKeySetResult {
  file: string;
  fingerprint: string;
}

export default class ApiKeySet extends BaseCommand<ApiKeySetResult> {
  static override summary = 'Store the control-plane API key (read from stdin or a prompt, never from the command line).';
  static override description =
    'Writes {"api_key": "..."} with mode 0600 to THOTH_API_KEY_FILE (default ~/.thoth/proxy_api_key.json). Prints only the fingerprint.';
  static override examples = [
    '<%= config.bin %> api-key set < key.txt',
    'printf %s "$KEY" | <%= config.bin %> api-key set',
    '<%= config.bin %> api-key set   # prompts without echo',
  ];
  // Parsed by hand: oclif would quote an unexpected argument (the key!) in its error message.
  static override strict = false;

  async run(): Promise<ApiKeySetResult> {
    const {flags, argv} = await this.parse(ApiKeySet);
    if (argv.length > 0) {
      throw new ThothError(
        'API_KEY_IN_ARGV',
        'api-key set does not take the key as an argument: every local user can read command lines; nothing was stored',
        {
          exitCode: ExitCode.USAGE,
          suggestions: ['Pipe it on stdin (`thoth api-key set < key.txt`) or run `thoth api-key set` and paste it at the prompt.'],
        },
      );
    }
    const resolved = await resolveSettings(flags['thoth-home'] === undefined ? {} : {profileDir: flags['thoth-home']});
    const key = normaliseApiKeyInput(await readSecret('API key (input hidden): '));
    const file = resolved.values.apiKeyFile;
    await storeApiKey(file, key);
    if (resolved.origins.apiKey.source === 'env' && resolved.origins.apiKeyFile.source === 'default') {
      this.note('THOTH_API_KEY is set in this environment and takes precedence over the stored key');
    }
    const fingerprint = apiKeyFingerprint(key);
    if (!this.jsonEnabled()) this.log(`stored API key ${fingerprint} in ${terminalSafe(file)} (mode 0600)`);
    return {file, fingerprint};
  }
}
