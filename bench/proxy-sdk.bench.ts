import type {BenchContext, BenchSection} from './main.js';
import {connectSdk} from './lib/echo-clients.js';
import {proxyComparison} from './proxy.bench.js';

/**
 * The same comparison as proxy.bench.ts, with the client MCP hosts actually run: the official
 * SDK `Client` over `StdioClientTransport`, which validates every message with its schemas.
 * proxy.bench.ts uses a minimal client to expose the proxy's own cost; this one shows what a
 * host (Claude Desktop, Claude Code, Cursor all use an SDK client) sees. Both tables are
 * reported; neither replaces the other.
 */
export default function proxySdkBench(context: BenchContext): Promise<BenchSection> {
  return proxyComparison(
    context,
    connectSdk,
    'thoth run vs direct with the official SDK client (what an MCP host sees)',
    '@modelcontextprotocol/sdk Client + StdioClientTransport (it validates every response with its schemas, as hosts do)',
  );
}
