/**
 * Runs inside its own mount namespace, on a tiny tmpfs mounted at THOTH_AUDIT_DIR (see
 * disk-full.test.ts): governs a few calls, fills the file system up, checks that calls are then
 * refused, frees space, checks that calls pass again, and verifies the trail. Prints a JSON report.
 */
import {appendFile, readdir, rm, stat} from 'node:fs/promises';
import {join} from 'node:path';

import {readKeyFile} from '../../src/audit/key.js';
import {auditSettingsFromResolved} from '../../src/audit/settings.js';
import {FileAuditSink} from '../../src/audit/sink.js';
import {verifyAuditDir} from '../../src/audit/verify.js';
import type {DecisionContext} from '../../src/core/decision.js';
import {resolveSettings} from '../../src/settings/resolve.js';
import {Governor} from '../../src/governance/governor.js';

const settings = auditSettingsFromResolved(await resolveSettings({env: process.env}));
const filler = join(settings.dir, 'filler.bin');
const context: DecisionContext = {agentId: 'disk-full', sessionId: 'disk-full-session', mode: 'block', sessionToolCalls: []};
const warnings: string[] = [];
const sink = new FileAuditSink({settings, context, warn: (m) => warnings.push(m)});
const governor = new Governor({
  enforcer: {decide: async () => ({decision: 'allow', reason: 'ok', ruleId: 'allow-all'})},
  audit: sink,
  warn: (m) => warnings.push(m),
});
const client = {capabilities: undefined, request: async () => ({})};

async function callOnce(i: number) {
  const args = {path: `/f/${i}`, data: 'd'.repeat(6000)};
  const outcome = await governor.govern(
    {name: 'write_file', arguments: args, argumentsJson: JSON.stringify(args)},
    context,
    String(i),
    client,
    new AbortController().signal,
  );
  if (outcome.action === 'forward') governor.complete(outcome.ticket, context, {kind: 'result', resultJson: Buffer.from('{"content":[]}')});
  await sink.flush();
  return outcome;
}

/** Takes every free block, so that the next write can only fill the segment's last, partly used page. */
async function fillUp(): Promise<void> {
  for (;;) {
    try {
      await appendFile(filler, Buffer.alloc(4096));
    } catch {
      return;
    }
  }
}

let allowed = 0;
let refusal: {code: number; data: unknown} | undefined;
// Calls pass while there is room; the segment must end inside a page for the cut to be partial.
for (let i = 0; i < 100 && (allowed < 3 || (await segmentSize()) % 4096 === 0); i++)
  if ((await callOnce(i)).action === 'forward') allowed++;
await fillUp();
for (let i = 100; i < 200 && !refusal; i++) {
  const outcome = await callOnce(i);
  if (outcome.action === 'forward') allowed++;
  else refusal = {code: outcome.error.code, data: outcome.error.data};
}
await rm(filler);

async function segmentSize(): Promise<number> {
  const name = (await readdir(settings.dir)).find((n) => n.endsWith('-000000.jsonl'));
  return name ? (await stat(join(settings.dir, name))).size : 0;
}
const after = await callOnce(1000);
await sink.close();
const key = await readKeyFile(settings.keyFile);
const report = await verifyAuditDir(settings.dir, key!);
process.stdout.write(
  `${JSON.stringify({allowed, refusal, afterRecovery: after.action, status: report.status, problems: report.problems, notes: report.notes, events: report.events, warnings})}\n`,
);
