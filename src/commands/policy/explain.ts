import {Flags} from '@oclif/core';

import {BaseCommand} from '../../cli/base-command.js';
import {ENFORCEMENT_MODES} from '../../core/decision.js';
import {explainCall, type ExplainResult} from '../../policy/explain.js';
import {terminalSafe} from '../../util/terminal-text.js';

export type PolicyExplainResult = ExplainResult;

export default class PolicyExplain extends BaseCommand<PolicyExplainResult> {
  static override summary = 'Show the decision thoth run would make for one tool call, and the rules that produced it.';
  static override description =
    'Uses the same policy sources (the managed location, --policy, THOTH_POLICY_FILE, ~/.thoth/policy.json, the built-in default), ' +
    'intent_map.json, progressive baseline and tool pins as a session, and changes none of them.';
  static override examples = [
    `<%= config.bin %> policy explain --agent-id filesystem --tool read_file --args '{"path": "~/.ssh/id_rsa"}'`,
    '<%= config.bin %> policy explain --agent-id phi --tool lookup_patient --session-intent phi_eligibility_check --json',
  ];
  static override flags = {
    'agent-id': Flags.string({description: 'the agent (server name) making the call', required: true}),
    tool: Flags.string({description: 'the tool name', required: true}),
    args: Flags.string({description: 'the arguments as JSON (default {})'}),
    policy: Flags.string({description: 'policy file (default: the same sources as thoth run)'}),
    'session-intent': Flags.string({description: 'the session intent (default: intent_map.json, then the policy)'}),
    'enforcement-mode': Flags.string({description: 'the mode (default: as thoth run would resolve it)', options: [...ENFORCEMENT_MODES]}),
  };

  async run(): Promise<PolicyExplainResult> {
    const {flags} = await this.parse(PolicyExplain);
    const result = await explainCall({
      agentId: flags['agent-id'],
      tool: flags.tool,
      argsJson: flags.args,
      policyFile: flags.policy,
      intent: flags['session-intent'],
      mode: flags['enforcement-mode'] as (typeof ENFORCEMENT_MODES)[number] | undefined,
      home: flags['thoth-home'],
    });
    for (const note of result.notes) this.note(note);
    // Reasons and the trace quote the tool, its arguments and the policy's own strings: escaped.
    const safe = terminalSafe;
    this.log(`decision: ${result.decision}${result.observed !== null ? ` (observe mode; would have been ${result.observed})` : ''}`);
    this.log(`reason:   ${safe(result.reason)}`);
    this.log(`rule:     ${safe(result.ruleId)}`);
    this.log(
      `mode:     ${result.mode} (${safe(result.modeSource)})    intent: ${safe(result.intent ?? 'none')} (${safe(result.intentSource)})`,
    );
    if (result.hiddenFromToolsList !== null) this.log(`tools/list: hidden (${safe(result.hiddenFromToolsList)})`);
    this.log('trace:');
    for (const step of result.trace) this.log(`  ${safe(step)}`);
    return result;
  }
}
