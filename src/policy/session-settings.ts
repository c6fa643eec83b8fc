import {isEnforcementMode, type EnforcementMode} from '../core/decision.js';
import type {CompiledPolicy} from './model.js';

export interface SessionSettingsInput {
  agentId: string;
  /** --enforcement-mode, or the mode a settings layer above the policy chose. */
  flagMode?: EnforcementMode | undefined;
  /** Which layer `flagMode` came from (the settings resolver's source); default 'flag'. */
  flagModeSource?: 'flag' | 'env' | 'managed' | 'profile' | undefined;
  /** THOTH_ENFORCEMENT_MODE. */
  envMode?: string | undefined;
  /** --session-intent. */
  flagIntent?: string | undefined;
  intentMap?: ReadonlyMap<string, string>;
}

export interface SessionSettings {
  mode: EnforcementMode;
  modeSource: 'flag' | 'env' | 'managed' | 'profile' | 'policy' | 'policy-locked' | 'default';
  intent: string | undefined;
  intentSource: 'flag' | 'intent_map' | 'policy' | 'none';
  notes: string[];
}

/**
 * Mode: --enforcement-mode, then THOTH_ENFORCEMENT_MODE, then the agent's mode in the policy,
 * then the policy default, then progressive; except that a policy mode with `lock_mode: true`
 * wins over the flag and the environment. Intent: --session-intent, then intent_map.json, then
 * the agent's `intent` in the policy.
 */
export function resolveSessionSettings(policy: CompiledPolicy, input: SessionSettingsInput): SessionSettings {
  const agent = policy.agent(input.agentId);
  const notes: string[] = [];
  const envMode = isEnforcementMode(input.envMode) ? input.envMode : undefined;
  if (input.envMode !== undefined && input.envMode !== '' && envMode === undefined) {
    notes.push(`THOTH_ENFORCEMENT_MODE="${input.envMode}" is not a mode (progressive, step_up, block, observe); ignored`);
  }
  const requested = input.flagMode ?? envMode;
  let mode: EnforcementMode;
  let modeSource: SessionSettings['modeSource'];
  if (agent.lockMode && agent.mode !== undefined) {
    mode = agent.mode;
    modeSource = 'policy-locked';
    if (requested !== undefined && requested !== mode) {
      notes.push(`the policy locks agent "${input.agentId}" to ${mode} mode; the requested ${requested} mode is ignored`);
    }
  } else if (requested !== undefined) {
    mode = requested;
    modeSource = input.flagMode !== undefined ? (input.flagModeSource ?? 'flag') : 'env';
  } else if (agent.mode !== undefined) {
    mode = agent.mode;
    modeSource = 'policy';
  } else {
    mode = 'progressive';
    modeSource = 'default';
  }

  let intent: string | undefined;
  let intentSource: SessionSettings['intentSource'] = 'none';
  if (input.flagIntent !== undefined && input.flagIntent !== '') {
    intent = input.flagIntent;
    intentSource = 'flag';
  } else if (input.intentMap?.has(input.agentId)) {
    intent = input.intentMap.get(input.agentId);
    intentSource = 'intent_map';
  } else if (agent.intent !== undefined) {
    intent = agent.intent;
    intentSource = 'policy';
  }
  if (intent !== undefined && !policy.intents.has(intent)) {
    notes.push(
      `session intent "${intent}" (from ${intentSource === 'intent_map' ? 'intent_map.json' : '--session-intent'}) is not defined in the policy ${policy.source.path}: every tool call will be refused until it is defined under "intents"`,
    );
  }
  return {mode, modeSource, intent, intentSource, notes};
}
