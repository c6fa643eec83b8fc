import {appendFile, readFile, rename, rm, truncate, writeFile} from 'node:fs/promises';
import {join} from 'node:path';

import {describe, expect, it} from 'vitest';

import {REGISTRY_FILE} from '../../src/audit/layout.js';
import {checkLine, genesisHash, sealLine} from '../../src/audit/record.js';
import {verifyAuditDir, verifyAuditFile} from '../../src/audit/verify.js';
import {tempDir} from '../helpers/tmp.js';
import {readLines, segmentNames, testKey, writeLines, writeSession} from './helpers.js';

const dead = {isWriterAlive: () => false};

async function sessionDir(calls = 6, settings = {}): Promise<{dir: string; key: ReturnType<typeof testKey>}> {
  const dir = join(await tempDir(), 'audit');
  const key = testKey();
  await writeSession(dir, key, calls, {settings});
  return {dir, key};
}

describe('record lines', () => {
  it('authenticates the exact bytes and chains to the previous line', () => {
    const key = testKey();
    const first = sealLine(key, 'c', 0, genesisHash('c'), 'event', '{"eventId":"x","type":"T","timestamp":"t"}');
    const checked = checkLine(key, first.text);
    expect(checked.ok && checked.record.hash).toBe(first.hash);
    expect(checkLine(key, first.text.replace('"T"', '"U"'))).toMatchObject({ok: false, reason: 'forged'});
    expect(checkLine(testKey(), first.text)).toMatchObject({ok: false, reason: 'forged'});
    expect(checkLine(key, first.text.slice(0, 40))).toMatchObject({ok: false, reason: 'unparsable'});
    expect(checkLine(key, '{"hello":1}')).toMatchObject({ok: false, reason: 'malformed'});
  });
});

describe('verify: an untouched trail', () => {
  it('is intact, with every event counted and the chain sealed in file and registry', async () => {
    const {dir, key} = await sessionDir(6);
    const report = await verifyAuditDir(dir, key, dead);
    expect(report.problems).toEqual([]);
    expect(report.status).toBe('intact');
    expect(report.events).toBe(2 + 12);
    expect(report.chainReports).toHaveLength(1);
    expect(report.chainReports[0]).toMatchObject({state: 'sealed', events: 14});
  });

  it('stays intact across rotated segments, and every segment verifies alone', async () => {
    const {dir, key} = await sessionDir(60, {rotateBytes: 4096});
    const names = await segmentNames(dir);
    expect(names.length).toBeGreaterThan(3);
    const report = await verifyAuditDir(dir, key, dead);
    expect(report.problems).toEqual([]);
    expect(report.events).toBe(122);
    for (const name of names) expect((await verifyAuditFile(join(dir, name), key)).status).toBe('intact');
  });

  it('rotates by age: a segment older than the limit is sealed before the next record', async () => {
    const dir = join(await tempDir(), 'audit');
    const key = testKey();
    let now = Date.parse('2026-01-01T00:00:00Z');
    const {FileAuditSink} = await import('../../src/audit/sink.js');
    const {testSettings, testContext, toolCall, ALLOW} = await import('./helpers.js');
    const context = testContext();
    const sink = new FileAuditSink({settings: testSettings(dir, {rotateAgeMs: 3_600_000}), context, key, clock: () => now});
    await sink.toolCallPre({call: toolCall('a', {}), context, decision: ALLOW, requestId: '1'});
    now += 3_600_001;
    await sink.toolCallPre({call: toolCall('b', {}), context, decision: ALLOW, requestId: '2'});
    await sink.close();
    const names = await segmentNames(dir);
    expect(names).toHaveLength(2);
    expect(names[0]).toMatch(/^20260101T000000Z-/);
    expect(names[1]).toMatch(/^20260101T010000Z-.*-000001\.jsonl$/);
    expect((await verifyAuditDir(dir, key, dead)).status).toBe('intact');
  });
});

describe('verify: every kind of tampering is detected', () => {
  async function tampered(mutate: (dir: string, names: string[]) => Promise<void>, settings = {}) {
    const {dir, key} = await sessionDir(8, settings);
    await mutate(dir, await segmentNames(dir));
    const report = await verifyAuditDir(dir, key, dead);
    expect(report.status).toBe('tampered');
    return report.problems[0]!;
  }

  it('an edited record (HMAC)', async () => {
    const problem = await tampered(async (dir, [name]) => {
      const path = join(dir, name!);
      await writeFile(path, (await readFile(path, 'utf8')).replace('"decision":"block"', '"decision":"allow"'));
    });
    expect(problem).toMatchObject({kind: 'tampered', line: expect.any(Number) as number});
    expect(problem.message).toMatch(/HMAC/);
  });

  it('a deleted record (sequence gap)', async () => {
    const problem = await tampered(async (dir, [name]) => {
      const lines = await readLines(join(dir, name!));
      lines.splice(4, 1);
      await writeLines(join(dir, name!), lines);
    });
    expect(problem).toMatchObject({line: 5});
    expect(problem.message).toMatch(/deleted, inserted or reordered/);
  });

  it('an inserted record (a copy of another valid record)', async () => {
    const problem = await tampered(async (dir, [name]) => {
      const lines = await readLines(join(dir, name!));
      lines.splice(6, 0, lines[3]!);
      await writeLines(join(dir, name!), lines);
    });
    expect(problem.line).toBe(7);
  });

  it('reordered records', async () => {
    const problem = await tampered(async (dir, [name]) => {
      const lines = await readLines(join(dir, name!));
      [lines[3], lines[4]] = [lines[4]!, lines[3]!];
      await writeLines(join(dir, name!), lines);
    });
    expect(problem.line).toBe(4);
  });

  it('a truncated end (the last records and the seal removed)', async () => {
    const problem = await tampered(async (dir, [name]) => {
      const lines = await readLines(join(dir, name!));
      await writeLines(join(dir, name!), lines.slice(0, -3));
    });
    expect(problem.message).toMatch(/registry recorded this chain sealed at seq/);
  });

  it('a deleted segment in the middle of a rotated chain', async () => {
    const problem = await tampered(async (dir, names) => rm(join(dir, names[1]!)), {rotateBytes: 4096});
    expect(problem.message).toMatch(/missing|deleted|renamed/);
  });

  it('a deleted last segment of a rotated chain', async () => {
    const problem = await tampered(async (dir, names) => rm(join(dir, names[names.length - 1]!)), {rotateBytes: 4096});
    expect(problem.message).toMatch(/is missing: it was deleted/);
  });

  it('a whole chain deleted (every file of a session)', async () => {
    const {dir, key} = await sessionDir(3);
    const [name] = await segmentNames(dir);
    await writeSession(dir, key, 3);
    await rm(join(dir, name!));
    const report = await verifyAuditDir(dir, key, dead);
    expect(report.status).toBe('tampered');
    expect(report.problems[0]!.message).toMatch(/files are gone/);
  });

  it('whole files swapped between two chains', async () => {
    const {dir, key} = await sessionDir(3);
    await writeSession(dir, key, 3);
    const [a, b] = await segmentNames(dir);
    await rename(join(dir, a!), join(dir, 'tmp'));
    await rename(join(dir, b!), join(dir, a!));
    await rename(join(dir, 'tmp'), join(dir, b!));
    const report = await verifyAuditDir(dir, key, dead);
    expect(report.status).toBe('tampered');
    expect(report.problems[0]!.message).toMatch(/belongs to chain|swapped|renamed/);
  });

  it('a registry record removed', async () => {
    const problem = await tampered(async (dir) => {
      const lines = await readLines(join(dir, REGISTRY_FILE));
      await writeLines(join(dir, REGISTRY_FILE), lines.slice(1));
    });
    expect(problem.file).toBe(REGISTRY_FILE);
  });

  it('the registry deleted', async () => {
    const problem = await tampered(async (dir) => rm(join(dir, REGISTRY_FILE)));
    expect(problem.message).toMatch(/registry is missing/);
  });

  it('records re-signed with another key', async () => {
    const {dir} = await sessionDir(2);
    const report = await verifyAuditDir(dir, testKey(), dead);
    expect(report.status).toBe('tampered');
    expect(report.problems.some((p) => /names key [0-9a-f]{16}, the key file holds/.test(p.message))).toBe(true);
  });

  it('a forged complete last line is tampering, not a torn tail', async () => {
    const problem = await tampered(async (dir, [name]) => {
      const lines = await readLines(join(dir, name!));
      const last = lines[lines.length - 1]!;
      await writeFile(join(dir, name!), `${lines.slice(0, -1).join('\n')}\n${last.replace('"close"', '"rotate"')}`);
    });
    expect(problem.kind).toBe('tampered');
  });
});

describe('verify: crash artefacts are not tampering', () => {
  it('a torn last line of a chain whose writer died is a torn tail (exit 13 class)', async () => {
    const dir = join(await tempDir(), 'audit');
    const key = testKey();
    await writeSession(dir, key, 4, {close: false});
    const [name] = await segmentNames(dir);
    await appendFile(join(dir, name!), '{"v":1,"chain":"abc","seq":12,"prev":"00');
    const report = await verifyAuditDir(dir, key, dead);
    expect(report.status).toBe('torn-tail');
    expect(report.problems).toHaveLength(1);
    expect(report.problems[0]).toMatchObject({kind: 'torn-tail', file: name, line: 11});
  });

  it('an unsealed chain whose writer is gone is reported as a crash; while the writer lives it is active', async () => {
    const dir = join(await tempDir(), 'audit');
    const key = testKey();
    await writeSession(dir, key, 2, {close: false});
    expect((await verifyAuditDir(dir, key, dead)).problems[0]).toMatchObject({kind: 'unsealed'});
    const alive = await verifyAuditDir(dir, key, {isWriterAlive: () => true});
    expect(alive.status).toBe('intact');
    expect(alive.chainReports[0]!.state).toBe('active');
  });

  it('the trail of this very process is active under the default liveness check', async () => {
    const dir = join(await tempDir(), 'audit');
    const key = testKey();
    await writeSession(dir, key, 1, {close: false});
    expect((await verifyAuditDir(dir, key)).chainReports[0]!.state).toBe('active');
  });

  it('a torn line left by a crashed registry append is acknowledged by the next appender', async () => {
    const {dir, key} = await sessionDir(1);
    await appendFile(join(dir, REGISTRY_FILE), '{"v":1,"chain":"registry","seq":2,"pr');
    expect((await verifyAuditDir(dir, key, dead)).status).toBe('torn-tail');
    await writeSession(dir, key, 1);
    const report = await verifyAuditDir(dir, key, dead);
    expect(report.problems).toEqual([]);
    expect(report.notes.join('\n')).toMatch(/interrupted write of 37 bytes/);
  });

  it('a torn acknowledgement that does not match the fragment is tampering', async () => {
    const {dir, key} = await sessionDir(1);
    await appendFile(join(dir, REGISTRY_FILE), '{"v":1,"chain":"registry","seq":2,"pr');
    await writeSession(dir, key, 1);
    const text = await readFile(join(dir, REGISTRY_FILE), 'utf8');
    await writeFile(join(dir, REGISTRY_FILE), text.replace('"seq":2,"pr\n', '"seq":3,"pr\n'));
    expect((await verifyAuditDir(dir, key, dead)).status).toBe('tampered');
  });

  it('a segment cut inside its last line, writer gone, is a torn tail', async () => {
    const dir = join(await tempDir(), 'audit');
    const key = testKey();
    await writeSession(dir, key, 3, {close: false});
    const [name] = await segmentNames(dir);
    const size = (await readFile(join(dir, name!))).length;
    await truncate(join(dir, name!), size - 10);
    expect((await verifyAuditDir(dir, key, dead)).status).toBe('torn-tail');
  });
});

describe('verify: a live writer', () => {
  it('is not accused when it rotated after the directory was listed', async () => {
    const {dir, key} = await (async () => {
      const d = join(await tempDir(), 'audit');
      const k = testKey();
      await writeSession(d, k, 40, {settings: {rotateBytes: 4096}, close: false});
      return {dir: d, key: k};
    })();
    const names = await segmentNames(dir);
    await rm(join(dir, names[names.length - 1]!));
    expect((await verifyAuditDir(dir, key, {isWriterAlive: () => true})).status).toBe('intact');
    expect((await verifyAuditDir(dir, key, dead)).status).toBe('tampered');
  });
});
