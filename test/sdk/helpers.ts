import {join} from 'node:path';

import {expect} from 'vitest';

import type {AuditEvent} from '../../src/audit/events.js';
import {readEvents} from '../../src/audit/reader.js';
import type {PolicyDocument} from '../../src/policy/model.js';
import {invalidAuditEvents} from '../helpers/audit-schemas.js';
import {parseEnvelope, runThoth} from '../helpers/cli.js';

/** The environment an SDK session in this test process reads its settings from: its own profile, nothing of the machine's. */
export function sdkEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {PATH: process.env['PATH'], HOME: process.env['HOME'], THOTH_HOME: home, ...extra};
}

/**
 * The policy of the provider-loop tests (agent `sdk-e2e`): block mode; reads are in scope, writes
 * are in scope but need a person's approval, everything else is out of scope.
 */
export const LOOP_POLICY: PolicyDocument = {
  version: 'sdk-loop-1',
  agents: {
    'sdk-e2e': {
      mode: 'block',
      approved_scope: ['read_file', 'write_file'],
      rules: [{id: 'writes-need-approval', tool: 'write_file', decision: 'step_up', reason: "writes need a person's approval"}],
    },
  },
};

/** What the person does: `thoth approvals list --json`, then `thoth approve ID` for the one pending request, in their own terminal. */
export async function approveThePendingCall(home: string, tool: string): Promise<string> {
  const listed = await runThoth(['approvals', 'list', '--json'], {env: {THOTH_HOME: home}});
  const approvals = parseEnvelope<{approvals: Array<{id: string; tool: string; state: string}>}>(listed.stdout).result?.approvals ?? [];
  const pending = approvals.filter((approval) => approval.state === 'pending' && approval.tool === tool);
  expect(pending, listed.stdout).toHaveLength(1);
  const approved = await runThoth(['approve', pending[0]!.id], {env: {THOTH_HOME: home}});
  expect(approved.code, approved.stderr).toBe(0);
  return pending[0]!.id;
}

/** `thoth audit verify` over the profile's trail, as the operator runs it, and every event checked against its schema. */
export async function expectTrailVerifies(home: string): Promise<AuditEvent[]> {
  const verified = await runThoth(['audit', 'verify', join(home, 'audit'), '--json'], {env: {THOTH_HOME: home}});
  expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  expect(parseEnvelope<{status: string}>(verified.stdout).result?.status).toBe('intact');
  expect(await invalidAuditEvents(join(home, 'audit'))).toEqual([]);
  return (await readEvents(join(home, 'audit'))).map((stored) => stored.event);
}

/** The TOOL_CALL_PRE/POST events of a trail, as [type, toolName, decision] for compact assertions. */
export function toolCallEvents(events: readonly AuditEvent[]): Array<[string, unknown, unknown]> {
  return events.filter((event) => event.type.startsWith('TOOL_CALL_')).map((event) => [event.type, event['toolName'], event['decision']]);
}

/**
 * The records of the provider helpers' scenario (anthropic.test.ts, openai.test.ts): the first
 * turn reads a file and tries a delete (run concurrently, so their records may interleave), then
 * a write steps up and, once approved, is allowed.
 */
export function expectProviderScenarioRecords(events: readonly AuditEvent[]): void {
  const recorded = toolCallEvents(events);
  expect(recorded.slice(0, 4).map(String).sort()).toEqual(
    [
      'TOOL_CALL_PRE,read_file,allow',
      'TOOL_CALL_POST,read_file,allow',
      'TOOL_CALL_PRE,delete_file,block',
      'TOOL_CALL_POST,delete_file,block',
    ].sort(),
  );
  expect(recorded.slice(4)).toEqual([
    ['TOOL_CALL_PRE', 'write_file', 'step_up'],
    ['TOOL_CALL_POST', 'write_file', 'step_up'],
    ['TOOL_CALL_PRE', 'write_file', 'allow'],
    ['TOOL_CALL_POST', 'write_file', 'allow'],
  ]);
}
