import {mkdir, readFile, writeFile} from 'node:fs/promises';
import {join} from 'node:path';

import {describe, expect, it} from 'vitest';

import {THOTH_BIN, runThoth} from '../helpers/cli.js';
import {SERVER_EVERYTHING, connect} from '../helpers/mcp.js';
import {tempDir} from '../helpers/tmp.js';

/** Claude Desktop on macOS starts servers with this PATH: no node, no npx, no thoth on it. */
const MINIMAL_PATH = '/usr/bin:/bin:/usr/sbin:/sbin';

describe('the written config launches', () => {
  it('spawns the wrapped server-everything entry exactly as a client would and completes initialize through thoth run', async () => {
    const home = await tempDir();
    const configDir = join(home, '.config', 'Claude');
    await mkdir(configDir, {recursive: true});
    const configFile = join(configDir, 'claude_desktop_config.json');
    await writeFile(
      configFile,
      `${JSON.stringify({mcpServers: {everything: {command: SERVER_EVERYTHING.command, args: SERVER_EVERYTHING.args}}}, null, 2)}\n`,
    );

    // No file argument: thoth finds Claude Desktop's config in the Linux location under $HOME.
    const wrapped = await runThoth(['wrap-config', '--enforcement-mode', 'observe', '--env', 'GREETING=hello from the config'], {
      env: {HOME: home, THOTH_HOME: join(home, '.thoth')},
    });
    expect(wrapped.stderr).toBe('');
    expect(wrapped.code).toBe(0);

    const config = JSON.parse(await readFile(configFile, 'utf8')) as {
      mcpServers: {everything: {command: string; args: string[]; env: Record<string, string>}};
    };
    const entry = config.mcpServers.everything;
    expect(entry.command).toBe(process.execPath);
    expect(entry.args.slice(0, 4)).toEqual([THOTH_BIN, 'run', '--agent-id', 'everything']);
    expect(entry.args.slice(-4)).toEqual(['--', SERVER_EVERYTHING.command, ...SERVER_EVERYTHING.args]);

    const connection = await connect(
      {command: entry.command, args: entry.args},
      {env: {...entry.env, PATH: MINIMAL_PATH, THOTH_HOME: join(home, '.thoth')}},
    );
    try {
      expect(connection.client.getServerVersion()?.name).toMatch(/everything/);
      const tools = await connection.client.listTools();
      expect(tools.tools.map((tool) => tool.name)).toContain('get-env');
      const env = await connection.client.callTool({name: 'get-env', arguments: {}});
      const printed = JSON.parse((env.content as Array<{text: string}>)[0]!.text) as Record<string, string>;
      expect(printed['GREETING']).toBe('hello from the config');
    } finally {
      await connection.close();
    }
  });
});
