import {resolve} from 'node:path';

import {Args} from '@oclif/core';

import {BaseCommand} from '../../cli/base-command.js';
import {ExitCode} from '../../core/exit-codes.js';
import {validatePolicy, type PolicyValidation} from '../../policy/validate.js';
import {terminalSafe} from '../../util/terminal-text.js';

export type PolicyValidateResult = PolicyValidation;

export default class PolicyValidate extends BaseCommand<PolicyValidateResult> {
  static override summary = 'Check a policy file (JSON or JSONC) the way thoth run would load it.';
  static override description =
    'Parses the file, validates it against schemas/policy.schema.json and compiles it (regular expressions, paths, intents, rule ids). ' +
    'Each problem is printed as file:line:column at /pointer: message. Exit code 3 when the policy is not valid, 4 when the file does not exist.';
  static override examples = [
    '<%= config.bin %> policy validate /etc/thoth/policy.json',
    '<%= config.bin %> policy validate policy.jsonc --json',
  ];
  static override args = {file: Args.string({description: 'the policy file', required: true})};

  async run(): Promise<PolicyValidateResult> {
    const {args} = await this.parse(PolicyValidate);
    const result = await validatePolicy(resolve(args.file));
    if (result.valid) {
      this.log(
        `${terminalSafe(result.file)}: valid (version ${terminalSafe(String(result.version))}; ${result.agents.length} agents, ${result.intents.length} intents, ${result.rules} rules)`,
      );
    } else {
      // A problem quotes the policy's keys and values (a JSON pointer, a bad regex): one line each.
      for (const problem of result.problems) this.log(terminalSafe(problem.text));
      this.setExitCode(result.exists ? ExitCode.INVALID_INPUT : ExitCode.NOT_FOUND);
    }
    return result;
  }
}
