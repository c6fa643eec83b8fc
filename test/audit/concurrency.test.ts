import {spawn} from 'node:child_process';
import {join} from 'node:path';

import {describe, expect, it} from 'vitest';

import {readKeyFile} from '../../src/audit/key.js';
import {readEvents} from '../../src/audit/reader.js';
import {verifyAuditDir} from '../../src/audit/verify.js';
import {REPO_ROOT} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';
import {segmentNames} from './helpers.js';

const WRITER = join(REPO_ROOT, 'test', 'audit', 'writer-process.ts');

interface Writer {
  done: Promise<{code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string}>;
  started: Promise<void>;
  kill(signal: NodeJS.Signals): void;
}

function startWriter(args: string[], env: Record<string, string>): Writer {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, ...args], {
    cwd: REPO_ROOT,
    env: {...process.env, ...env},
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let markStarted: () => void = () => undefined;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    if (stderr.includes('started')) markStarted();
  });
  const done = new Promise<{code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string}>((resolve) =>
    child.on('close', (code, signal) => resolve({code, signal, stdout, stderr})),
  );
  return {done, started, kill: (signal) => child.kill(signal)};
}

describe('several writer processes on one audit directory', () => {
  it('lose nothing, never interleave, share one key, and every chain verifies (with rotation under way)', async () => {
    const home = await tempDir();
    const env = {THOTH_HOME: home, THOTH_AUDIT_ROTATE_BYTES: String(64 * 1024)};
    const writers = Array.from({length: 4}, () => startWriter(['300'], env));
    const results = await Promise.all(writers.map((w) => w.done));
    for (const result of results) expect(result.code, result.stderr).toBe(0);
    const sessions = results.map((r) => (JSON.parse(r.stdout) as {sessionId: string}).sessionId);

    const dir = join(home, 'audit');
    const key = await readKeyFile(join(home, 'audit_hmac_key.json'));
    expect(key).toBeDefined();
    const report = await verifyAuditDir(dir, key!);
    expect(report.problems).toEqual([]);
    expect(report.status).toBe('intact');
    expect(report.chains).toBe(4);
    expect(report.events).toBe(4 * (2 + 600));
    expect((await segmentNames(dir)).length).toBeGreaterThan(8);
    const events = await readEvents(dir);
    for (const sessionId of sessions) {
      const mine = events.filter((e) => e.event.sessionId === sessionId);
      expect(mine.filter((e) => e.event.type === 'TOOL_CALL_PRE')).toHaveLength(300);
      expect(mine.filter((e) => e.event.type === 'TOOL_CALL_POST')).toHaveLength(300);
      // Within a chain, seq is contiguous: nothing lost.
      const seqs = mine.map((e) => e.seq).sort((a, b) => a - b);
      expect(new Set(mine.map((e) => e.chain)).size).toBe(1);
      expect(seqs.length).toBe(602);
    }
  });

  it('a writer killed with SIGKILL leaves crash artefacts at worst, never tampering', async () => {
    const home = await tempDir();
    const env = {THOTH_HOME: home};
    const survivor = startWriter(['50'], env);
    const victim = startWriter(['100000', '--slow'], env);
    await victim.started;
    await new Promise((resolve) => setTimeout(resolve, 300));
    victim.kill('SIGKILL');
    const [ok, killed] = await Promise.all([survivor.done, victim.done]);
    expect(ok.code).toBe(0);
    expect(killed.signal).toBe('SIGKILL');
    const key = await readKeyFile(join(home, 'audit_hmac_key.json'));
    const report = await verifyAuditDir(join(home, 'audit'), key!);
    expect(report.status).toBe('torn-tail');
    expect(report.problems.every((p) => p.kind === 'torn-tail' || p.kind === 'unsealed')).toBe(true);
    expect(report.chainReports.map((c) => c.state).sort()).toEqual(['crashed', 'sealed']);
  });
});
