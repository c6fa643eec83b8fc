import {resolve} from 'node:path';

import {Args} from '@oclif/core';

import {BaseCommand} from '../../cli/base-command.js';
import {ExitCode} from '../../core/exit-codes.js';
import {validatePolicy, validateRunPolicy, type PolicyValidation} from '../../policy/validate.js';
import {terminalSafe} from '../../util/terminal-text.js';

export type PolicyValidateResult = PolicyValidation;

export default class PolicyValidate extends BaseCommand<PolicyValidateResult> {
  static override summary = 'Check a policy file (JSON or JSONC) the way thoth run would load it.';
  static override description =
    'Parses the file, validates it against schemas/policy.schema.json and compiles it (regular expressions, paths, intents, rule ids). ' +
    'Each problem is printed as file:line:column at /pointer: message. Without FILE: the policy thoth run would enforce here (managed location, THOTH_POLICY_FILE, ~/.thoth/policy.json, else the built-in default). ' +
    'A valid policy that no longer protects the credential files the built-in default protects gets a warning. ' +
    'Exit code 3 when the policy is not valid, 4 when the file does not exist.';
  static override examples = [
    '<%= config.bin %> policy validate',
    '<%= config.bin %> policy validate /etc/thoth/policy.json',
    '<%= config.bin %> policy validate policy.jsonc --json',
  ];
  static override args = {file: Args.string({description: 'the policy file (default: the one thoth run would enforce)', required: false})};

  async run(): Promise<PolicyValidateResult> {
    const {args, flags} = await this.parse(PolicyValidate);
    const result =
      args.file === undefined ? await validateRunPolicy({profileDir: flags['thoth-home']}) : await validatePolicy(resolve(args.file));
    for (const warning of result.warnings) this.note(warning);
    if (result.valid) {
      const what = result.source === 'the built-in default' ? 'the built-in default policy' : terminalSafe(result.file);
      const from = result.source === undefined || result.source === 'the built-in default' ? '' : ` (from ${result.source})`;
      this.log(
        `${what}${from}: valid (version ${terminalSafe(String(result.version))}; ${result.agents.length} agents, ${result.intents.length} intents, ${result.rules} rules)`,
      );
      if (result.source === 'the built-in default') this.log('No policy file is installed. Write one with: thoth policy init');
    } else {
      // A problem quotes the policy's keys and values (a JSON pointer, a bad regex): one line each.
      for (const problem of result.problems) this.log(terminalSafe(problem.text));
      this.setExitCode(result.exists ? ExitCode.INVALID_INPUT : ExitCode.NOT_FOUND);
    }
    return result;
  }
}
