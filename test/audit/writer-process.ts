/**
 * A separate process that writes one audit session, as one `thoth run` would:
 *   node --import tsx test/audit/writer-process.ts <calls> [--no-close] [--slow]
 * Settings come from the environment (THOTH_HOME, THOTH_AUDIT_DIR, THOTH_AUDIT_ROTATE_BYTES...).
 * Prints one JSON line with its session id and event ids when done.
 */
import {auditSettingsFromResolved} from '../../src/audit/settings.js';
import {FileAuditSink} from '../../src/audit/sink.js';
import type {DecisionContext} from '../../src/core/decision.js';
import {resolveSettings} from '../../src/settings/resolve.js';

const calls = Number(process.argv[2] ?? '100');
const close = !process.argv.includes('--no-close');
const slow = process.argv.includes('--slow');
const context: DecisionContext = {
  agentId: `writer-${process.pid}`,
  sessionId: `session-${process.pid}`,
  mode: 'block',
  sessionToolCalls: [],
};
const sink = new FileAuditSink({
  settings: auditSettingsFromResolved(await resolveSettings({env: process.env})),
  context,
  warn: (m) => process.stderr.write(`${m}\n`),
});
const ids: string[] = [];
for (let i = 0; i < calls; i++) {
  const args = {path: `/data/${process.pid}/${i}.txt`, padding: 'p'.repeat(i % 200)};
  const call = {name: 'read_file', arguments: args, argumentsJson: JSON.stringify(args)};
  const decision = {decision: 'allow' as const, reason: 'in scope', ruleId: 'scope'};
  const preEventId = await sink.toolCallPre({call, context, decision, requestId: String(i)});
  ids.push(preEventId);
  sink.toolCallPost({
    call,
    context,
    decision,
    requestId: String(i),
    preEventId,
    outcome: {kind: 'result', resultJson: Buffer.from(`{"content":[{"type":"text","text":"${i}"}]}`)},
    durationMs: 1,
  });
  if (slow) await new Promise((resolve) => setTimeout(resolve, 2));
  if (i === 0) process.stderr.write('started\n');
}
await sink.flush();
if (close) await sink.close();
process.stdout.write(`${JSON.stringify({sessionId: context.sessionId, pre: ids.length})}\n`);
if (!close) setInterval(() => undefined, 1000);
