import {spawn} from 'node:child_process';
import {readFile, stat, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {pathToFileURL} from 'node:url';
import {describe, expect, it} from 'vitest';

import {
  approvalsFile,
  decideApproval,
  listApprovals,
  readApprovals,
  requestApproval,
  takeDecision,
  type ApprovalBinding,
  type RequestInfo,
} from '../../src/approvals/store.js';
import {canonicalHash} from '../../src/core/canonical-json.js';
import {REPO_ROOT} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';

const T0 = new Date('2026-11-22T10:00:00Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const binding: ApprovalBinding = {
  agentId: 'fs',
  tool: 'write_file',
  argumentsHash: canonicalHash({path: '/w/a', content: 'x'}),
  policyVersion: 'v1@sha256:aa',
};
const info: RequestInfo = {
  sessionId: 's1',
  intent: null,
  ruleId: 'rule:writes',
  reason: 'writes need approval',
  argumentsJson: '{"path":"/w/a","content":"x"}',
  ttlMs: 600_000,
};

/** The session proves each grant against the audit trail (grant-proof.ts); the store's own logic is tested with every grant proven. */
const trustAll = {prove: async () => ({ok: true as const, proof: 'trusted'})};

describe('approvals store', () => {
  it('canonical argument hashes ignore key order and whitespace, not values', () => {
    expect(canonicalHash({b: 1, a: {d: [1, 2], c: null}})).toBe(canonicalHash(JSON.parse('{ "a": {"c": null, "d": [1,2]}, "b": 1 }')));
    expect(canonicalHash({a: 1})).not.toBe(canonicalHash({a: '1'}));
    expect(canonicalHash({a: [1, 2]})).not.toBe(canonicalHash({a: [2, 1]}));
  });

  it('a pending request is reused by retries of the same call, and the file is private', async () => {
    const home = await tempDir();
    const first = await requestApproval(home, binding, info, at(0));
    const again = await requestApproval(home, binding, info, at(5));
    expect(first.created).toBe(true);
    expect(again).toMatchObject({created: false, record: {id: first.record.id}});
    expect(first.record.id).toMatch(/^[0-9a-z]{10}$/);
    expect(first.record.expiresAt).toBe(at(600).toISOString());
    const other = await requestApproval(home, {...binding, tool: 'edit_file'}, info, at(6));
    expect(other.record.id).not.toBe(first.record.id);
    if (process.platform !== 'win32') expect((await stat(approvalsFile(home))).mode & 0o777).toBe(0o600);
  });

  it('approve → the identical call passes once; nothing else passes', async () => {
    const home = await tempDir();
    const {record} = await requestApproval(home, binding, info, at(0));
    expect(await takeDecision(home, binding, at(1), trustAll)).toBeUndefined();
    const approved = await decideApproval(home, record.id.toUpperCase(), 'approved', {by: 'ann', now: at(60)});
    expect(approved).toMatchObject({status: 'approved', decidedBy: 'ann', expiresAt: at(660).toISOString()});

    for (const other of [
      {...binding, agentId: 'other'},
      {...binding, tool: 'edit_file'},
      {...binding, argumentsHash: canonicalHash({path: '/w/a', content: 'y'})},
      {...binding, policyVersion: 'v2@sha256:bb'},
    ]) {
      expect(await takeDecision(home, other, at(61), trustAll)).toBeUndefined();
    }
    expect(await takeDecision(home, binding, at(62), trustAll)).toMatchObject({kind: 'granted', record: {id: record.id}});
    expect(await takeDecision(home, binding, at(63), trustAll)).toBeUndefined();
    const [used] = (await readApprovals(home)).approvals;
    expect(used).toMatchObject({status: 'used', usedAt: at(62).toISOString()});
  });

  it('a grant the session cannot prove is left as it is and not used; the next grant for the call is tried', async () => {
    const home = await tempDir();
    const forged = await requestApproval(home, binding, info, at(0));
    await decideApproval(home, forged.record.id, 'approved', {by: 'mallory', now: at(1)});
    const genuine = await requestApproval(home, binding, info, at(2));
    await decideApproval(home, genuine.record.id, 'approved', {by: 'ann', now: at(3)});
    const onlyGenuine = {
      prove: async (record: {id: string}) =>
        record.id === genuine.record.id ? {ok: true as const, proof: 'sealed'} : {ok: false as const, why: 'no sealed record'},
    };
    expect(await takeDecision(home, binding, at(4), onlyGenuine)).toMatchObject({
      kind: 'granted',
      record: {id: genuine.record.id},
      proof: 'sealed',
      unproven: [{record: expect.objectContaining({id: forged.record.id}), why: 'no sealed record'}],
    });
    expect(await takeDecision(home, binding, at(5), onlyGenuine)).toMatchObject({
      kind: 'none',
      unproven: [{record: expect.objectContaining({id: forged.record.id})}],
    });
    expect((await readApprovals(home)).approvals.map((record) => [record.id, record.status])).toEqual([
      [forged.record.id, 'approved'],
      [genuine.record.id, 'used'],
    ]);
  });

  it('grants and requests expire', async () => {
    const home = await tempDir();
    const {record} = await requestApproval(home, binding, info, at(0));
    await decideApproval(home, record.id, 'approved', {by: 'ann', now: at(10)});
    // The lapsed grant is handed over once (for APPROVAL_EXPIRED), and lets nothing through.
    expect(await takeDecision(home, binding, at(10 + 600), trustAll)).toEqual({
      kind: 'none',
      expired: [expect.objectContaining({id: record.id, status: 'approved', expiryRecordedAt: at(610).toISOString()})],
      unproven: [],
    });
    expect(await takeDecision(home, binding, at(10 + 601), trustAll)).toBeUndefined();

    const late = await requestApproval(home, {...binding, tool: 'late'}, info, at(0));
    await expect(decideApproval(home, late.record.id, 'approved', {by: 'ann', now: at(601)})).rejects.toMatchObject({
      code: 'APPROVAL_EXPIRED',
      exitCode: 4,
    });
    const listed = await listApprovals(home, {all: true, now: at(700)});
    expect(listed.map((view) => view.state)).toEqual(['expired', 'expired']);
    expect(await listApprovals(home, {now: at(700)})).toEqual([]);
  });

  it('a lapsed request is reported once, alongside a newer grant for the same call', async () => {
    const home = await tempDir();
    const stale = await requestApproval(home, binding, info, at(0));
    const fresh = await requestApproval(home, binding, info, at(700));
    expect(fresh.record.id).not.toBe(stale.record.id);
    await decideApproval(home, fresh.record.id, 'approved', {by: 'ann', now: at(701)});
    expect(await takeDecision(home, binding, at(702), trustAll)).toEqual({
      kind: 'granted',
      record: expect.objectContaining({id: fresh.record.id}),
      proof: 'trusted',
      expired: [expect.objectContaining({id: stale.record.id, status: 'pending'})],
      unproven: [],
    });
    expect(await takeDecision(home, binding, at(703), trustAll)).toBeUndefined();
  });

  it('the mode of the session is kept with the request; records without it still load', async () => {
    const home = await tempDir();
    const {record} = await requestApproval(home, binding, {...info, mode: 'block'}, at(0));
    expect(record.mode).toBe('block');
    const legacy = await requestApproval(home, {...binding, tool: 'legacy'}, info, at(0));
    expect(legacy.record).not.toHaveProperty('mode');
    expect((await readApprovals(home)).approvals.map((one) => one.mode)).toEqual(['block', undefined]);
  });

  it('beforeApply sees the decided record under the lock; if it throws, nothing is applied', async () => {
    const home = await tempDir();
    const {record} = await requestApproval(home, binding, info, at(0));
    const failing = decideApproval(home, record.id, 'approved', {
      by: 'ann',
      now: at(5),
      beforeApply: () => Promise.reject(new Error('disk full')),
    });
    await expect(failing).rejects.toThrow('disk full');
    expect((await readApprovals(home)).approvals[0]).toMatchObject({id: record.id, status: 'pending'});
    expect(await takeDecision(home, binding, at(6), trustAll)).toBeUndefined();

    const seen: unknown[] = [];
    const applied = await decideApproval(home, record.id, 'denied', {
      by: 'ann',
      note: 'no',
      now: at(7),
      beforeApply: async (decided) => {
        // Still pending on disk while the decision is being recorded.
        seen.push(decided, (await readApprovals(home)).approvals[0]!.status);
        return {chain: 'c', file: 'f.jsonl', eventId: 'e'};
      },
    });
    const {auditRecord, ...withoutPointer} = applied;
    expect(seen).toEqual([withoutPointer, 'pending']);
    // Where the decision is on record is kept with it.
    expect(auditRecord).toEqual({chain: 'c', file: 'f.jsonl', eventId: 'e'});
    expect((await readApprovals(home)).approvals[0]!.auditRecord).toEqual(auditRecord);
    expect(applied).toMatchObject({status: 'denied', decidedBy: 'ann', note: 'no', expiresAt: at(607).toISOString()});
    expect((await readApprovals(home)).approvals[0]).toMatchObject({status: 'denied'});
  });

  it('deny refuses retries until it expires; decided approvals cannot be decided again', async () => {
    const home = await tempDir();
    const {record} = await requestApproval(home, binding, info, at(0));
    await decideApproval(home, record.id, 'denied', {by: 'sec-team', note: 'not now', now: at(5)});
    expect(await takeDecision(home, binding, at(6), trustAll)).toMatchObject({
      kind: 'denied',
      record: {decidedBy: 'sec-team', note: 'not now'},
    });
    expect(await takeDecision(home, binding, at(5 + 601), trustAll)).toBeUndefined();
    await expect(decideApproval(home, record.id, 'approved', {by: 'x', now: at(7)})).rejects.toMatchObject({
      code: 'APPROVAL_ALREADY_DECIDED',
      exitCode: 5,
    });
    await expect(decideApproval(home, 'nope', 'approved', {by: 'x'})).rejects.toMatchObject({code: 'APPROVAL_NOT_FOUND', exitCode: 4});
  });

  it('records older than a day past expiry are dropped on the next change', async () => {
    const home = await tempDir();
    await requestApproval(home, binding, info, at(0));
    await requestApproval(home, {...binding, tool: 'later'}, info, at(600 + 86_401));
    expect((await readApprovals(home)).approvals.map((record) => record.tool)).toEqual(['later']);
  });

  it('a damaged approvals file is an error naming the file, never an empty grant list', async () => {
    const home = await tempDir();
    await writeFile(approvalsFile(home), '{"version": 1, "approvals": [{"id": "x"}]}');
    await expect(readApprovals(home)).rejects.toMatchObject({
      code: 'APPROVALS_INVALID',
      message: expect.stringContaining('approvals.json'),
    });
    await expect(requestApproval(home, binding, info)).rejects.toMatchObject({code: 'APPROVALS_INVALID'});
  });

  it('a grant is used exactly once even when several thoth processes retry at the same moment', async () => {
    const home = await tempDir();
    const {record} = await requestApproval(home, binding, info);
    await decideApproval(home, record.id, 'approved', {by: 'ann'});
    const module = pathToFileURL(join(REPO_ROOT, 'dist/approvals/store.js')).href;
    const script = `
      const {takeDecision} = await import(${JSON.stringify(module)});
      const result = await takeDecision(process.argv[1], JSON.parse(process.argv[2]), new Date(), {prove: async () => ({ok: true, proof: null})});
      process.stdout.write(result ? result.kind : 'none');
    `;
    const outcomes = await Promise.all(
      Array.from(
        {length: 6},
        () =>
          new Promise<string>((resolve, reject) => {
            const child = spawn(process.execPath, ['--input-type=module', '-e', script, home, JSON.stringify(binding)], {
              stdio: ['ignore', 'pipe', 'pipe'],
            });
            let out = '';
            let err = '';
            child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
            child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
            child.on('error', reject);
            child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(err))));
          }),
      ),
    );
    expect(outcomes.filter((outcome) => outcome === 'granted')).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome === 'none')).toHaveLength(5);
    expect(JSON.parse(await readFile(approvalsFile(home), 'utf8')).approvals[0].status).toBe('used');
  });
});
