import {mkdir, rename, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';

import {ToolListChangedNotificationSchema} from '@modelcontextprotocol/sdk/types.js';
import {describe, expect, it} from 'vitest';

import {readEvents} from '../../src/audit/reader.js';
import {invalidAuditEvents} from '../helpers/audit-schemas.js';
import {parseEnvelope, runThoth} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';
import {callText, refusedCall, startSession} from './session.js';

const ALLOW_ECHO = {version: 'allow-echo', defaults: {mode: 'block', approved_scope: ['echo', 'get-sum']}};
const BLOCK_ECHO = {
  ...ALLOW_ECHO,
  version: 'block-echo',
  rules: [{id: 'retire-echo', tool: 'echo', decision: 'block', reason: 'echo is retired by the security team'}],
};
const INVALID = '{\n  "version": "oops",\n  "agents": {"everything": {"mode": "blok"}}\n}\n';

/** As MDM tools install files: written beside the target, then renamed over it. */
async function install(path: string, content: unknown): Promise<void> {
  const temporary = `${path}.partial`;
  await writeFile(temporary, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  await rename(temporary, path);
}

/** Polls until `probe` holds, failing after a generous deadline (the machine may be busy). */
async function until(what: string, probe: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const count = (text: string, needle: string) => text.split(needle).length - 1;

describe('policy reload through a real thoth run (SDK client → thoth run → server-everything)', () => {
  it('a replaced policy applies to the running session, an invalid one fails closed naming the problem, a valid one recovers; the trail verifies', async () => {
    const home = await tempDir();
    const policyDir = join(await tempDir(), 'mdm');
    await mkdir(policyDir, {recursive: true});
    const policy = join(policyDir, 'policy.json');
    await install(policy, ALLOW_ECHO);

    const session = await startSession({
      home,
      flags: ['--agent-id', 'everything', '--policy', policy],
      env: {THOTH_POLICY_RELOAD_INTERVAL_MS: '100'},
    });
    let listChanged = 0;
    session.client.setNotificationHandler(ToolListChangedNotificationSchema, () => void listChanged++);
    const toolNames = async () => (await session.client.listTools()).tools.map((tool) => tool.name).sort();
    try {
      expect(await callText(session.client, 'echo', {message: 'hello'})).toBe('Echo: hello');
      expect(await toolNames()).toEqual(['echo', 'get-sum']);
      // server-everything announces its own tools/list_changed while initialising (it registers
      // tools once it knows the client): it has arrived before the answers above. What follows is thoth's.
      const fromServer = listChanged;

      await install(policy, BLOCK_ECHO);
      await until('the block policy to be reloaded', () => count(session.stderr(), 'policy reloaded (') >= 1);
      const blocked = await refusedCall(session.client, 'echo', {message: 'hello'});
      expect(blocked.code).toBe(-32001);
      expect(blocked.data).toMatchObject({
        decision: 'block',
        ruleId: 'rule:retire-echo',
        reason: 'echo is retired by the security team',
        mode: 'block',
      });
      expect(session.stderr()).toMatch(
        new RegExp(`policy reloaded \\(${policy} was replaced\\): block-echo@sha256:[0-9a-f]{16} from ${policy}, block mode`),
      );
      // The server declared tools.listChanged, so thoth told the client its list changed.
      await until('tools/list_changed', () => listChanged >= fromServer + 1);
      expect(await toolNames()).toEqual(['get-sum']);

      await install(policy, INVALID);
      await until('the invalid policy to be seen', () => session.stderr().includes('policy reload: policy '));
      const refused = await refusedCall(session.client, 'get-sum', {a: 1, b: 2});
      expect(refused.code).toBe(-32001);
      expect(refused.data['ruleId']).toBe('policy:invalid');
      expect(refused.data['reason']).toMatch(
        new RegExp(`^policy ${policy}:3:\\d+ at /agents/everything/mode: must be one of .*check it with: thoth policy validate ${policy}`),
      );

      await install(policy, ALLOW_ECHO);
      await until('the valid policy to be reloaded', () => count(session.stderr(), 'policy reloaded (') >= 2);
      expect(await callText(session.client, 'echo', {message: 'back'})).toBe('Echo: back');
      // One per reload that changed what is hidden: block → failed (nothing filtered) → allow.
      await until('three tools/list_changed from thoth', () => listChanged >= fromServer + 3);
      expect(listChanged - fromServer).toBe(3);
    } finally {
      await session.close();
    }

    const trail = join(home, 'audit');
    const verified = await runThoth(['audit', 'verify', trail, '--json'], {env: {THOTH_HOME: home}});
    expect(parseEnvelope<{status: string}>(verified.stdout).result?.status).toBe('intact');

    const events = (await readEvents(trail)).map((stored) => stored.event);
    const policyEvents = events.filter((event) => event.type.startsWith('POLICY_'));
    expect(
      policyEvents.map((event) => [
        event.type,
        event['reload'],
        event['previousVersion'] === null ? null : typeof event['previousVersion'],
      ]),
    ).toEqual([
      ['POLICY_LOADED', false, 'undefined'],
      ['POLICY_LOADED', true, 'string'],
      ['POLICY_LOAD_FAILED', true, 'string'],
      ['POLICY_LOADED', true, null],
    ]);
    expect(policyEvents[1]).toMatchObject({
      status: 'loaded',
      source: 'flag',
      policyFile: policy,
      policyVersion: expect.stringMatching(/^block-echo@/),
      change: `${policy} was replaced`,
      previousVersion: policyEvents[0]!['policyVersion'],
    });
    expect(policyEvents[2]).toMatchObject({
      status: 'invalid',
      policyFile: policy,
      message: expect.stringContaining('/agents/everything/mode'),
      previousVersion: policyEvents[1]!['policyVersion'],
    });
    // The refused call is on record with the reason the client got.
    expect(events.find((event) => event.type === 'TOOL_CALL_PRE' && event['ruleId'] === 'rule:retire-echo')).toMatchObject({
      decision: 'block',
      toolName: 'echo',
    });
    // Every event validates against its type's JSON Schema, whatever its type.
    expect(new Set(events.map((event) => event.type))).toEqual(
      new Set([
        'SESSION_START',
        'SESSION_END',
        'POLICY_LOADED',
        'POLICY_LOAD_FAILED',
        'TOOL_CALL_PRE',
        'TOOL_CALL_POST',
        'TOOLS_HIDDEN',
        'PIN_RECORDED',
      ]),
    );
    expect(await invalidAuditEvents(trail)).toEqual([]);
  });
});
