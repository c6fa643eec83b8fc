import {execFile} from 'node:child_process';
import {join} from 'node:path';

import {describe, expect, it} from 'vitest';

import {createSession, ToolCallRefusedError} from '../../src/sdk/index.js';
import {REPO_ROOT, THOTH_BIN, parseEnvelope, runThoth} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';
import {expectTrailVerifies, sdkEnv} from './helpers.js';

const SHELL_AGENT = join(REPO_ROOT, 'fixtures', 'sdk', 'shell-agent.mjs');

/** The shell agent (a governed SDK program) runs `argv` with its shell tool; resolves with what the tool returned. */
function shellAgent(home: string, argv: string[]): Promise<{code: number; stdout: string; stderr: string}> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [SHELL_AGENT, JSON.stringify(argv)],
      {cwd: REPO_ROOT, env: {PATH: process.env['PATH'], HOME: process.env['HOME'], THOTH_HOME: home}, encoding: 'utf8', timeout: 30_000},
      (error, stdout, stderr) => {
        if (error) reject(new Error(`the shell agent failed: ${error.message}\n${stderr}`));
        else resolve(JSON.parse(stdout) as {code: number; stdout: string; stderr: string});
      },
    );
  });
}

describe('an agent governed by the SDK cannot approve its own stepped-up call', () => {
  it('thoth approve run by its shell tool refuses (the session marks the environment its children inherit); the request stays pending', async () => {
    const home = await tempDir();
    // A stepped-up call of another session of this user: a pending approval the agent would like granted.
    const session = createSession({
      agentId: 'billing',
      policy: {agents: {billing: {mode: 'step_up'}}},
      env: sdkEnv(home),
      onWarning: () => undefined,
    });
    let approvalId: string | undefined;
    try {
      await session.wrapToolFunc('refund', async () => 'refunded')({amount: 500});
    } catch (error) {
      if (!(error instanceof ToolCallRefusedError)) throw error;
      approvalId = error.approvalId;
    } finally {
      await session.close();
    }
    expect(approvalId).toMatch(/^[a-z0-9]+$/);

    const attempt = await shellAgent(home, [process.execPath, THOTH_BIN, 'approve', approvalId!]);
    expect(attempt.code).toBe(6);
    expect(attempt.stderr).toContain('cannot run inside a session that thoth governs');
    expect(attempt.stderr).toContain('THOTH_GOVERNED_SESSION is set');

    const listed = await runThoth(['approvals', 'list', '--json'], {env: {THOTH_HOME: home}});
    expect(parseEnvelope<{approvals: Array<{id: string; state: string}>}>(listed.stdout).result?.approvals).toEqual([
      expect.objectContaining({id: approvalId, state: 'pending'}),
    ]);
    const events = await expectTrailVerifies(home);
    expect(events.filter((event) => event.type === 'APPROVAL_GRANTED')).toEqual([]);
  });
});
