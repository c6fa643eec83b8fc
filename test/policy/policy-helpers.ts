import {compilePolicy} from '../../src/policy/compile.js';
import {decide, type EngineHooks} from '../../src/policy/engine.js';
import type {CompiledPolicy, PolicyDocument} from '../../src/policy/model.js';
import type {PathEnvironment} from '../../src/policy/paths.js';
import type {Decision, EnforcementMode, ToolCall} from '../../src/core/decision.js';
import {stringifyJson} from '../../src/core/json-rpc.js';

export const POSIX_HOME: PathEnvironment = {home: '/home/ann', cwd: '/home/ann/work', flavour: 'posix', caseInsensitive: false};

/** Compiles a policy document for tests; throws with the problems when it does not compile. */
export function compile(doc: PolicyDocument, paths: Partial<PathEnvironment> = POSIX_HOME): CompiledPolicy {
  const result = compilePolicy(doc, {kind: 'flag', path: '/etc/test-policy.json'}, {paths});
  if (!result.ok) throw new Error(result.problems.map((p) => `${p.pointer}: ${p.message}`).join('; '));
  return result.policy;
}

export function toolCall(name: string, args: unknown = {}): ToolCall {
  return {name, arguments: args, argumentsJson: stringifyJson(args)};
}

export function decideCall(
  policy: CompiledPolicy,
  name: string,
  args: unknown = {},
  options: {agentId?: string; mode?: EnforcementMode; intent?: string; hooks?: EngineHooks; nowMs?: number} = {},
): Decision {
  const call = toolCall(name, args);
  return decide(
    policy,
    {
      call,
      agentId: options.agentId ?? 'fs',
      mode: options.mode ?? 'block',
      intent: options.intent,
      nowMs: options.nowMs ?? 0,
      fingerprint: () => `${name}\u0000${call.argumentsJson}`,
    },
    options.hooks ?? {},
  );
}
