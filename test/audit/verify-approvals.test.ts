import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {recordApprovalDecision} from '../../src/approvals/decision-audit.js';
import type {ApprovalRecord} from '../../src/approvals/store.js';
import {loadOrCreateKey, type AuditKey} from '../../src/audit/key.js';
import {FileAuditSink} from '../../src/audit/sink.js';
import {canonicalHash, sha256Digits} from '../../src/core/canonical-json.js';
import {loadValidator} from '../../src/util/validators.js';
import {parseEnvelope, runThoth} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';
import {testContext, testSettings} from './helpers.js';

/**
 * `thoth audit verify` cross-checks approvals: every APPROVAL_USED needs a matching
 * APPROVAL_GRANTED (via cli) in a sealed chain of the directory. The trails are written by the
 * real writers (the session's sink, thoth approve's standalone chain).
 */
const argumentsHash = canonicalHash({a: 5000, b: 1});

function grantRecord(id: string, overrides: Partial<ApprovalRecord> = {}): ApprovalRecord {
  const now = new Date();
  return {
    id,
    status: 'approved',
    agentId: 'files',
    tool: 'get-sum',
    argumentsHash,
    policyVersion: 'v1@sha256:0123456789abcdef',
    requestedAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + 600_000).toISOString(),
    ttlMs: 600_000,
    sessionId: 'session-1',
    intent: null,
    mode: 'block',
    ruleId: 'rule:big-sums',
    reason: 'sums over 1000 need approval',
    argumentsPreview: '{"a":5000,"b":1}',
    decidedAt: now.toISOString(),
    decidedBy: 'ann',
    ...overrides,
  };
}

async function profile(): Promise<{home: string; auditDir: string; key: AuditKey}> {
  const home = await tempDir();
  const key = await loadOrCreateKey(join(home, 'audit_hmac_key.json'));
  return {home, auditDir: join(home, 'audit'), key};
}

/** A session that used `approvalIds` (APPROVAL_USED, as step-up writes it), sealed. */
async function sessionUsing(auditDir: string, key: AuditKey, approvalIds: string[], fields: Record<string, unknown> = {}): Promise<void> {
  const context = testContext({agentId: 'files'});
  const sink = new FileAuditSink({settings: testSettings(auditDir), context, key});
  for (const approvalId of approvalIds) {
    sink.event('APPROVAL_USED', context, {
      approvalId,
      toolName: 'get-sum',
      argumentsSha256: sha256Digits(argumentsHash),
      policyVersion: 'v1@sha256:0123456789abcdef',
      ruleId: 'rule:big-sums',
      approvedBy: 'ann',
      ...fields,
    });
  }
  await sink.flush();
  await sink.close();
}

async function verify(home: string) {
  const result = await runThoth(['audit', 'verify', '--json'], {env: {THOTH_HOME: home}});
  const envelope = parseEnvelope<{status: string; problems: Array<{kind: string; message: string; file: string; chain?: string}>}>(
    result.stdout,
  );
  const validate = await loadValidator('audit/verify-result');
  expect(validate(envelope), JSON.stringify(validate.errors)).toBe(true);
  return {code: result.code, report: envelope.result!};
}

describe('audit verify: every APPROVAL_USED needs its sealed APPROVAL_GRANTED', () => {
  it('a use without a grant (approvals.json edited by hand) fails verification, naming the approval', async () => {
    const {home, auditDir, key} = await profile();
    await sessionUsing(auditDir, key, ['forgedgrant1']);
    const {code, report} = await verify(home);
    expect(code).toBe(12);
    expect(report.status).toBe('tampered');
    expect(report.problems).toEqual([
      expect.objectContaining({
        kind: 'unapproved',
        message: expect.stringContaining('approval forgedgrant1'),
        file: expect.stringMatching(/\.jsonl$/),
      }),
    ]);
  });

  it('a use with its grant is intact; a grant for other arguments, or used twice, is not', async () => {
    const {home, auditDir, key} = await profile();
    const settings = testSettings(auditDir, {keyFile: key.path});
    await recordApprovalDecision(settings, grantRecord('genuinegrnt'), {key});
    await sessionUsing(auditDir, key, ['genuinegrnt']);
    expect(await verify(home)).toMatchObject({code: 0, report: {status: 'intact', problems: []}});

    // A grant for other arguments does not cover this use.
    await recordApprovalDecision(settings, grantRecord('othercall1', {argumentsHash: canonicalHash({a: 1, b: 1})}), {key});
    await sessionUsing(auditDir, key, ['othercall1']);
    const mismatched = await verify(home);
    expect(mismatched.code).toBe(12);
    expect(mismatched.report.problems).toEqual([
      expect.objectContaining({kind: 'unapproved', message: expect.stringContaining('approval othercall1')}),
    ]);
  });

  it('a grant used more than once is reported', async () => {
    const {home, auditDir, key} = await profile();
    await recordApprovalDecision(testSettings(auditDir, {keyFile: key.path}), grantRecord('usedtwice1'), {key});
    await sessionUsing(auditDir, key, ['usedtwice1']);
    await sessionUsing(auditDir, key, ['usedtwice1']);
    const {code, report} = await verify(home);
    expect(code).toBe(12);
    expect(report.problems).toEqual([
      expect.objectContaining({kind: 'unapproved', message: expect.stringMatching(/approval usedtwice1 .*used 2 times/)}),
    ]);
  });
});
