import {readFile, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {readApprovals} from '../../src/approvals/store.js';
import type {AuditEvent} from '../../src/audit/events.js';
import {readEvents} from '../../src/audit/reader.js';
import {invalidAuditEvents} from '../helpers/audit-schemas.js';
import {parseEnvelope, runThoth} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';
import {callText, E2E_POLICY, refusedCall, startSession} from '../policy/session.js';

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
    expect(listedJson.envelope.result?.['approvals']).toEqual([
      expect.objectContaining({id: approvalId, approveCommand: expect.stringContaining(`thoth approve ${approvalId}`)}),
    ]);
  });
});

/** approvals.json as a file tool would edit it: parse, change, write back. */
async function editApprovals(home: string, change: (records: Array<Record<string, unknown>>) => void): Promise<void> {
  const file = join(home, 'approvals.json');
  const parsed = JSON.parse(await readFile(file, 'utf8')) as {approvals: Array<Record<string, unknown>>};
  change(parsed.approvals);
  await writeFile(file, JSON.stringify(parsed, null, 2));
}

async function trail(auditDir: string): Promise<AuditEvent[]> {
  return (await readEvents(auditDir)).map((stored) => stored.event);
}

describe('(c) a grant counts only with its sealed APPROVAL_GRANTED in the trail; approvals.json alone is no authority', () => {
  it('an agent that edits approvals.json to "approved" gets -32002 again; the trail records the attempt, no APPROVAL_USED', async () => {
    const home = await tempDir();
    const session = await startSession({home, flags: FLAGS});
    let approvalId = '';
    try {
      approvalId = (await refusedCall(session.client, 'get-sum', {a: 5000, b: 1})).data['approvalId'] as string;
      // What a file tool can do: flip the record, naming whoever it likes as the approver.
      await editApprovals(home, (records) => {
        for (const record of records) {
          if (record['id'] !== approvalId) continue;
          Object.assign(record, {status: 'approved', decidedBy: 'security-team', decidedAt: new Date().toISOString()});
        }
      });
      const retry = await refusedCall(session.client, 'get-sum', {a: 5000, b: 1});
      expect(retry.code).toBe(-32002);
      expect(retry.data['approvalId']).not.toBe(approvalId);
      const stderr = await eventually(session.stderr, (text) => text.includes('is ignored'));
      expect(stderr).toContain(`approval ${approvalId}`);
      expect(stderr).toMatch(/no APPROVAL_GRANTED record/);
    } finally {
      await session.close();
    }
    const auditDir = join(home, 'audit');
    const events = await trail(auditDir);
    expect(events.filter((event) => event.type === 'APPROVAL_USED')).toEqual([]);
    expect(events.filter((event) => event.type === 'APPROVAL_UNVERIFIED')).toEqual([
      expect.objectContaining({
        approvalId,
        toolName: 'get-sum',
        claimedBy: 'security-team',
        why: expect.stringContaining('no APPROVAL_GRANTED record'),
      }),
    ]);
    expect(
      events.filter((event) => event.type === 'TOOL_CALL_PRE' && event['toolName'] === 'get-sum').map((event) => event['decision']),
    ).toEqual(['step_up', 'step_up']);
    expect(await invalidAuditEvents(auditDir)).toEqual([]);
    expect((await thoth(home, ['audit', 'verify'])).code).toBe(0);
  });

  it('pointing a forged grant at a real sealed grant of another call does not help either', async () => {
    const home = await tempDir();
    const session = await startSession({home, flags: FLAGS});
    try {
      const small = (await refusedCall(session.client, 'get-sum', {a: 2000, b: 1})).data['approvalId'] as string;
      expect((await thoth(home, ['approve', small])).code).toBe(0);
      const big = (await refusedCall(session.client, 'get-sum', {a: 9000, b: 9})).data['approvalId'] as string;
      await editApprovals(home, (records) => {
        const granted = records.find((record) => record['id'] === small)!;
        const target = records.find((record) => record['id'] === big)!;
        // Everything a grant carries, copied from the genuine one, pointer included.
        Object.assign(target, {
          status: 'approved',
          decidedBy: granted['decidedBy'],
          decidedAt: granted['decidedAt'],
          auditRecord: granted['auditRecord'],
        });
      });
      expect((await refusedCall(session.client, 'get-sum', {a: 9000, b: 9})).code).toBe(-32002);
      // The genuine grant still works for its own call.
      expect(await callText(session.client, 'get-sum', {a: 2000, b: 1})).toBe('The sum of 2000 and 1 is 2001.');
    } finally {
      await session.close();
    }
    const events = await trail(join(home, 'audit'));
    expect(events.filter((event) => event.type === 'APPROVAL_USED').map((event) => event['approvalId'])).toHaveLength(1);
    expect(events.filter((event) => event.type === 'APPROVAL_UNVERIFIED')).toEqual([
      expect.objectContaining({why: expect.stringContaining('approval')}),
    ]);
  });

  it('the legitimate path: thoth approve → the retry runs once, APPROVAL_USED names the sealed approver, audit verify is clean', async () => {
    const home = await tempDir();
    const session = await startSession({home, flags: FLAGS});
    let approvalId = '';
    try {
      approvalId = (await refusedCall(session.client, 'get-sum', {a: 5000, b: 1})).data['approvalId'] as string;
      const approved = await thoth(home, ['approve', approvalId]);
      expect(approved.code).toBe(0);
      expect((await readApprovals(home)).approvals.find((record) => record.id === approvalId)?.auditRecord).toEqual(
        approved.envelope.result?.['audit'],
      );
      expect(await callText(session.client, 'get-sum', {a: 5000, b: 1})).toBe('The sum of 5000 and 1 is 5001.');
    } finally {
      await session.close();
    }
    const auditDir = join(home, 'audit');
    const events = await trail(auditDir);
    const granted = events.find((event) => event.type === 'APPROVAL_GRANTED')!;
    expect(events.filter((event) => event.type === 'APPROVAL_USED')).toEqual([
      expect.objectContaining({approvalId, approvedBy: granted['approvedBy'], approvedAt: granted.timestamp}),
    ]);
    expect(events.filter((event) => event.type === 'APPROVAL_UNVERIFIED')).toEqual([]);
    const verified = await thoth(home, ['audit', 'verify']);
    expect(verified.code).toBe(0);
    expect(verified.envelope.result?.['problems']).toEqual([]);
  });

  it('a session with its own --audit-dir: approve writes there with --audit-dir, and refuses to write a useless grant elsewhere', async () => {
    const home = await tempDir();
    const auditDir = join(await tempDir(), 'elsewhere');
    const session = await startSession({home, flags: [...FLAGS, '--audit-dir', auditDir]});
    try {
      const approvalId = (await refusedCall(session.client, 'get-sum', {a: 7000, b: 1})).data['approvalId'] as string;
      const stderr = await eventually(session.stderr, (text) => text.includes(`thoth approve ${approvalId}`));
      expect(stderr).toContain(`--audit-dir ${auditDir}`);
      const wrongPlace = await thoth(home, ['approve', approvalId]);
      expect(wrongPlace.code).toBe(2);
      expect(wrongPlace.envelope.error).toMatchObject({code: 'APPROVAL_AUDIT_DIR_MISMATCH', message: expect.stringContaining(auditDir)});
      expect((await readApprovals(home)).approvals.find((record) => record.id === approvalId)?.status).toBe('pending');
      const listed = await thoth(home, ['approvals', 'list']);
      expect(listed.envelope.result?.['approvals']).toEqual([
        expect.objectContaining({approveCommand: expect.stringContaining(`--audit-dir ${auditDir}`)}),
      ]);
      expect((await thoth(home, ['approve', approvalId, '--audit-dir', auditDir])).code).toBe(0);
      expect(await callText(session.client, 'get-sum', {a: 7000, b: 1})).toBe('The sum of 7000 and 1 is 7001.');
    } finally {
      await session.close();
    }
    expect((await trail(auditDir)).map((event) => event.type)).toEqual(expect.arrayContaining(['APPROVAL_GRANTED', 'APPROVAL_USED']));
    expect((await thoth(home, ['audit', 'verify', auditDir])).code).toBe(0);
  });
});
