import {basename} from 'node:path';

import {Args} from '@oclif/core';

import {BaseCommand} from '../cli/base-command.js';
import {COMPLETION_SHELLS, completionScript, type CompletionShell} from '../cli/completion.js';
import {ThothError} from '../core/errors.js';
import {ExitCode} from '../core/exit-codes.js';

export interface AutocompleteResult {
  shell: CompletionShell;
  script: string;
}

export default class Autocomplete extends BaseCommand<AutocompleteResult> {
  static override summary = 'Print the shell completion script for bash or zsh.';
  static override description = [
    'Completes commands, flags and flag values (thoth wr<TAB>, thoth audit show --dec<TAB>). Load it from your shell start-up file, so that it follows upgrades:',
    '  bash: echo \'eval "$(thoth autocomplete bash)"\' >> ~/.bashrc',
    '  zsh:  echo \'eval "$(thoth autocomplete zsh)"\' >> ~/.zshrc',
    'Without SHELL, the shell is taken from $SHELL.',
  ].join('\n');
  static override examples = ['<%= config.bin %> autocomplete bash', 'eval "$(<%= config.bin %> autocomplete zsh)"'];
  static override bootstrapsProfile = false;
  static override args = {
    shell: Args.string({description: 'The shell (default: from $SHELL).', options: [...COMPLETION_SHELLS], required: false}),
  };

  async run(): Promise<AutocompleteResult> {
    const {args} = await this.parse(Autocomplete);
    const shell = (args.shell ?? basename(process.env['SHELL'] ?? '')) as CompletionShell;
    if (!COMPLETION_SHELLS.includes(shell)) {
      throw new ThothError('USAGE', `no completion for the shell "${shell || '(none: $SHELL is not set)'}": bash and zsh are supported`, {
        exitCode: ExitCode.USAGE,
        suggestions: ['Name the shell: thoth autocomplete bash, or thoth autocomplete zsh.'],
      });
    }
    const script = completionScript(shell, this.config.bin, this.config.commands);
    // The script goes to stdout as it is (eval reads it): not through log(), which escapes for the terminal.
    if (!this.jsonEnabled()) process.stdout.write(script);
    return {shell, script};
  }
}
