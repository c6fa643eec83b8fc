import {readdir, rm, unlink} from 'node:fs/promises';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import type {HealthReport} from '../../src/fleet/health.js';
import {parseEnvelope, runThoth} from '../helpers/cli.js';
import {MISBEHAVING_SERVER} from '../helpers/mcp.js';
import {RawSession} from '../helpers/raw-session.js';
import {tempDir} from '../helpers/tmp.js';

/**
 * Issue 9: `thoth health` called a deleted audit trail "no audit log yet". A real session writes
 * the trail (and its key, and the tool pins) into a real profile; then the trail goes.
 */
async function profileWithSession(): Promise<{env: Record<string, string>; profile: string}> {
  const home = await tempDir();
  const profile = join(home, '.thoth');
  const env = {HOME: home, THOTH_HOME: profile};
  const session = new RawSession(['--agent-id', 'files', '--enforcement-mode', 'observe'], [process.execPath, MISBEHAVING_SERVER], env);
  await session.initialize();
  session.send({jsonrpc: '2.0', id: 'list', method: 'tools/list'});
  await session.nextJson();
  session.send({jsonrpc: '2.0', id: 1, method: 'tools/call', params: {name: 'echo', arguments: {text: 'recorded'}}});
  expect(await session.nextJson()).toMatchObject({id: 1});
  session.closeStdin();
  expect((await session.exited).code).toBe(0);
  expect((await readdir(join(profile, 'audit'))).some((name) => name.endsWith('.jsonl'))).toBe(true);
  return {env, profile};
}

async function auditFact(env: Record<string, string>): Promise<{code: number | null; report: HealthReport}> {
  const run = await runThoth(['health', '--json'], {env});
  const envelope = parseEnvelope<HealthReport>(run.stdout);
  expect(envelope.status).toBe(run.code);
  return {code: run.code, report: envelope.result!};
}

describe('thoth health and an audit trail that is gone', () => {
  it('a fresh profile: no audit log yet, ok', async () => {
    const home = await tempDir();
    const {report} = await auditFact({HOME: home, THOTH_HOME: join(home, '.thoth')});
    expect(report.audit).toMatchObject({state: 'ok', summary: 'no audit log yet'});
  });

  it('the trail of a real session, then rm -rf of the audit directory: warn (deleted or moved), health degraded, exit 11', async () => {
    const {env, profile} = await profileWithSession();
    expect((await auditFact(env)).report.audit.state).toBe('ok');

    const dir = join(profile, 'audit');
    await rm(dir, {recursive: true, force: true});
    const {code, report} = await auditFact(env);
    expect(report.audit.state).toBe('warn');
    expect(report.audit.summary).toBe(
      `no audit trail: ${dir} does not exist, although sessions have run on this profile (the audit key ${join(profile, 'audit_hmac_key.json')} exists; tool pins exist): the trail was deleted or moved (a moved trail: set THOTH_AUDIT_DIR to it)`,
    );
    expect(report.reasons).toContain(`audit: ${report.audit.summary}`);
    expect(report.status).not.toBe('healthy');
    expect(code).toBe(11);
    const field = await runThoth(['health', '--format', 'jamf-ea', '--field', 'audit'], {env});
    expect(field.stdout).toBe('<result>warn</result>\n');
  });

  it('every file of the directory removed (the directory left): warn as well', async () => {
    const {env, profile} = await profileWithSession();
    const dir = join(profile, 'audit');
    for (const name of await readdir(dir)) await rm(join(dir, name), {force: true});
    const {report} = await auditFact(env);
    expect(report.audit.state).toBe('warn');
    expect(report.audit.summary).toMatch(
      new RegExp(`^no audit trail: ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is empty, although sessions have run`),
    );
  });

  it('the trail and its key removed, the pins left: still warn, naming what shows that sessions ran', async () => {
    const {env, profile} = await profileWithSession();
    await rm(join(profile, 'audit'), {recursive: true, force: true});
    await unlink(join(profile, 'audit_hmac_key.json'));
    const {report} = await auditFact(env);
    expect(report.audit.state).toBe('warn');
    expect(report.audit.summary).toContain('although sessions have run on this profile (tool pins exist)');
  });

  it('only the registry removed (segments left): fail, as before (tampering the verifier can name)', async () => {
    const {env, profile} = await profileWithSession();
    await unlink(join(profile, 'audit', 'registry.jsonl'));
    const {report} = await auditFact(env);
    expect(report.audit.state).toBe('fail');
    expect(report.audit.summary).toContain('the registry is missing although segment files exist');
  });
});
