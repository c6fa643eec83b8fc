import {existsSync} from 'node:fs';
import {writeFile} from 'node:fs/promises';
import {userInfo} from 'node:os';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {readEvents, type StoredEvent} from '../../src/audit/reader.js';
import {readApprovals, requestApproval, type ApprovalBinding, type RequestInfo} from '../../src/approvals/store.js';
import {canonicalHash, sha256Digits} from '../../src/core/canonical-json.js';
import {invalidAuditEvents} from '../helpers/audit-schemas.js';
import {parseEnvelope, runThoth} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';
import {E2E_POLICY, refusedCall, startSession} from '../policy/session.js';

async function thoth(home: string, args: string[], env: Record<string, string> = {}) {
  const result = await runThoth([...args, '--json'], {env: {THOTH_HOME: home, ...env}});
  return {...result, envelope: parseEnvelope<Record<string, unknown>>(result.stdout)};
}

async function stored(auditDir: string): Promise<StoredEvent[]> {
  return existsSync(auditDir) ? readEvents(auditDir) : [];
}

const binding: ApprovalBinding = {
  agentId: 'fs',
  tool: 'write_file',
  argumentsHash: canonicalHash({path: '/w/a'}),
  policyVersion: 'v1@sha256:aa',
};
const info: RequestInfo = {
  sessionId: 'sess-1',
  intent: 'billing',
  mode: 'step_up',
  ruleId: 'rule:writes',
  reason: 'writes need approval',
  argumentsJson: '{"path":"/w/a"}',
  ttlMs: 600_000,
};

describe('thoth approve / thoth deny write their decision to the audit trail', () => {
  it('a request from a real session, approved and denied: APPROVAL_GRANTED / APPROVAL_DENIED via cli, each in a sealed chain of its own', async () => {
    const home = await tempDir();
    const session = await startSession({home, flags: ['--agent-id', 'everything', '--policy', E2E_POLICY]});
    let toApprove = '';
    let toDeny = '';
    try {
      toApprove = (await refusedCall(session.client, 'get-sum', {a: 5000, b: 1})).data['approvalId'] as string;
      toDeny = (await refusedCall(session.client, 'get-sum', {a: 6000, b: 1})).data['approvalId'] as string;
    } finally {
      await session.close();
    }
    expect(toApprove).not.toBe(toDeny);

    const approved = await thoth(home, ['approve', toApprove, '--note', 'checked with finance']);
    expect(approved.code).toBe(0);
    const denied = await thoth(home, ['deny', toDeny, '--note', 'too large']);
    expect(denied.code).toBe(0);

    const auditDir = join(home, 'audit');
    const events = await stored(auditDir);
    const requested = events.find((one) => one.event.type === 'APPROVAL_REQUESTED' && one.event['approvalId'] === toApprove)!.event;
    const deniedRequest = events.find((one) => one.event.type === 'APPROVAL_REQUESTED' && one.event['approvalId'] === toDeny)!.event;
    const grant = events.find((one) => one.event.type === 'APPROVAL_GRANTED')!;
    const denial = events.find((one) => one.event.type === 'APPROVAL_DENIED')!;
    const me = userInfo().username;
    expect(grant.event).toMatchObject({
      via: 'cli',
      approvalId: toApprove,
      toolName: 'get-sum',
      argumentsSha256: sha256Digits(canonicalHash({a: 5000, b: 1})),
      policyVersion: requested['policyVersion'],
      ruleId: 'rule:big-sums',
      approvedBy: me,
      note: 'checked with finance',
      expiresAt: approved.envelope.result?.['expiresAt'],
      agentId: 'everything',
      sessionId: requested['sessionId'],
      mode: 'block',
      sourceType: 'thoth_proxy',
    });
    expect(grant.event['argumentsSha256']).toBe(requested['argumentsSha256']);
    expect(denial.event).toMatchObject({
      via: 'cli',
      approvalId: toDeny,
      toolName: 'get-sum',
      argumentsSha256: deniedRequest['argumentsSha256'],
      policyVersion: deniedRequest['policyVersion'],
      ruleId: 'rule:big-sums',
      deniedBy: me,
      note: 'too large',
      expiresAt: denied.envelope.result?.['expiresAt'],
      sessionId: deniedRequest['sessionId'],
      mode: 'block',
    });
    expect(denial.event).not.toHaveProperty('approvedBy');

    // One chain per decision, holding only that event, not the session's chain; the command says which.
    expect(approved.envelope.result?.['audit']).toEqual({chain: grant.chain, file: grant.file, eventId: grant.event.eventId});
    expect(denied.envelope.result?.['audit']).toEqual({chain: denial.chain, file: denial.file, eventId: denial.event.eventId});
    expect(new Set([grant.chain, denial.chain, events.find((one) => one.event.type === 'SESSION_START')!.chain]).size).toBe(3);
    expect(events.filter((one) => one.chain === grant.chain).map((one) => one.event.type)).toEqual(['APPROVAL_GRANTED']);

    expect(await invalidAuditEvents(auditDir)).toEqual([]);
    const verified = await thoth(home, ['audit', 'verify']);
    expect(verified.stderr).toBe('');
    expect(verified.code).toBe(0);
    expect(verified.envelope.ok).toBe(true);
  });

  it('an approval record of an older version (no mode) is recorded with mode step_up and says so', async () => {
    const home = await tempDir();
    const {mode: _mode, ...legacyInfo} = info;
    const {record} = await requestApproval(home, binding, legacyInfo);
    expect(record).not.toHaveProperty('mode');
    expect((await thoth(home, ['approve', record.id])).code).toBe(0);
    const [event] = (await stored(join(home, 'audit'))).map((one) => one.event);
    expect(event).toMatchObject({
      type: 'APPROVAL_GRANTED',
      approvalId: record.id,
      mode: 'step_up',
      modeRecorded: false,
      intent: 'billing',
      sessionId: 'sess-1',
      agentId: 'fs',
    });
    expect(event).not.toHaveProperty('note');
    expect(await invalidAuditEvents(join(home, 'audit'))).toEqual([]);
  });

  it('THOTH_AUDIT=off: approve refuses (a grant counts only on record); deny is applied, unrecorded, and says so', async () => {
    const home = await tempDir();
    const {record} = await requestApproval(home, binding, info);
    const approved = await thoth(home, ['approve', record.id], {THOTH_AUDIT: 'off'});
    expect(approved.code).toBe(6);
    expect(approved.envelope.error).toMatchObject({code: 'APPROVAL_NOT_RECORDED', message: expect.stringContaining('THOTH_AUDIT=off')});
    expect((await readApprovals(home)).approvals[0]).toMatchObject({id: record.id, status: 'pending'});
    const denied = await thoth(home, ['deny', record.id], {THOTH_AUDIT: 'off'});
    expect(denied.code).toBe(0);
    expect(denied.envelope.result?.['audit']).toBeNull();
    expect(denied.envelope.warnings).toContainEqual(expect.stringContaining('THOTH_AUDIT=off'));
    expect((await readApprovals(home)).approvals[0]).toMatchObject({id: record.id, status: 'denied'});
    expect(await stored(join(home, 'audit'))).toEqual([]);
  });

  it('when the trail cannot be written the decision is not applied, and the same command succeeds once it can', async () => {
    const home = await tempDir();
    const {record} = await requestApproval(home, binding, info);
    // A directory below a regular file cannot be created, whoever runs the test (root included).
    const blocker = join(home, 'not-a-dir');
    await writeFile(blocker, 'x');
    const broken = {THOTH_AUDIT_DIR: join(blocker, 'audit')};
    for (const verb of ['approve', 'deny']) {
      const failed = await thoth(home, [verb, record.id], broken);
      expect(failed.code).toBe(1);
      expect(failed.envelope.error).toMatchObject({code: 'AUDIT_WRITE_FAILED', message: expect.stringContaining('it was not applied')});
      expect((await readApprovals(home)).approvals[0]).toMatchObject({id: record.id, status: 'pending'});
      expect((await readApprovals(home)).approvals[0]).not.toHaveProperty('decidedBy');
    }
    // An invalid audit setting also stops the decision before anything changes.
    const invalid = await thoth(home, ['deny', record.id], {THOTH_AUDIT: 'maybe'});
    expect(invalid.code).toBe(2);
    expect(invalid.envelope.error?.code).toBe('AUDIT_SETTING_INVALID');
    expect((await readApprovals(home)).approvals[0]).toMatchObject({status: 'pending'});

    const retried = await thoth(home, ['deny', record.id]);
    expect(retried.code).toBe(0);
    expect((await readApprovals(home)).approvals[0]).toMatchObject({status: 'denied'});
    expect((await stored(join(home, 'audit'))).map((one) => one.event.type)).toEqual(['APPROVAL_DENIED']);
    expect((await thoth(home, ['audit', 'verify'])).code).toBe(0);
  });
});
