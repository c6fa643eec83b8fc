import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {decideAndRecord} from '../../src/approvals/decide.js';
import {readApprovals, requestApproval, type ApprovalBinding, type RequestInfo} from '../../src/approvals/store.js';
import type {AuditEvent} from '../../src/audit/events.js';
import {readEvents} from '../../src/audit/reader.js';
import {canonicalHash} from '../../src/core/canonical-json.js';
import type {ManagedPreferences} from '../../src/settings/managed.js';
import {resolveSettings} from '../../src/settings/resolve.js';
import {invalidAuditEvents} from '../helpers/audit-schemas.js';
import {parseEnvelope, runThoth} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';
import {E2E_POLICY, refusedCall, startSession} from '../policy/session.js';

/**
 * (d) THOTH_CLI_APPROVALS=off: a fleet turns command-line approvals off. thoth approve / deny
 * refuse, sessions ignore command-line grants (sealed or not) and do not suggest the command
 * line; the client's prompt (elicitation) and the control plane remain.
 */
const binding: ApprovalBinding = {
  agentId: 'fs',
  tool: 'write_file',
  argumentsHash: canonicalHash({path: '/w/a'}),
  policyVersion: 'v1@sha256:aa',
};
const info: RequestInfo = {
  sessionId: 'sess-1',
  intent: null,
  mode: 'step_up',
  ruleId: 'rule:writes',
  reason: 'writes need approval',
  argumentsJson: '{"path":"/w/a"}',
  ttlMs: 600_000,
};
const FLAGS = ['--agent-id', 'everything', '--policy', E2E_POLICY];

function managed(entries: Record<string, unknown>): () => Promise<ManagedPreferences> {
  const origin = '/Library/Managed Preferences/io.thoth.agent.plist';
  return async () => ({entries: new Map(Object.entries(entries).map(([key, value]) => [key, {value, origin}])), problems: []});
}

describe('the THOTH_CLI_APPROVALS setting', () => {
  it('defaults to on; managed preferences and the environment turn it off (on/off, true/false)', async () => {
    const home = await tempDir();
    const base = {env: {}, home, cwd: home, platform: 'linux' as const, profileDir: home};
    expect((await resolveSettings(base)).values.cliApprovals).toBe(true);
    const fromManaged = await resolveSettings({...base, readManagedPreferences: managed({THOTH_CLI_APPROVALS: false})});
    expect(fromManaged.values.cliApprovals).toBe(false);
    expect(fromManaged.origins.cliApprovals.source).toBe('managed');
    expect((await resolveSettings({...base, readManagedPreferences: managed({THOTH_CLI_APPROVALS: 'off'})})).values.cliApprovals).toBe(
      false,
    );
    // The environment cannot turn a managed off back on: an agent's shell would do exactly that.
    const overridden = await resolveSettings({
      ...base,
      env: {...base.env, THOTH_CLI_APPROVALS: 'on'},
      readManagedPreferences: managed({THOTH_CLI_APPROVALS: 'off'}),
    });
    expect(overridden.values.cliApprovals).toBe(false);
    expect(overridden.overrides.map((override) => override.name)).toEqual(['THOTH_CLI_APPROVALS']);
    expect((await resolveSettings({...base, env: {THOTH_CLI_APPROVALS: 'off'}})).values.cliApprovals).toBe(false);
    expect((await resolveSettings({...base, env: {THOTH_CLI_APPROVALS: 'maybe'}})).problems).toEqual([
      'THOTH_CLI_APPROVALS from THOTH_CLI_APPROVALS: must be on or off (got "maybe")',
    ]);
  });

  it('off in managed preferences: thoth approve and thoth deny refuse, and the request stays pending', async () => {
    const home = await tempDir();
    const {record} = await requestApproval(home, binding, info);
    const io = {
      env: {THOTH_HOME: home},
      resolve: {readManagedPreferences: managed({THOTH_CLI_APPROVALS: 'off'}), platform: 'linux' as const},
    };
    for (const verdict of ['approved', 'denied'] as const) {
      await expect(decideAndRecord(home, record.id, verdict, {by: 'ann'}, io)).rejects.toMatchObject({
        code: 'CLI_APPROVALS_OFF',
        exitCode: 6,
        message: expect.stringContaining('command-line approvals are turned off on this computer'),
      });
    }
    expect((await readApprovals(home)).approvals[0]).toMatchObject({id: record.id, status: 'pending'});
    // The same with approvals on: the decision goes through.
    await decideAndRecord(
      home,
      record.id,
      'approved',
      {by: 'ann'},
      {env: {THOTH_HOME: home}, resolve: {readManagedPreferences: managed({}), platform: 'linux'}},
    );
    expect((await readApprovals(home)).approvals[0]).toMatchObject({status: 'approved'});
  });

  it('off, or invalid, in the environment: the command refuses with a clear error (exit 6, or 3 for an invalid value)', async () => {
    const home = await tempDir();
    const {record} = await requestApproval(home, binding, info);
    const off = await runThoth(['approve', record.id, '--json'], {env: {THOTH_HOME: home, THOTH_CLI_APPROVALS: 'off'}});
    expect(off.code).toBe(6);
    expect(parseEnvelope(off.stdout).error).toMatchObject({
      code: 'CLI_APPROVALS_OFF',
      message: expect.stringContaining('THOTH_CLI_APPROVALS'),
    });
    const invalid = await runThoth(['deny', record.id, '--json'], {env: {THOTH_HOME: home, THOTH_CLI_APPROVALS: 'nah'}});
    expect(invalid.code).toBe(3);
    expect(parseEnvelope(invalid.stdout).error).toMatchObject({
      code: 'SETTINGS_INVALID',
      message: expect.stringContaining('THOTH_CLI_APPROVALS'),
    });
    expect((await readApprovals(home)).approvals[0]).toMatchObject({status: 'pending'});
  });

  it('off for a session: no approval request, no command suggested, and a sealed grant made earlier is ignored', async () => {
    const home = await tempDir();
    // With approvals on: requested and approved the proper way (a sealed APPROVAL_GRANTED).
    const before = await startSession({home, flags: FLAGS});
    let approvalId = '';
    try {
      approvalId = (await refusedCall(before.client, 'get-sum', {a: 5000, b: 1})).data['approvalId'] as string;
    } finally {
      await before.close();
    }
    expect((await runThoth(['approve', approvalId], {env: {THOTH_HOME: home}})).code).toBe(0);

    const session = await startSession({home, flags: FLAGS, env: {THOTH_CLI_APPROVALS: 'off'}});
    try {
      const retry = await refusedCall(session.client, 'get-sum', {a: 5000, b: 1});
      expect(retry.code).toBe(-32002);
      expect(retry.data).not.toHaveProperty('approvalId');
      expect(retry.message).not.toMatch(/thoth approv/);
      expect(retry.message).toContain('command-line approvals are turned off on this computer');
      const other = await refusedCall(session.client, 'get-sum', {a: 6000, b: 1});
      expect(other.code).toBe(-32002);
      expect(other.data).not.toHaveProperty('approvalId');
    } finally {
      await session.close();
    }
    // Nothing new waits for a command-line decision; the earlier grant was not used.
    const approvals = (await readApprovals(home)).approvals;
    expect(approvals.map((record) => [record.id, record.status])).toEqual([[approvalId, 'approved']]);
    const auditDir = join(home, 'audit');
    const events: AuditEvent[] = (await readEvents(auditDir)).map((stored) => stored.event);
    expect(events.filter((event) => event.type === 'APPROVAL_USED')).toEqual([]);
    expect(events.filter((event) => event.type === 'APPROVAL_UNVERIFIED')).toEqual([
      expect.objectContaining({approvalId, why: expect.stringContaining('THOTH_CLI_APPROVALS=off')}),
    ]);
    expect(await invalidAuditEvents(auditDir)).toEqual([]);
  });
});
