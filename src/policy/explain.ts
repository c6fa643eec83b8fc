import {ThothError, errorMessage} from '../core/errors.js';
import {ExitCode} from '../core/exit-codes.js';
import type {Decision, EnforcementMode, ToolCall} from '../core/decision.js';
import {readPinFile} from '../pins/store.js';
import {thothHome} from '../profile/paths.js';
import {parseJson, stringifyJson} from '../core/json-rpc.js';
import {BaselineStore} from './baseline-store.js';
import {canonicalHash} from '../core/canonical-json.js';
import {credentialGaps, describeCredentialGaps} from './credential-check.js';
import {decide, neverAllowed} from './engine.js';
import {protectedPaths} from './session.js';
import {readIntentMap} from './intent-map.js';
import {formatPolicyProblem, loadPolicy, type PolicyLoadOptions} from './load.js';
import {ProgressiveSession} from './progressive.js';
import {resolveSessionSettings} from './session-settings.js';

export interface ExplainInput {
  agentId: string;
  tool: string;
  /** The arguments as JSON text (default `{}`). */
  argsJson?: string | undefined;
  policyFile?: string | undefined;
  mode?: EnforcementMode | undefined;
  intent?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** The profile directory (default: $THOTH_HOME or ~/.thoth). */
  home?: string | undefined;
  load?: Omit<PolicyLoadOptions, 'flag' | 'env'>;
}

export interface ExplainResult {
  decision: Decision['decision'];
  observed: Decision['decision'] | null;
  reason: string;
  ruleId: string;
  trace: readonly string[];
  details: Record<string, unknown>;
  agentId: string;
  tool: string;
  mode: EnforcementMode;
  modeSource: string;
  intent: string | null;
  intentSource: string;
  hiddenFromToolsList: string | null;
  policy: {source: string; path: string; version: string};
  notes: string[];
}

/**
 * `thoth policy explain`: the decision `thoth run` would make for one call, with the rule chain
 * that produced it. Reads the policy, intent map, baseline and pins exactly as a session would,
 * and changes none of them.
 */
export async function explainCall(input: ExplainInput): Promise<ExplainResult> {
  const env = input.env ?? process.env;
  const home = input.home ?? thothHome(env);
  const args = parseArguments(input.argsJson);
  const loaded = await loadPolicy({...input.load, flag: input.policyFile, env: home === thothHome(env) ? env : {...env, THOTH_HOME: home}});
  if (!loaded.ok) {
    const first = loaded.failure.problems[0];
    throw new ThothError('POLICY_INVALID', first ? formatPolicyProblem(first) : loaded.failure.message, {
      exitCode: ExitCode.INVALID_INPUT,
      suggestions: [
        `thoth run would refuse every call with this policy. Check it with: thoth policy validate ${loaded.failure.source.path}`,
      ],
    });
  }
  const policy = loaded.policy;
  const intentMap = await readIntentMap(home);
  if (!intentMap.ok) throw new ThothError('INTENT_MAP_INVALID', intentMap.message, {exitCode: ExitCode.INVALID_INPUT});
  const settings = resolveSessionSettings(policy, {
    agentId: input.agentId,
    flagMode: input.mode,
    envMode: env['THOTH_ENFORCEMENT_MODE'],
    flagIntent: input.intent,
    intentMap: intentMap.map,
  });

  const baseline = settings.mode === 'progressive' ? await BaselineStore.open({home, agentId: input.agentId, readOnly: true}) : undefined;
  const progressive = baseline ? new ProgressiveSession(() => baseline.view()) : undefined;
  const pins = policy.pinsEnabled ? await readPinFile(home, input.agentId) : undefined;
  const pinned = pins && Object.hasOwn(pins.tools, input.tool) ? pins.tools[input.tool] : undefined;

  const call: ToolCall = {name: input.tool, arguments: args, argumentsJson: stringifyJson(args)};
  const decision = decide(
    policy,
    {
      call,
      agentId: input.agentId,
      mode: settings.mode,
      intent: settings.intent,
      nowMs: Date.now(),
      fingerprint: () => `${call.name}\u0000${canonicalHash(args)}`,
    },
    {
      pinProblem: () => (pinned?.changed !== undefined ? 'changed' : undefined),
      protectedPaths: protectedPaths(policy, home),
      ...(progressive ? {progressive} : {}),
    },
  );
  return {
    decision: decision.decision,
    observed: decision.observed ?? null,
    reason: decision.reason,
    ruleId: decision.ruleId,
    trace: decision.trace ?? [],
    details: decision.details ?? {},
    agentId: input.agentId,
    tool: input.tool,
    mode: settings.mode,
    modeSource: settings.modeSource,
    intent: settings.intent ?? null,
    intentSource: settings.intentSource,
    hiddenFromToolsList: neverAllowed(policy, input.agentId, settings.mode, settings.intent, input.tool) ?? null,
    policy: {source: policy.source.kind, path: policy.source.path, version: policy.version},
    notes: [...intentMap.warnings, ...settings.notes, ...describeCredentialGaps(credentialGaps(policy))],
  };
}

function parseArguments(text: string | undefined): unknown {
  if (text === undefined || text.trim() === '') return {};
  try {
    return parseJson(text);
  } catch (error) {
    throw new ThothError('USAGE', `--args is not valid JSON: ${errorMessage(error)}`, {
      exitCode: ExitCode.USAGE,
      suggestions: [`Quote the JSON for your shell, e.g. --args '{"path": "~/notes.txt"}'`],
    });
  }
}
