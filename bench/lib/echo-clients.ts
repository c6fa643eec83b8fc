import {Client} from '@modelcontextprotocol/sdk/client/index.js';
import {StdioClientTransport} from '@modelcontextprotocol/sdk/client/stdio.js';

import {checkEcho, cpuMicrosOf, peakRssOf, RpcClient} from './rpc-client.js';

/** A process to benchmark: its command line and environment. */
export interface Variant {
  name: string;
  command: string[];
  env?: NodeJS.ProcessEnv;
}

/**
 * An initialised MCP connection to a variant, as the proxy benches drive it: every `echo` checks
 * that it got the echo of what it sent (it throws otherwise, and the bench fails).
 */
export interface EchoClient {
  echo(message: string): Promise<void>;
  /** CPU µs the spawned process (the proxy when there is one) has used so far. */
  cpuMicros(): number | undefined;
  /** Peak RSS of the spawned process, in bytes. */
  peakRss(): number | undefined;
  close(): Promise<void>;
}

export type Connect = (variant: Variant) => Promise<EchoClient>;

/** The minimal JSON-RPC client (bench/lib/rpc-client.ts): the proxy's own cost, unmasked. */
export const connectMinimal: Connect = async (variant) => {
  const client = new RpcClient(variant.command[0]!, variant.command.slice(1), variant.env);
  try {
    await client.initialize();
  } catch (error) {
    await client.close();
    throw error;
  }
  return client;
};

/** The official SDK client (`Client` + `StdioClientTransport`), what MCP hosts run. */
export const connectSdk: Connect = async (variant) => {
  const transport = new StdioClientTransport({
    command: variant.command[0]!,
    args: variant.command.slice(1),
    env: variant.env as Record<string, string>,
    stderr: 'ignore',
  });
  const client = new Client({name: 'thoth-bench', version: '1'});
  await client.connect(transport);
  return {
    async echo(message) {
      // Rejects on a JSON-RPC error response (McpError); checkEcho covers isError and the content.
      checkEcho(await client.callTool({name: 'echo', arguments: {message}}), message);
    },
    cpuMicros: () => cpuMicrosOf(transport.pid),
    peakRss: () => peakRssOf(transport.pid),
    close: () => client.close(),
  };
};
