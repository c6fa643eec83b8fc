import {spawn} from 'node:child_process';
import {mkdir} from 'node:fs/promises';
import {join} from 'node:path';

import {McpError} from '@modelcontextprotocol/sdk/types.js';
import {describe, expect, it} from 'vitest';

import {readKeyFile} from '../../src/audit/key.js';
import {readEvents} from '../../src/audit/reader.js';
import {verifyAuditDir} from '../../src/audit/verify.js';
import {REPO_ROOT, THOTH_BIN} from '../helpers/cli.js';
import {SERVER_EVERYTHING, connect} from '../helpers/mcp.js';
import {tempDir} from '../helpers/tmp.js';

/**
 * A real full disk: a tmpfs of a few KiB mounted over the audit directory inside a private mount
 * namespace (unshare works for root and, through a user namespace, for ordinary users), so the
 * writes fail with ENOSPC from the kernel. Nothing is mocked.
 */
const MOUNT_THEN_RUN = 'mount -t tmpfs -o size="$1" tmpfs "$0" && shift && exec "$@"';

function inTinyFilesystem(dir: string, size: string, command: string[]): string[] {
  return ['--mount', '--map-root-user', 'sh', '-c', MOUNT_THEN_RUN, dir, size, ...command];
}

describe('disk full (ENOSPC from a real tmpfs)', () => {
  it('refuses calls with -32001 while the log cannot be written, resumes when space returns, and the trail still verifies', async () => {
    const home = await tempDir();
    const dir = join(home, 'audit');
    await mkdir(dir, {recursive: true});
    const child = spawn(
      'unshare',
      inTinyFilesystem(dir, '96k', [process.execPath, '--import', 'tsx', join(REPO_ROOT, 'test', 'audit', 'disk-full-process.ts')]),
      {
        cwd: REPO_ROOT,
        env: {...process.env, THOTH_HOME: home, THOTH_AUDIT_DIR: dir},
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, stderr).toBe(0);
    const result = JSON.parse(stdout) as {
      allowed: number;
      refusal?: {code: number; data: {ruleId: string; reason: string}};
      afterRecovery: string;
      status: string;
      notes: string[];
      warnings: string[];
    };
    expect(result.allowed).toBeGreaterThan(0);
    expect(result.refusal?.code).toBe(-32001);
    expect(result.refusal?.data.ruleId).toBe('audit-unavailable');
    expect(result.refusal?.data.reason).toMatch(/ENOSPC|no space/i);
    expect(result.afterRecovery).toBe('forward');
    // The kernel wrote part of a record before ENOSPC; the writer acknowledged that fragment
    // once space came back: no tampering, no torn tail.
    expect(result.notes.join('\n')).toMatch(/interrupted write of \d+ bytes/);
    expect(result.status).toBe('intact');
    expect(result.warnings.join('\n')).toMatch(/ENOSPC|no space/i);
  });

  it('through the real thoth run: a governed call is refused with -32001 when the audit file system is full', async () => {
    const home = await tempDir();
    const dir = join(home, 'audit');
    await mkdir(dir, {recursive: true});
    const thoth = [
      process.execPath,
      THOTH_BIN,
      'run',
      '--agent-id',
      'everything',
      '--audit-dir',
      dir,
      '--',
      SERVER_EVERYTHING.command,
      ...SERVER_EVERYTHING.args,
    ];
    const connection = await connect({command: 'unshare', args: inTinyFilesystem(dir, '48k', thoth)}, {env: {THOTH_HOME: home}});
    let ok = 0;
    let refused: McpError | undefined;
    try {
      for (let i = 0; i < 60 && !refused; i++) {
        try {
          await connection.client.callTool({name: 'echo', arguments: {message: `${i} ${'m'.repeat(4000)}`}});
          ok++;
        } catch (error) {
          if (error instanceof McpError) refused = error;
          else throw error;
        }
      }
    } finally {
      await connection.close();
    }
    expect(ok).toBeGreaterThan(0);
    expect(refused?.code).toBe(-32001);
    expect(refused?.message).toMatch(/audit log could not be written/);
    expect(connection.stderr()).toMatch(/ENOSPC|no space/i);
    // The tmpfs is gone with its namespace; the key stayed in the profile on the real disk.
    expect(await readKeyFile(join(home, 'audit_hmac_key.json'))).toBeDefined();
    expect(await readEvents(dir)).toEqual([]);
    expect((await verifyAuditDir(dir, (await readKeyFile(join(home, 'audit_hmac_key.json')))!)).status).toBe('intact');
  });
});
