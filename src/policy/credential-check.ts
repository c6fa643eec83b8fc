import {CREDENTIAL_FILES} from './builtin-policy.js';
import {conditionsHold} from './engine.js';
import type {CompiledPolicy} from './model.js';
import {PathReader} from './path-reader.js';

/**
 * A policy file replaces the built-in one, and with it the rule that asks a person before any
 * tool touches a credential file. Writing a first policy for one server must not silently drop
 * that for every server: `policy validate` and `policy explain` say which credential files no
 * block or step_up rule covers any more, and for which servers.
 *
 * The built-in rule covers every tool and every string in the arguments, so that is what is
 * tried: a tool name no specific pattern matches, and an argument key no specific condition
 * names. A rule narrower than that (only `read_*`, only `path`) leaves the other tools and
 * arguments open, and the file is reported.
 */
export interface CredentialGap {
  /** The built-in glob (`~/.ssh/**`). */
  glob: string;
  /** The servers it is open for: agent names, and `null` for servers the policy does not name. */
  agents: Array<string | null>;
}

const PROBE_TOOL = 'thoth-credential-probe';
const PROBE_ARGUMENT = 'thoth-credential-probe';
const UNNAMED_AGENT = '\u0000servers the policy does not name';

export function credentialGaps(policy: CompiledPolicy): CredentialGap[] {
  if (policy.source.kind === 'builtin') return [];
  const agents: Array<string | null> = [...policy.agentNames, null];
  const gaps: CredentialGap[] = [];
  for (const {glob, example} of CREDENTIAL_FILES) {
    const open = agents.filter((agent) => {
      const rules = policy.agent(agent ?? UNNAMED_AGENT).rulesFor(PROBE_TOOL);
      const paths = new PathReader(policy.paths);
      return !rules.some((rule) => rule.decision !== 'allow' && conditionsHold(rule, {[PROBE_ARGUMENT]: example}, paths));
    });
    if (open.length > 0) gaps.push({glob, agents: open});
  }
  return gaps;
}

/** One warning line per group of servers with the same gaps; none when nothing is open. */
export function describeCredentialGaps(gaps: readonly CredentialGap[]): string[] {
  const byAgents = new Map<string, {agents: Array<string | null>; globs: string[]}>();
  for (const gap of gaps) {
    const key = JSON.stringify(gap.agents);
    const group = byAgents.get(key) ?? {agents: gap.agents, globs: []};
    group.globs.push(gap.glob);
    byAgents.set(key, group);
  }
  return [...byAgents.values()].map(({agents, globs}) => {
    const named = agents.filter((agent): agent is string => agent !== null).map((agent) => `"${agent}"`);
    const who =
      agents.includes(null) && named.length === 0
        ? 'for every server'
        : agents.includes(null)
          ? `for servers the policy does not name and for ${named.join(', ')}`
          : `for ${named.join(', ')}`;
    return (
      `this policy drops the built-in protection of credential files ${who}: no block or step_up rule for every tool covers ${globs.join(', ')}. ` +
      'Keep it with a rule like {"id": "credential-files", "tool": "*", "args": {"*": {"path_glob": [...]}}, "decision": "step_up"} (thoth policy init writes one)'
    );
  });
}
