import {describe, expect, it} from 'vitest';

import {compilePolicy} from '../../src/policy/compile.js';
import {resolveSessionSettings} from '../../src/policy/session-settings.js';

function policy(agentMode?: 'block' | 'observe', lock = false) {
  const result = compilePolicy({version: 't', agents: {a: {...(agentMode ? {mode: agentMode} : {}), ...(lock ? {lock_mode: true} : {})}}}, {
    kind: 'builtin',
  } as never);
  if (!('policy' in result) || !result.policy) throw new Error('policy did not compile');
  return result.policy;
}

describe('resolveSessionSettings: the mode and where it came from', () => {
  it('records the settings layer that chose the mode (managed preferences, profile), not just "flag"', () => {
    expect(resolveSessionSettings(policy('observe'), {agentId: 'a', flagMode: 'block', flagModeSource: 'managed'})).toMatchObject({
      mode: 'block',
      modeSource: 'managed',
    });
    expect(resolveSessionSettings(policy(), {agentId: 'a', flagMode: 'step_up', flagModeSource: 'profile'})).toMatchObject({
      mode: 'step_up',
      modeSource: 'profile',
    });
    expect(resolveSessionSettings(policy(), {agentId: 'a', flagMode: 'step_up'})).toMatchObject({modeSource: 'flag'});
  });

  it('falls back to the policy, then progressive, and a locked policy mode wins over any layer', () => {
    expect(resolveSessionSettings(policy('observe'), {agentId: 'a'})).toMatchObject({mode: 'observe', modeSource: 'policy'});
    expect(resolveSessionSettings(policy(), {agentId: 'a'})).toMatchObject({mode: 'progressive', modeSource: 'default'});
    const locked = resolveSessionSettings(policy('block', true), {agentId: 'a', flagMode: 'observe', flagModeSource: 'managed'});
    expect(locked).toMatchObject({mode: 'block', modeSource: 'policy-locked'});
    expect(locked.notes.join(' ')).toMatch(/locks agent "a" to block mode/);
  });
});
