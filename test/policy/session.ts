import {join} from 'node:path';

import {Client} from '@modelcontextprotocol/sdk/client/index.js';
import {StdioClientTransport} from '@modelcontextprotocol/sdk/client/stdio.js';
import {ElicitRequestSchema, McpError, type ElicitRequest, type ElicitResult} from '@modelcontextprotocol/sdk/types.js';

import {REPO_ROOT, THOTH_BIN} from '../helpers/cli.js';

export const EVERYTHING_SERVER = join(REPO_ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
export const RUG_PULL_SERVER = join(REPO_ROOT, 'fixtures/servers/rug-pull-server.mjs');
export const E2E_POLICY = join(REPO_ROOT, 'fixtures/policies/everything-e2e.jsonc');

export interface SessionOptions {
  home: string;
  /** `thoth run` flags, before `--`. */
  flags: string[];
  /** The server command after `--` (default: server-everything over stdio). */
  server?: string[];
  env?: Record<string, string>;
  /** Declare the elicitation capability and answer prompts with this. */
  elicit?: (request: ElicitRequest) => Promise<ElicitResult>;
}

export interface Session {
  client: Client;
  stderr(): string;
  close(): Promise<void>;
}

/** A real MCP session: the official SDK client → `thoth run` (built CLI) → a real server. */
export async function startSession(options: SessionOptions): Promise<Session> {
  const server = options.server ?? [process.execPath, EVERYTHING_SERVER, 'stdio'];
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [THOTH_BIN, 'run', ...options.flags, '--', ...server],
    env: {PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', THOTH_HOME: options.home, ...options.env},
    cwd: REPO_ROOT,
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const client = new Client({name: 'thoth-e2e', version: '1.0.0'}, {capabilities: options.elicit ? {elicitation: {}} : {}});
  if (options.elicit) {
    const answer = options.elicit;
    client.setRequestHandler(ElicitRequestSchema, (request) => answer(request));
  }
  await client.connect(transport);
  return {client, stderr: () => stderr, close: () => client.close()};
}

/** Calls a tool that must be refused and returns the JSON-RPC error (code + data). */
export async function refusedCall(
  client: Client,
  name: string,
  args: Record<string, unknown> = {},
): Promise<{code: number; message: string; data: Record<string, unknown>}> {
  try {
    const result = await client.callTool({name, arguments: args});
    throw new Error(`expected "${name}" to be refused, got ${JSON.stringify(result).slice(0, 200)}`);
  } catch (error) {
    if (!(error instanceof McpError)) throw error;
    return {code: error.code, message: error.message, data: (error.data ?? {}) as Record<string, unknown>};
  }
}

/** The text of a successful tool result. */
export async function callText(client: Client, name: string, args: Record<string, unknown> = {}): Promise<string> {
  const result = await client.callTool({name, arguments: args});
  const content = (result as {content?: Array<{type: string; text?: string}>}).content ?? [];
  return content.map((item) => item.text ?? `[${item.type}]`).join('');
}
