import {mkdir, realpath, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {pathToFileURL} from 'node:url';

import {Client} from '@modelcontextprotocol/sdk/client/index.js';
import {StdioClientTransport} from '@modelcontextprotocol/sdk/client/stdio.js';
import {ListRootsRequestSchema, McpError} from '@modelcontextprotocol/sdk/types.js';
import {describe, expect, it} from 'vitest';

import {REPO_ROOT, THOTH_BIN} from '../helpers/cli.js';
import {serverFilesystem} from '../helpers/mcp.js';
import {tempDir} from '../helpers/tmp.js';

/**
 * The official filesystem server started without a directory takes its allowed directories
 * from the client's roots and resolves a relative path against them. thoth learns the same roots
 * from the client's answer to the server's roots/list, so a relative path is checked where the
 * server will open it: a path rule on the vault applies to `secret/key.txt`.
 */
async function sessionWithRoots(root: string, thothHome: string, policyFile: string | undefined) {
  const server = serverFilesystem(root);
  const args =
    policyFile === undefined
      ? [...server.args.slice(0, 1)]
      : [THOTH_BIN, 'run', '--agent-id', 'fs', '--policy', policyFile, '--', server.command, server.args[0]!];
  const transport = new StdioClientTransport({
    command: process.execPath,
    args,
    env: {PATH: process.env['PATH'] ?? '', HOME: thothHome, THOTH_HOME: join(thothHome, '.thoth'), THOTH_REQUIRE_NON_ROOT: 'false'},
    cwd: REPO_ROOT,
    stderr: 'pipe',
  });
  const client = new Client({name: 'roots-client', version: '1.0.0'}, {capabilities: {roots: {listChanged: true}}});
  client.setRequestHandler(ListRootsRequestSchema, () => ({roots: [{uri: pathToFileURL(root).href, name: 'vault'}]}));
  await client.connect(transport);
  return client;
}

async function read(client: Client, path: string): Promise<{text?: string; code?: number}> {
  // server-filesystem asks for roots after initialization: wait until it serves the root.
  for (let attempt = 0; ; attempt++) {
    try {
      const result = (await client.callTool({name: 'read_text_file', arguments: {path}})) as {
        content: Array<{text: string}>;
        isError?: boolean;
      };
      if (result.isError === true && attempt < 50) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      return {text: result.content.map((item) => item.text).join('')};
    } catch (error) {
      if (error instanceof McpError) return {code: error.code};
      throw error;
    }
  }
}

describe('relative paths against the roots the client declares (server-filesystem in roots mode)', () => {
  it('the server alone serves vault/secret through a relative path; through thoth the vault rule applies to it', async () => {
    const base = await realpath(await tempDir());
    const vault = join(base, 'vault');
    await mkdir(join(vault, 'secret'), {recursive: true});
    await writeFile(join(vault, 'secret/key.txt'), 'VAULT KEY');
    await writeFile(join(vault, 'readme.txt'), 'hello');
    const home = join(base, 'home');
    await mkdir(home);
    const policy = join(base, 'policy.json');
    await writeFile(
      policy,
      JSON.stringify({
        defaults: {mode: 'block', approved_scope: ['read_text_file', 'list_allowed_directories']},
        rules: [
          {
            id: 'vault-secrets',
            tool: '*',
            args: {path: {path_within: join(vault, 'secret')}},
            decision: 'block',
            reason: 'the vault holds secrets',
          },
        ],
      }),
    );

    const direct = await sessionWithRoots(vault, home, undefined);
    try {
      expect((await read(direct, 'secret/key.txt')).text).toBe('VAULT KEY');
    } finally {
      await direct.close();
    }

    const governed = await sessionWithRoots(vault, home, policy);
    try {
      // The root is known once the server asked for it: an ordinary file is read first.
      expect((await read(governed, 'readme.txt')).text).toBe('hello');
      expect(await read(governed, 'secret/key.txt')).toEqual({code: -32001});
      expect(await read(governed, join(vault, 'secret/key.txt'))).toEqual({code: -32001});
    } finally {
      await governed.close();
    }
  });
});
