import {join} from 'node:path';

import {describe, expect, it} from 'vitest';

import {readKeyFile} from '../../src/audit/key.js';
import {readEvents} from '../../src/audit/reader.js';
import {verifyAuditDir} from '../../src/audit/verify.js';
import {parseEnvelope, runThoth} from '../helpers/cli.js';
import {SERVER_EVERYTHING, connect, throughThoth} from '../helpers/mcp.js';
import {tempDir} from '../helpers/tmp.js';

describe('audit trail of a real thoth run session (official SDK client, server-everything)', () => {
  it('leaves SESSION_START, a PRE and a POST per governed call, SESSION_END, all verifying', async () => {
    const home = await tempDir();
    const dir = join(home, 'trail');
    const connection = await connect(
      throughThoth(SERVER_EVERYTHING, ['--agent-id', 'everything', '--audit-dir', dir, '--tenant-id', 'acme']),
      {
        env: {THOTH_HOME: home, THOTH_USER_ID: 'ada@example.com', THOTH_ENDPOINT_ID: 'ep-7', THOTH_REQUIRE_NON_ROOT: 'false'},
      },
    );
    const first = await connection.client.callTool({name: 'echo', arguments: {message: 'hello with token=abcd1234efgh'}});
    const second = await connection.client.callTool({name: 'echo', arguments: {message: 'again'}});
    await connection.close();
    expect(JSON.stringify(first)).toContain('hello');
    expect(JSON.stringify(second)).toContain('again');

    const events = (await readEvents(dir)).map((e) => e.event);
    expect(events.map((e) => e.type)).toEqual([
      'SESSION_START',
      'POLICY_LOADED',
      'TOOL_CALL_PRE',
      'TOOL_CALL_POST',
      'TOOL_CALL_PRE',
      'TOOL_CALL_POST',
      'SESSION_END',
    ]);
    const [, , pre1, post1, pre2, post2] = events;
    expect(pre1).toMatchObject({
      sourceType: 'agent_tool_call',
      agentId: 'everything',
      tenantId: 'acme',
      userId: 'ada@example.com',
      endpointId: 'ep-7',
      toolName: 'echo',
      decision: 'allow',
      ruleId: 'progressive:learning',
      sessionToolCalls: [],
      client: {name: 'thoth-test-client', version: '1.0.0'},
    });
    expect(pre1!['content']).toBe('{"message":"hello with token=[REDACTED:secret]"}');
    expect(post1).toMatchObject({preEventId: pre1!.eventId, outcome: 'result', toolName: 'echo'});
    expect(post1!['content']).toContain('Echo: hello with token=[REDACTED:secret]');
    expect(pre2!['sessionToolCalls']).toEqual(['echo']);
    expect(post2).toMatchObject({preEventId: pre2!.eventId});
    expect(new Set(events.map((e) => e.sessionId)).size).toBe(1);

    const key = await readKeyFile(join(home, 'audit_hmac_key.json'));
    const report = await verifyAuditDir(dir, key!);
    expect(report.problems).toEqual([]);
    expect(report.chainReports[0]).toMatchObject({state: 'sealed', agentId: 'everything', events: 7});
    const cli = await runThoth(['audit', 'verify', dir, '--json'], {env: {THOTH_HOME: home}});
    expect(parseEnvelope<{status: string}>(cli.stdout).result?.status).toBe('intact');
  });

  it('THOTH_AUDIT=off records nothing and says so on stderr', async () => {
    const home = await tempDir();
    const dir = join(home, 'trail');
    const connection = await connect(throughThoth(SERVER_EVERYTHING, ['--audit-dir', dir]), {env: {THOTH_HOME: home, THOTH_AUDIT: 'off'}});
    await connection.client.callTool({name: 'echo', arguments: {message: 'x'}});
    await connection.close();
    expect(connection.stderr()).toMatch(/audit trail is off/);
    await expect(readEvents(dir)).rejects.toThrow(/does not exist/);
  });

  it('an invalid audit setting fails closed: thoth run relays, but refuses every tool call', async () => {
    const home = await tempDir();
    const connection = await connect(throughThoth(SERVER_EVERYTHING), {env: {THOTH_HOME: home, THOTH_AUDIT_FSYNC: 'sometimes'}});
    await expect(connection.client.callTool({name: 'echo', arguments: {message: 'x'}})).rejects.toMatchObject({code: -32001});
    await connection.close();
    expect(connection.stderr()).toMatch(/THOTH_AUDIT_FSYNC/);
  });
});
