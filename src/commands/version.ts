import {BaseCommand} from '../cli/base-command.js';

export interface VersionResult {
  /** The npm package (thoth-mcp). */
  name: string;
  version: string;
  /** The Node.js running thoth (process.version). */
  node: string;
  platform: NodeJS.Platform;
  arch: string;
  /** What `thoth --version` prints: name/version platform-arch node-version. */
  userAgent: string;
}

export default class Version extends BaseCommand<VersionResult> {
  static override summary = 'Show the version of thoth, and of the Node.js running it.';
  static override description = 'The same line as `thoth --version`; with --json, the parts of it.';
  static override examples = ['<%= config.bin %> version', '<%= config.bin %> version --json'];
  static override bootstrapsProfile = false;

  async run(): Promise<VersionResult> {
    await this.parse(Version);
    const result: VersionResult = {
      name: this.config.name,
      version: this.config.version,
      node: process.version,
      platform: process.platform,
      arch: process.arch,
      userAgent: this.config.userAgent,
    };
    this.log(result.userAgent);
    return result;
  }
}
