import {resolve} from 'node:path';

import {readIntentMap} from '../policy/intent-map.js';
import {formatPolicyProblem, loadPolicy, type PolicyFailure, type PolicyLoadResult} from '../policy/load.js';
import type {CompiledPolicy, PolicySourceKind} from '../policy/model.js';
import {describeOrigin} from '../settings/resolve.js';
import type {HealthContext, PolicyFact} from './health-providers.js';

/**
 * The policy `thoth run` would enforce, located and validated as it does (policy/load.ts
 * policyCandidates): a file named by a managed preference, then the managed location, then the
 * file the settings name (THOTH_POLICY_FILE from the environment or settings.json; a named file
 * that is missing is a failure, never a fallback), then `<profile>/policy.json`, then the built-in
 * default. The intent map is part of it: `thoth run` refuses every call when it cannot read it.
 */
export async function policyFact(context: HealthContext): Promise<PolicyFact> {
  const {settings} = context;
  const named = settings.values.policyFile;
  const origin = settings.origins.policyFile;
  const env: NodeJS.ProcessEnv = {...context.env, THOTH_HOME: settings.profileDir};
  // The resolved setting stands for THOTH_POLICY_FILE in every layer; an invalid one is a settings problem, not a candidate.
  delete env['THOTH_POLICY_FILE'];
  const loaded: PolicyLoadResult = await loadPolicy({
    ...(named === undefined ? {} : origin.source === 'managed' ? {managedFile: named} : {flag: named}),
    env,
    platform: context.platform,
    cwd: context.cwd,
    ...(context.managedRoot === undefined ? {} : {managedRoot: context.managedRoot}),
  });
  const source = loaded.ok ? loaded.policy.source : loaded.failure.source;
  // The named file governs unless the administrator installed one at the managed location.
  const fromNamed =
    named !== undefined && source.kind !== 'builtin' && source.kind !== 'profile' && source.path === resolve(context.cwd, named);
  const from = fromNamed ? `named by THOTH_POLICY_FILE (${describeOrigin(origin)})` : describeFound(source.kind);
  // A named file is reported by the layer that named it (env, managed, settings.json), as the settings say.
  const kind: PolicySourceKind = fromNamed && source.kind === 'flag' && origin.source !== 'default' ? origin.source : source.kind;
  if (!loaded.ok) {
    return {
      state: 'fail',
      summary: `${describeFailure(loaded.failure)} (${from})`,
      file: loaded.failure.source.path,
      source: kind,
    };
  }
  const {policy} = loaded;
  const file = policy.source.kind === 'builtin' ? null : policy.source.path;
  const intents = await intentMapFindings(settings.profileDir, policy);
  if (intents.state !== 'ok') return {state: intents.state, summary: intents.summary, file, source: kind};
  const what = policy.source.kind === 'builtin' ? 'the built-in default policy' : `policy ${policy.source.path}`;
  return {
    state: 'ok',
    summary: `${what} ${policy.version} is valid (${policy.ruleCount} rule${policy.ruleCount === 1 ? '' : 's'}; ${from})`,
    file,
    source: kind,
  };
}

function describeFound(kind: PolicySourceKind): string {
  switch (kind) {
    case 'managed':
      return 'the managed policy location';
    case 'profile':
      return 'the profile';
    case 'builtin':
      return 'no policy file is configured or installed';
    default:
      return kind;
  }
}

/** One line: `file:line:col at /pointer: message` when the problem has a place, else the loader's sentence. */
function describeFailure(failure: PolicyFailure): string {
  const [first, ...rest] = failure.problems;
  if (first === undefined || first.line === undefined) return failure.message;
  const more = rest.length > 0 ? ` (and ${rest.length} more problem${rest.length > 1 ? 's' : ''})` : '';
  return `${formatPolicyProblem(first)}${more}; check it with: thoth policy validate ${failure.source.path}`;
}

async function intentMapFindings(profileDir: string, policy: CompiledPolicy): Promise<{state: 'ok' | 'warn' | 'fail'; summary: string}> {
  const map = await readIntentMap(profileDir);
  if (!map.ok) return {state: 'fail', summary: `${map.message} (thoth run refuses every tool call until it is fixed)`};
  const undefinedIntents = [...map.map].filter(([, intent]) => !policy.intents.has(intent));
  if (undefinedIntents.length === 0) return {state: 'ok', summary: ''};
  const list = undefinedIntents.map(([server, intent]) => `${server} → "${intent}"`).join(', ');
  return {
    state: 'warn',
    summary: `intent_map.json names intents the policy does not define (${list}): every tool call of ${undefinedIntents.length === 1 ? 'that server' : 'those servers'} is refused until they are defined under "intents"`,
  };
}
