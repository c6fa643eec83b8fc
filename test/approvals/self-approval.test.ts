import {describe, expect, it} from 'vitest';

import {parseEnvelope, runThoth} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';
import {E2E_POLICY, refusedCall, startSession} from '../policy/session.js';

/**
 * An agent must not be able to approve its own step-up (security issue "An agent cannot get
 * around thoth", class 4). Each layer is tested through a real `thoth run` session.
 */
const FLAGS = ['--agent-id', 'everything', '--policy', E2E_POLICY];

async function thoth(home: string, args: string[], env: Record<string, string> = {}) {
  const result = await runThoth([...args, '--json'], {env: {THOTH_HOME: home, ...env}});
  return {...result, envelope: parseEnvelope<Record<string, unknown>>(result.stdout)};
}

/** Waits until `read()` satisfies `done` (stderr arrives on its own schedule), without asserting a time. */
async function eventually<T>(read: () => T, done: (value: T) => boolean, attempts = 200): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const value = read();
    if (done(value)) return value;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return read();
}

describe('(a) the -32002 error the model sees carries no approve command', () => {
  it('neither message nor data holds "approve <id>"; the operator gets the command on stderr and from thoth approvals list', async () => {
    const home = await tempDir();
    const session = await startSession({home, flags: FLAGS});
    let approvalId = '';
    try {
      const stepped = await refusedCall(session.client, 'get-sum', {a: 5000, b: 1});
      expect(stepped.code).toBe(-32002);
      approvalId = stepped.data['approvalId'] as string;
      expect(approvalId).toMatch(/^[0-9a-z]{10}$/);
      expect(stepped.data).toMatchObject({decision: 'step_up', ruleId: 'rule:big-sums', expiresAt: expect.any(String)});
      expect(stepped.data).not.toHaveProperty('approveCommand');
      // Whatever the model reads: no runnable approval, in any spelling.
      const seenByModel = JSON.stringify({message: stepped.message, data: stepped.data});
      expect(seenByModel).not.toContain(`approve ${approvalId}`);
      expect(seenByModel).not.toMatch(/thoth approve\b/);
      // It does say that a person has to review it, and where that person looks.
      expect(stepped.message).toContain(approvalId);
      expect(stepped.message).toContain('thoth approvals list');

      // stderr goes to the client's MCP log, which the operator reads.
      const stderr = await eventually(session.stderr, (text) => text.includes(`thoth approve ${approvalId}`));
      expect(stderr).toContain(`thoth approve ${approvalId} --thoth-home ${home}`);
    } finally {
      await session.close();
    }

    const listed = await runThoth(['approvals', 'list'], {env: {THOTH_HOME: home}});
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(`thoth approve ${approvalId}`);
    const listedJson = await thoth(home, ['approvals', 'list']);
    expect(listedJson.envelope.result?.['approvals']).toEqual([expect.objectContaining({id: approvalId, approveCommand: expect.stringContaining(`thoth approve ${approvalId}`)})]);
  });
});
