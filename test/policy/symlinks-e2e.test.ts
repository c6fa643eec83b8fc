import {mkdir, realpath, symlink, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {parseEnvelope, runThoth} from '../helpers/cli.js';
import {connect, serverFilesystem} from '../helpers/mcp.js';
import {tempDir} from '../helpers/tmp.js';
import {callText, refusedCall, startSession} from './session.js';

/**
 * The official filesystem server serves `root` and follows links inside it. Its own check stops
 * links that leave `root`, so the blocked directory lies inside it: only thoth's policy stands
 * between `work/link` and `secrets/`.
 */
async function workspace() {
  const root = await realpath(await tempDir());
  await mkdir(join(root, 'work'));
  await writeFile(join(root, 'work/notes.md'), 'ordinary notes');
  await mkdir(join(root, 'secrets'));
  await writeFile(join(root, 'secrets/key.txt'), 'SECRET KEY');
  await symlink(join(root, 'secrets'), join(root, 'work/link'));
  const profile = join(root, 'profile');
  await mkdir(profile);
  await symlink(profile, join(root, 'work/thoth'));
  const policyDir = await realpath(await tempDir());
  const policyFile = join(policyDir, 'policy.json');
  const readTools = ['read_text_file', 'read_file'];
  await writeFile(
    policyFile,
    JSON.stringify({
      agents: {
        fs: {
          mode: 'block',
          approved_scope: [],
          rules: [{id: 'workspace', tool: readTools, args: {path: {path_within: join(root, 'work')}}, decision: 'allow'}],
        },
      },
      rules: [
        {id: 'no-secrets', tool: '*', args: {'*': {path_glob: `${root}/secrets/**`}}, decision: 'block', reason: 'secrets stay secret'},
      ],
    }),
  );
  return {root, profile, policyFile, server: serverFilesystem(root)};
}

describe('symbolic links through thoth run (SDK client → thoth run → server-filesystem)', () => {
  it('refuses a read through a link into a blocked directory with -32001, and still reads an allowed file', async () => {
    const {root, profile, policyFile, server} = await workspace();

    // Without thoth the server follows the link: the gap is real.
    const direct = await connect(server);
    try {
      const leaked = await direct.client.callTool({name: 'read_text_file', arguments: {path: join(root, 'work/link/key.txt')}});
      expect(JSON.stringify(leaked)).toContain('SECRET KEY');
    } finally {
      await direct.close();
    }

    const session = await startSession({
      home: profile,
      flags: ['--agent-id', 'fs', '--policy', policyFile],
      server: [server.command, ...server.args],
    });
    try {
      expect(await callText(session.client, 'read_text_file', {path: join(root, 'work/notes.md')})).toBe('ordinary notes');
      for (const tool of ['read_text_file', 'read_file']) {
        const refused = await refusedCall(session.client, tool, {path: join(root, 'work/link/key.txt')});
        expect(refused.code).toBe(-32001);
        expect(refused.data).toMatchObject({decision: 'block', ruleId: 'rule:no-secrets', reason: 'secrets stay secret', tool});
      }
      // A link into thoth's own profile is refused before any rule.
      const profileRead = await refusedCall(session.client, 'read_text_file', {path: join(root, 'work/thoth/approvals.json')});
      expect(profileRead.code).toBe(-32001);
      expect(profileRead.data).toMatchObject({ruleId: 'builtin:protect-thoth-files'});
      expect(await callText(session.client, 'read_text_file', {path: join(root, 'work/notes.md')})).toBe('ordinary notes');
    } finally {
      await session.close();
    }
  });

  it('thoth policy explain resolves the same links and says so in the rule chain', async () => {
    const {root, profile, policyFile} = await workspace();
    const args = JSON.stringify({path: join(root, 'work/link/key.txt')});
    const result = await runThoth(
      ['policy', 'explain', '--agent-id', 'fs', '--tool', 'read_text_file', '--args', args, '--policy', policyFile, '--json'],
      {env: {THOTH_HOME: profile}},
    );
    expect(result.code).toBe(0);
    const envelope = parseEnvelope<{decision: string; ruleId: string; trace: string[]}>(result.stdout);
    expect(envelope.result).toMatchObject({decision: 'block', ruleId: 'rule:no-secrets'});
    expect(envelope.result?.trace).toContain(`symlink: "${join(root, 'work/link/key.txt')}" → ${join(root, 'secrets/key.txt')}`);
    const human = await runThoth(
      ['policy', 'explain', '--agent-id', 'fs', '--tool', 'read_text_file', '--args', args, '--policy', policyFile],
      {env: {THOTH_HOME: profile}},
    );
    expect(human.stdout).toContain(`→ ${join(root, 'secrets/key.txt')}`);
  });
});
