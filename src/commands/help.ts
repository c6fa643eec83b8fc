import {Args, Flags, loadHelpClass} from '@oclif/core';

import {describeNotFoundIn} from '../cli/suggest.js';
import {BaseCommand} from '../cli/base-command.js';
import {ThothError} from '../core/errors.js';

/** oclif's own help, as `thoth help [COMMAND]` (gh help, sf help); `--help` and `-h` print the same. */
export default class Help extends BaseCommand<void> {
  static override summary = 'Show help for thoth, a topic or a command.';
  static override description = 'The same help as --help or -h after the command: `thoth help audit show` is `thoth audit show --help`.';
  static override examples = ['<%= config.bin %> help', '<%= config.bin %> help wrap-config', '<%= config.bin %> help audit show'];
  static override enableJsonFlag = false;
  static override bootstrapsProfile = false;
  static override strict = false;
  static override args = {command: Args.string({description: 'The command or topic, as typed (audit show).', required: false})};
  static override flags = {'nested-commands': Flags.boolean({char: 'n', description: 'List the commands of every topic too.'})};

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Help);
    const words = (argv as string[]).filter((word) => !word.startsWith('-'));
    const id = words.join(':');
    if (id !== '' && this.config.findCommand(id) === undefined && this.config.findTopic(id) === undefined) {
      const {code, message, suggestions, exitCode} = describeNotFoundIn(this.config, words);
      throw new ThothError(code, message, {exitCode, suggestions});
    }
    const HelpClass = await loadHelpClass(this.config);
    await new HelpClass(this.config, {all: flags['nested-commands']}).showHelp(words);
  }
}
