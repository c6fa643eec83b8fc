import {randomBytes, randomUUID} from 'node:crypto';
import {join} from 'node:path';

import {keyIdOf, type AuditKey} from '../../src/audit/key.js';
import {readEvents} from '../../src/audit/reader.js';
import {AUDIT_DEFAULTS} from '../../src/settings/audit-defaults.js';
import {FileAuditSink} from '../../src/audit/sink.js';
import type {Decision} from '../../src/core/decision.js';

/** Real audit sessions written with the audit trail's own sink (the shipper's spool). */
export function auditKey(): AuditKey {
  const secret = randomBytes(32);
  return {keyId: keyIdOf(secret), secret, path: '(memory)'};
}

const ALLOW: Decision = {decision: 'allow', reason: 'in scope', ruleId: 'scope'};

export async function openSession(dir: string, key: AuditKey, rotateBytes = AUDIT_DEFAULTS.rotateBytes): Promise<FileAuditSink> {
  return new FileAuditSink({
    settings: {dir, keyFile: join(dir, '..', 'key.json'), ...AUDIT_DEFAULTS, rotateBytes, enabled: true},
    context: {agentId: 'files', sessionId: randomUUID(), mode: 'progressive', tenantId: 'acme', sessionToolCalls: []},
    key,
  });
}

/** `calls` tool calls (a PRE and a POST each) into an open session. */
export async function writeCalls(sink: FileAuditSink, calls: number, from = 0): Promise<void> {
  const context = {agentId: 'files', sessionId: randomUUID(), mode: 'progressive' as const, sessionToolCalls: []};
  for (let i = from; i < from + calls; i++) {
    const call = {name: 'read_file', arguments: {path: `/data/${i}.txt`}, argumentsJson: JSON.stringify({path: `/data/${i}.txt`})};
    const preEventId = await sink.toolCallPre({call, context, decision: ALLOW, requestId: String(i)});
    sink.toolCallPost({
      call,
      context,
      decision: ALLOW,
      requestId: String(i),
      preEventId,
      outcome: {kind: 'result', resultJson: Buffer.from(`{"content":[{"type":"text","text":"file ${i}"}]}`)},
      durationMs: 1,
    });
  }
  await sink.flush();
}

/** A sealed session of `calls` calls. */
export async function writeSession(dir: string, key: AuditKey, calls: number, rotateBytes?: number): Promise<void> {
  const sink = await openSession(dir, key, rotateBytes);
  await writeCalls(sink, calls);
  await sink.close();
}

/** Every event id in the local log (the source of truth). */
export async function localEventIds(dir: string): Promise<string[]> {
  return (await readEvents(dir)).map((stored) => stored.event.eventId);
}
