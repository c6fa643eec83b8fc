import {readFile, readdir, rm, stat, writeFile} from 'node:fs/promises';
import {join} from 'node:path';

import {describe, expect, it} from 'vitest';

import {verifyRecentAudit} from '../../src/audit/bounded-verify.js';
import {loadOrCreateKey, type AuditKey} from '../../src/audit/key.js';
import {parseSegmentFileName} from '../../src/audit/layout.js';
import {verifyAuditDir} from '../../src/audit/verify.js';
import {tempDir} from '../helpers/tmp.js';
import {writeSession} from './helpers.js';

const DAY = 24 * 60 * 60 * 1000;
const START = Date.parse('2026-03-01T08:00:00Z');
const dead = {isWriterAlive: () => false};

interface Trail {
  dir: string;
  keyFile: string;
  key: AuditKey;
  /** Chain ids, oldest first. */
  chains: string[];
}

/** `sessions` closed sessions, one a day (so their segment names sort by age), `calls` calls each. */
async function trail(sessions: number, calls = 3): Promise<Trail> {
  const root = await tempDir();
  const dir = join(root, 'audit');
  const keyFile = join(root, 'audit_hmac_key.json');
  const key = await loadOrCreateKey(keyFile);
  const chains: string[] = [];
  for (let i = 0; i < sessions; i++) {
    const at = START + i * DAY;
    const sink = await writeSession(dir, key, calls, {clock: () => at});
    chains.push(sink.chain);
  }
  return {dir, keyFile, key, chains};
}

async function segmentOf(dir: string, chain: string): Promise<string> {
  const name = (await readdir(dir)).find((file) => parseSegmentFileName(file)?.chain === chain);
  if (!name) throw new Error(`no segment of ${chain}`);
  return join(dir, name);
}

async function editRecord(path: string): Promise<void> {
  const text = await readFile(path, 'utf8');
  const edited = text.replace('"decision":"allow"', '"decision":"block"');
  expect(edited).not.toBe(text);
  await writeFile(path, edited);
}

describe('verifyRecentAudit: a bounded verification for health', () => {
  it('reports an absent or empty directory as empty (nothing written yet)', async () => {
    const root = await tempDir();
    expect(await verifyRecentAudit({dir: join(root, 'audit'), keyFile: join(root, 'key.json')})).toEqual({empty: true});
    expect(await verifyRecentAudit({dir: root, keyFile: join(root, 'key.json')})).toEqual({empty: true});
  });

  it('replays every chain when the trail fits, with the same verdict as a full verify', async () => {
    const t = await trail(3);
    const result = await verifyRecentAudit({dir: t.dir, keyFile: t.keyFile}, {maxChains: 10, maxBytes: 1 << 20});
    if (result.empty) throw new Error('expected a trail');
    expect(result.report.status).toBe('intact');
    expect([result.totalChains, result.checkedChains]).toEqual([3, 3]);
    const full = await verifyAuditDir(t.dir, t.key);
    expect(result.report.records).toBe(full.records);
    expect(result.registryBytes).toBe((await stat(join(t.dir, 'registry.jsonl'))).size);
  });

  it('replays only the newest chains within maxChains, and names what it left out', async () => {
    const t = await trail(5);
    const result = await verifyRecentAudit({dir: t.dir, keyFile: t.keyFile}, {maxChains: 2, maxBytes: 1 << 20});
    if (result.empty) throw new Error('expected a trail');
    expect([result.totalChains, result.checkedChains]).toEqual([5, 2]);
    expect(result.report.chainReports.map((chain) => chain.chain).sort()).toEqual(t.chains.slice(3).sort());
    expect(result.report.notes).toContain(
      '3 other chains were not replayed (only checked to be present); `thoth audit verify` replays every chain',
    );
  });

  it('detects an edit in the newest chains; an edit in an older chain is left to `thoth audit verify`', async () => {
    const t = await trail(4);
    await editRecord(await segmentOf(t.dir, t.chains[0]!));
    const bounded = await verifyRecentAudit({dir: t.dir, keyFile: t.keyFile}, {maxChains: 2, maxBytes: 1 << 20});
    expect(!bounded.empty && bounded.report.status).toBe('intact');
    expect((await verifyAuditDir(t.dir, t.key)).status).toBe('tampered');

    await editRecord(await segmentOf(t.dir, t.chains[3]!));
    const newest = await verifyRecentAudit({dir: t.dir, keyFile: t.keyFile}, {maxChains: 2, maxBytes: 1 << 20});
    if (newest.empty) throw new Error('expected a trail');
    expect(newest.report.status).toBe('tampered');
    expect(newest.report.problems[0]!.file).toBe((await segmentOf(t.dir, t.chains[3]!)).slice(t.dir.length + 1));
  });

  it('still detects a deleted chain outside the bound: the registry lists it', async () => {
    const t = await trail(4);
    await rm(await segmentOf(t.dir, t.chains[0]!));
    const result = await verifyRecentAudit({dir: t.dir, keyFile: t.keyFile}, {maxChains: 1, maxBytes: 1 << 20});
    if (result.empty) throw new Error('expected a trail');
    expect(result.report.status).toBe('tampered');
    expect(result.report.problems[0]!.message).toMatch(new RegExp(`the registry lists chain ${t.chains[0]} but its files are gone`));
  });

  it('passes over a chain larger than the byte budget for older ones that fit', async () => {
    const root = await tempDir();
    const dir = join(root, 'audit');
    const keyFile = join(root, 'key.json');
    const key = await loadOrCreateKey(keyFile);
    const small = await writeSession(dir, key, 1, {clock: () => START});
    const big = await writeSession(dir, key, 200, {clock: () => START + DAY});
    const bigBytes = (await stat(await segmentOf(dir, big.chain))).size;
    const smallBytes = (await stat(await segmentOf(dir, small.chain))).size;
    expect(bigBytes).toBeGreaterThan(smallBytes * 4);
    const result = await verifyRecentAudit({dir, keyFile}, {maxChains: 10, maxBytes: smallBytes * 2});
    if (result.empty) throw new Error('expected a trail');
    expect(result.report.chainReports.map((chain) => chain.chain)).toEqual([small.chain]);
    expect([result.checkedChains, result.checkedBytes]).toEqual([1, smallBytes]);
  });

  it('reports a crashed writer (torn tail) as torn-tail, not tampered', async () => {
    const root = await tempDir();
    const dir = join(root, 'audit');
    const keyFile = join(root, 'key.json');
    const key = await loadOrCreateKey(keyFile);
    const sink = await writeSession(dir, key, 2, {close: false, clock: () => START});
    await writeFile(await segmentOf(dir, sink.chain), '{"v":1,"chain":"x","seq":9,"pr', {flag: 'a'});
    const result = await verifyRecentAudit({dir, keyFile}, undefined, dead);
    expect(!result.empty && result.report.status).toBe('torn-tail');
  });

  it('throws AUDIT_KEY_NOT_FOUND when the trail exists but its key does not', async () => {
    const t = await trail(1);
    await rm(t.keyFile);
    await expect(verifyRecentAudit({dir: t.dir, keyFile: t.keyFile})).rejects.toMatchObject({code: 'AUDIT_KEY_NOT_FOUND'});
  });
});
