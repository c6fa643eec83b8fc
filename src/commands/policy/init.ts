import {Flags} from '@oclif/core';

import {BaseCommand} from '../../cli/base-command.js';
import {initPolicy, type PolicyInitResult} from '../../policy/init.js';
import {terminalSafe} from '../../util/terminal-text.js';

export type PolicyInitCommandResult = PolicyInitResult;

export default class PolicyInit extends BaseCommand<PolicyInitCommandResult> {
  static override summary = 'Write a commented starter policy (JSONC) that keeps the built-in protections.';
  static override description = [
    "Progressive mode, credential files need a person's approval (as without a policy), thoth's own files protected (as always), and worked examples for a filesystem, a shell and a database server to adapt.",
    'Without --output it goes to the policy file thoth run reads (~/.thoth/policy.json; a managed policy or THOTH_POLICY_FILE comes first, and then this says so). Running sessions pick it up within seconds.',
    'Exit codes: 0 written, 5 the file exists (--force replaces it, keeping the old one beside it), 4 its directory does not exist.',
  ].join('\n');
  static override examples = [
    '<%= config.bin %> policy init',
    '<%= config.bin %> policy init --output my-policy.jsonc',
    '<%= config.bin %> policy init --force',
  ];
  static override flags = {
    output: Flags.string({char: 'o', description: 'Write it here instead (then install it yourself: docs/policy.md).'}),
    force: Flags.boolean({description: 'Replace an existing file; the old one is kept beside it as FILE.<time>.bak.'}),
  };

  async run(): Promise<PolicyInitCommandResult> {
    const {flags} = await this.parse(PolicyInit);
    const result = await initPolicy({output: flags.output, force: flags.force, profileDir: flags['thoth-home']});
    const file = terminalSafe(result.file);
    if (result.backup !== undefined) this.log(`kept the previous policy as ${terminalSafe(result.backup)}`);
    this.log(`wrote a starter policy to ${file}`);
    if (!result.inEffect) {
      this.note(
        result.enforced.path === null
          ? `thoth run does not read ${result.file}: copy it to the profile's policy.json or point THOTH_POLICY_FILE at it when it is ready`
          : `thoth run enforces ${result.enforced.path} (${result.enforced.source}), which comes before ${result.file}`,
      );
    }
    this.log('Next:');
    this.log(`  edit it: rename the example agents to the servers \`thoth status\` lists, or delete them`);
    this.log(`  thoth policy validate${result.inEffect ? '' : ` ${file}`}`);
    this.log(`  thoth policy explain --agent-id filesystem --tool write_file --args '{"path": "~/notes.txt"}'`);
    if (result.inEffect) this.log('Running sessions pick up every change within seconds.');
    return result;
  }
}
