import {createRequire} from 'node:module';
import {fileURLToPath} from 'node:url';

import {Client} from '@modelcontextprotocol/sdk/client/index.js';
import {StdioClientTransport} from '@modelcontextprotocol/sdk/client/stdio.js';
import {CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema} from '@modelcontextprotocol/sdk/types.js';

import {THOTH_BIN} from './cli.js';
import {tempDirSync} from './tmp.js';

const require = createRequire(import.meta.url);

export interface ServerCommand {
  command: string;
  args: string[];
}

/** The official "everything" reference server, run by this node. */
export const SERVER_EVERYTHING: ServerCommand = {
  command: process.execPath,
  args: [require.resolve('@modelcontextprotocol/server-everything/dist/index.js'), 'stdio'],
};

/** The official filesystem server, serving `root`. */
export function serverFilesystem(root: string): ServerCommand {
  return {command: process.execPath, args: [require.resolve('@modelcontextprotocol/server-filesystem/dist/index.js'), root]};
}

export const MISBEHAVING_SERVER = fileURLToPath(new URL('../../fixtures/servers/misbehaving-server.mjs', import.meta.url));

export function misbehavingServer(...switches: string[]): ServerCommand {
  return {command: process.execPath, args: [MISBEHAVING_SERVER, ...switches]};
}

/** The same server behind `thoth run` (the built CLI). */
export function throughThoth(server: ServerCommand, thothArgs: string[] = ['--agent-id', 'test-server']): ServerCommand {
  return {command: process.execPath, args: [THOTH_BIN, 'run', ...thothArgs, '--', server.command, ...server.args]};
}

export interface ConnectOptions {
  env?: Record<string, string>;
  /** Declare sampling/elicitation/roots and answer them deterministically. */
  fullCapabilities?: boolean;
  /** Answer to elicitation requests (default: accept with fixed content). */
  onElicit?: (request: {params: Record<string, unknown>}) => Record<string, unknown> | Promise<Record<string, unknown>>;
  /** Capabilities to declare (overrides fullCapabilities). */
  capabilities?: Record<string, unknown>;
}

export interface Connection {
  client: Client;
  transport: StdioClientTransport;
  /** Every message the transport received, in order, before the SDK dispatched it. */
  received: Array<Record<string, unknown>>;
  stderr: () => string;
  close(): Promise<void>;
}

export const SAMPLING_ANSWER = {
  model: 'test-model',
  role: 'assistant',
  content: {type: 'text', text: 'sampled answer'},
  stopReason: 'endTurn',
};
export const ELICIT_ANSWER = {action: 'accept', content: {name: 'Ada Lovelace', email: 'ada@example.com'}};
export const ROOTS = [{uri: 'file:///tmp/project', name: 'project'}];

/** Connects the official SDK client over stdio to `server`. */
export async function connect(server: ServerCommand, options: ConnectOptions = {}): Promise<Connection> {
  const transport = new StdioClientTransport({
    command: server.command,
    args: server.args,
    // A profile of its own unless the test gives one: tests never touch the real ~/.thoth.
    env: {PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', THOTH_HOME: tempDirSync(), ...options.env},
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const capabilities =
    options.capabilities ?? (options.fullCapabilities ? {sampling: {}, elicitation: {}, roots: {listChanged: true}} : {});
  const client = new Client({name: 'thoth-test-client', version: '1.0.0'}, {capabilities});
  if (capabilities['sampling']) client.setRequestHandler(CreateMessageRequestSchema, () => SAMPLING_ANSWER as never);
  if (capabilities['elicitation']) {
    client.setRequestHandler(
      ElicitRequestSchema,
      async (request) => (options.onElicit ? await options.onElicit(request as never) : ELICIT_ANSWER) as never,
    );
  }
  if (capabilities['roots']) client.setRequestHandler(ListRootsRequestSchema, () => ({roots: ROOTS}));
  await client.connect(transport);
  const received: Array<Record<string, unknown>> = [];
  const dispatch = transport.onmessage;
  transport.onmessage = (message) => {
    received.push(message as Record<string, unknown>);
    dispatch?.(message);
  };
  return {
    client,
    transport,
    received,
    stderr: () => stderr,
    close: async () => {
      await client.close();
    },
  };
}
