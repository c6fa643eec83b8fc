import {randomBytes} from 'node:crypto';
import {readFile, readdir, writeFile} from 'node:fs/promises';
import {join} from 'node:path';

import {keyIdOf, type AuditKey} from '../../src/audit/key.js';
import {parseSegmentFileName} from '../../src/audit/layout.js';
import type {AuditSettings} from '../../src/audit/settings.js';
import {AUDIT_DEFAULTS} from '../../src/settings/audit-defaults.js';
import {FileAuditSink} from '../../src/audit/sink.js';
import type {Decision, DecisionContext, ToolCall} from '../../src/core/decision.js';

export function testKey(): AuditKey {
  const secret = randomBytes(32);
  return {keyId: keyIdOf(secret), secret, path: '(memory)'};
}

export function testSettings(dir: string, overrides: Partial<AuditSettings> = {}): AuditSettings {
  return {dir, keyFile: join(dir, '..', 'key.json'), ...AUDIT_DEFAULTS, enabled: true, ...overrides};
}

export function testContext(overrides: Partial<DecisionContext> = {}): DecisionContext {
  return {agentId: 'files', sessionId: `session-${randomBytes(4).toString('hex')}`, mode: 'block', sessionToolCalls: [], ...overrides};
}

export function toolCall(name: string, args: Record<string, unknown>): ToolCall {
  return {name, arguments: args, argumentsJson: JSON.stringify(args)};
}

export const ALLOW: Decision = {decision: 'allow', reason: 'in the approved scope', ruleId: 'scope:files'};
export const BLOCK: Decision = {decision: 'block', reason: 'outside the approved scope', ruleId: 'scope:files'};

/** A complete session: SESSION_START, `calls` PRE/POST pairs, SESSION_END, sealed. */
export async function writeSession(
  dir: string,
  key: AuditKey,
  calls: number,
  options: {settings?: Partial<AuditSettings>; context?: Partial<DecisionContext>; close?: boolean; clock?: () => number} = {},
): Promise<FileAuditSink> {
  const context = testContext(options.context);
  const sink = new FileAuditSink({
    settings: testSettings(dir, options.settings),
    context,
    key,
    ...(options.clock ? {clock: options.clock} : {}),
  });
  for (let i = 0; i < calls; i++) {
    const call = toolCall('read_file', {path: `/data/${i}.txt`});
    const decision = i % 5 === 4 ? BLOCK : ALLOW;
    const preEventId = await sink.toolCallPre({call, context, decision, requestId: String(i)});
    sink.toolCallPost({
      call,
      context,
      decision,
      requestId: String(i),
      preEventId,
      outcome:
        decision.decision === 'allow'
          ? {kind: 'result', resultJson: Buffer.from(`{"content":[{"type":"text","text":"file ${i}"}]}`)}
          : {kind: 'refused', error: {code: -32001, message: 'blocked'}},
      durationMs: 2,
    });
  }
  await sink.flush();
  if (options.close !== false) await sink.close();
  return sink;
}

export async function segmentNames(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => parseSegmentFileName(name)).sort();
}

export async function readLines(path: string): Promise<string[]> {
  const text = await readFile(path, 'utf8');
  return text.split('\n').slice(0, -1);
}

export async function writeLines(path: string, lines: string[]): Promise<void> {
  await writeFile(path, lines.map((line) => `${line}\n`).join(''));
}
