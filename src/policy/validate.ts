import {credentialGaps, describeCredentialGaps, type CredentialGap} from './credential-check.js';
import {builtinPolicy, loadPolicyFile, formatPolicyProblem} from './load.js';
import type {CompiledPolicy, PolicyProblem} from './model.js';
import {describeLocation, locateRunPolicy, type RunPolicyOptions} from './run-policy.js';

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
  /** Where the file came from when none was given: the policy `thoth run` enforces (`the profile`, `the built-in default`...). */
  source?: string;
  /** Credential files the built-in policy protects and this one does not (credential-check.ts). */
  credentialGaps: CredentialGap[];
  /** What a person should know about a valid policy (the gaps, in words). */
  warnings: string[];
}

/**
 * `thoth policy validate` without FILE: the policy `thoth run` would enforce here (the built-in
 * default when no file is installed).
 */
export async function validateRunPolicy(options: RunPolicyOptions = {}): Promise<PolicyValidation> {
  const location = await locateRunPolicy(options);
  const source = describeLocation(location);
  if (location.kind === 'builtin') {
    const loaded = builtinPolicy();
    if (!loaded.ok) throw new Error('the built-in policy does not compile');
    // The built-in policy is the credential-file protection itself: no gap to report.
    return {...validSummary(loaded.policy.source.path, loaded.policy, []), source};
  }
  return {...(await validatePolicy(location.candidate.path)), source};
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
      credentialGaps: [],
      warnings: [],
    };
  }
  return validSummary(file, loaded.policy, credentialGaps(loaded.policy));
}

function validSummary(file: string, policy: CompiledPolicy, gaps: CredentialGap[]): PolicyValidation {
  return {
    file,
    valid: true,
    exists: true,
    version: policy.version,
    agents: [...policy.agentNames],
    intents: [...policy.intents.keys()],
    rules: policy.ruleCount,
    problems: [],
    credentialGaps: gaps,
    warnings: describeCredentialGaps(gaps),
  };
}
