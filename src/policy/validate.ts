import {loadPolicyFile, formatPolicyProblem} from './load.js';
import type {PolicyProblem} from './model.js';

export interface PolicyValidation {
  file: string;
  valid: boolean;
  /** False when the file does not exist (exit code 4 rather than 3). */
  exists: boolean;
  /** `label@sha256:…`: what approvals are bound to. */
  version: string | null;
  agents: string[];
  intents: string[];
  rules: number;
  problems: Array<PolicyProblem & {text: string}>;
}

/** `thoth policy validate FILE`: the same parse, schema and compile steps as `thoth run`. */
export async function validatePolicy(file: string): Promise<PolicyValidation> {
  const loaded = await loadPolicyFile(file, 'flag');
  if (!loaded.ok) {
    return {
      file,
      valid: false,
      exists: !loaded.failure.problems.some((problem) => problem.message === 'does not exist'),
      version: null,
      agents: [],
      intents: [],
      rules: 0,
      problems: loaded.failure.problems.map((problem) => ({...problem, text: formatPolicyProblem(problem)})),
    };
  }
  const {policy} = loaded;
  return {
    file,
    valid: true,
    exists: true,
    version: policy.version,
    agents: [...policy.agentNames],
    intents: [...policy.intents.keys()],
    rules: policy.ruleCount,
    problems: [],
  };
}
