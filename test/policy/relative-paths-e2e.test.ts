import {mkdir, realpath, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {invalidAuditEvents} from '../helpers/audit-schemas.js';
import {connect, serverFilesystem} from '../helpers/mcp.js';
import {tempDir} from '../helpers/tmp.js';
import {callText, refusedCall, startSession} from './session.js';

/**
 * A fake home with an SSH key, a workspace and thoth's profile in ~/.thoth; the official
 * filesystem server serves the whole home and resolves relative paths against it. thoth runs
 * from the repository (its working directory is not the home).
 */
async function fakeHome() {
  const home = await realpath(await tempDir());
  await mkdir(join(home, '.ssh'));
  await writeFile(join(home, '.ssh/id_rsa'), 'PRIVATE KEY');
  await mkdir(join(home, '.thoth'));
  await writeFile(join(home, '.thoth/approvals.json'), '{"approvals": []}');
  await mkdir(join(home, 'project/secret'), {recursive: true});
  await writeFile(join(home, 'project/secret/token'), 'TOKEN');
  await writeFile(join(home, 'notes.md'), 'ordinary notes');
  return home;
}

describe('relative and padded paths through thoth run (SDK client → thoth run → server-filesystem rooted at a fake HOME)', () => {
  it('steps up .ssh/id_rsa and refuses .thoth/… and padded paths, which the server alone serves', async () => {
    const home = await fakeHome();
    const server = serverFilesystem(home);
    const padded = `${home}/${'./'.repeat(5000)}.ssh/id_rsa`;

    // Without thoth the server resolves each against its root and serves it: the gap is real.
    const direct = await connect(server, {env: {HOME: home}});
    try {
      for (const path of ['.ssh/id_rsa', padded])
        expect(JSON.stringify(await direct.client.callTool({name: 'read_text_file', arguments: {path}}))).toContain('PRIVATE KEY');
      expect(JSON.stringify(await direct.client.callTool({name: 'read_text_file', arguments: {path: '.thoth/approvals.json'}}))).toContain(
        'approvals',
      );
    } finally {
      await direct.close();
    }

    // Through thoth with a fresh install's settings: the built-in policy, progressive mode.
    const profile = join(home, '.thoth');
    const session = await startSession({
      home: profile,
      flags: ['--agent-id', 'fs'],
      server: [server.command, ...server.args],
      env: {HOME: home},
    });
    try {
      expect(await callText(session.client, 'read_text_file', {path: 'notes.md'})).toBe('ordinary notes');
      for (const path of ['.ssh/id_rsa', padded, './.ssh/../.ssh/id_rsa']) {
        const stepped = await refusedCall(session.client, 'read_text_file', {path});
        expect(stepped.code).toBe(-32002);
        expect(stepped.data).toMatchObject({decision: 'step_up', ruleId: 'rule:builtin-credential-files'});
      }
      for (const path of ['.thoth/approvals.json', `${home}/${'./'.repeat(5000)}.thoth/approvals.json`]) {
        const refused = await refusedCall(session.client, 'read_text_file', {path});
        expect(refused.code).toBe(-32001);
        expect(refused.data).toMatchObject({decision: 'block', ruleId: 'builtin:protect-thoth-files'});
      }
      expect(await callText(session.client, 'read_text_file', {path: 'notes.md'})).toBe('ordinary notes');
    } finally {
      await session.close();
    }
    expect(await invalidAuditEvents(join(profile, 'audit'))).toEqual([]);
  });

  it("reads a relative path against the directory on the server's command line", async () => {
    const home = await fakeHome();
    const root = join(home, 'project');
    const server = serverFilesystem(root);
    const policyFile = join(home, 'policy.json');
    await writeFile(
      policyFile,
      JSON.stringify({
        defaults: {mode: 'block', approved_scope: ['read_text_file']},
        rules: [
          {id: 'no-secrets', tool: '*', args: {'*': {path_glob: `${root}/secret/**`}}, decision: 'block', reason: 'secrets stay secret'},
        ],
      }),
    );
    const direct = await connect(server, {env: {HOME: home}});
    try {
      expect(JSON.stringify(await direct.client.callTool({name: 'read_text_file', arguments: {path: 'secret/token'}}))).toContain('TOKEN');
    } finally {
      await direct.close();
    }
    const session = await startSession({
      home: join(home, '.thoth'),
      flags: ['--agent-id', 'fs', '--policy', policyFile],
      server: [server.command, ...server.args],
      env: {HOME: home},
    });
    try {
      const refused = await refusedCall(session.client, 'read_text_file', {path: 'secret/token'});
      expect(refused.code).toBe(-32001);
      expect(refused.data).toMatchObject({decision: 'block', ruleId: 'rule:no-secrets', reason: 'secrets stay secret'});
    } finally {
      await session.close();
    }
  });
});
