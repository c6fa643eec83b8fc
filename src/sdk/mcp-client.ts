import {errorMessage} from '../core/errors.js';
import {ErrorCode} from '../core/error-codes.js';
import type {JsonRpcErrorObject} from '../core/json-rpc.js';
import {ToolCallRefusedError} from './errors.js';
import {governedBy, sessionFor, type SdkOptions} from './functions.js';
import {programName} from './options.js';
import {jsonText} from './json-text.js';
import type {ThothSession} from './session.js';

/**
 * What governClient needs of a `@modelcontextprotocol/sdk` Client: every public method of it
 * (callTool, listTools, ...) sends through `request` (the experimental task API through the
 * protected `requestStream`). Written out so that the SDK does not depend on that package.
 */
export interface McpClientLike {
  request(
    request: {method: string; params?: Record<string, unknown>},
    resultSchema: never,
    options?: {signal?: AbortSignal},
  ): Promise<unknown>;
  getServerVersion?(): {name?: string; version?: string} | undefined;
}

/** The Client's streaming request (protected), which its experimental task API uses. */
type RequestStream = (
  request: {method: string; params?: Record<string, unknown>},
  resultSchema: never,
  options?: unknown,
) => AsyncGenerator<unknown>;

function streamOf(target: object): RequestStream | undefined {
  const stream = (target as {requestStream?: unknown}).requestStream;
  return typeof stream === 'function' ? (stream as RequestStream) : undefined;
}

type RequestArgs = [request: {method: string; params?: Record<string, unknown>}, resultSchema: never, options?: {signal?: AbortSignal}];

/**
 * `client`, governed as `thoth run` governs the server behind it: each `tools/call` (callTool,
 * or `request` with that method) is decided before it is sent and recorded with its result, and
 * a refused call throws ToolCallRefusedError (code -32001 / -32002 and the `data` thoth run
 * returns); `tools/list` results (listTools) are filtered by policy and checked against the tool
 * pins. Everything else passes through. The client must already be connected when it has no
 * `agentId` option: the agent id defaults to the name the server gave in `initialize`.
 *
 * The task-based tool calls of the experimental API (`requestStream`) are refused: they are not
 * governed.
 */
export function governClient<C extends McpClientLike>(client: C, options?: SdkOptions): C {
  const server = client.getServerVersion?.();
  const session = sessionFor(options, {
    defaultAgentId: () => (typeof server?.name === 'string' && server.name !== '' ? server.name : programName()),
    sessionStart: {server: {name: server?.name ?? null, version: server?.version ?? null}},
  });

  const request = async (...[message, resultSchema, requestOptions]: RequestArgs): Promise<unknown> => {
    const method = message?.method;
    if (method === 'tools/call') return callTool(session, client, message, resultSchema, requestOptions);
    const result = await client.request(message, resultSchema, requestOptions);
    return method === 'tools/list' ? filterToolsList(session, result) : result;
  };

  async function* requestStream(...[message, resultSchema, requestOptions]: Parameters<RequestStream>) {
    if (message?.method !== 'tools/call') return yield* streamOf(client)!.call(client, message, resultSchema, requestOptions);
    const name = typeof message.params?.['name'] === 'string' ? message.params['name'] : '';
    const reason =
      'task-based tool calls (requestStream, experimental.tasks.callToolStream) are not governed by thoth-mcp/sdk; use callTool';
    yield {
      type: 'error',
      error: new ToolCallRefusedError(name, {
        code: ErrorCode.BLOCKED,
        message: `thoth: ${reason}`,
        data: {decision: 'block', reason, ruleId: 'sdk-unsupported'},
      }),
    };
  }

  const governed = new Proxy(client, {
    get(target, property, receiver) {
      if (property === 'request') return request;
      if (property === 'requestStream' && streamOf(target)) return requestStream;
      // Methods run with the proxy as `this`, so that callTool and listTools reach the governed `request`.
      return Reflect.get(target, property, receiver) as unknown;
    },
  });
  return governedBy(governed, session);
}

async function callTool(
  session: ThothSession,
  client: McpClientLike,
  message: {method: string; params?: Record<string, unknown>},
  resultSchema: never,
  requestOptions: {signal?: AbortSignal} | undefined,
): Promise<unknown> {
  const params = message.params ?? {};
  const name = typeof params['name'] === 'string' ? params['name'] : '';
  const result = await session.govern(name, params['arguments'], () => client.request(message, resultSchema, requestOptions), {
    signal: requestOptions?.signal,
    resultOf: (value) => ({json: jsonText(value), isError: isObject(value) && value['isError'] === true}),
    errorOf: mcpError,
  });
  if (!result.ok) throw new ToolCallRefusedError(name, result.error);
  return result.value;
}

/** Tools the policy can never allow are removed, a changed definition is shown as it was pinned (as thoth run does). */
async function filterToolsList(session: ThothSession, result: unknown): Promise<unknown> {
  const hooked = await session.toolsListHook();
  if (!hooked?.hook || !isObject(result)) return result;
  try {
    return (await hooked.hook.onToolsList(result, hooked.context)) ?? result;
  } catch (error) {
    // Hiding is a convenience: a call to a tool that should have been hidden is still enforced.
    hooked.warn(`tools/list could not be checked (${errorMessage(error)}); calls are still enforced`);
    return result;
  }
}

/** An McpError (code, message, data) as TOOL_CALL_POST records it. */
function mcpError(error: unknown): JsonRpcErrorObject {
  const candidate = error as {code?: unknown; data?: unknown} | null;
  const code = typeof candidate?.code === 'number' && Number.isInteger(candidate.code) ? candidate.code : ErrorCode.INTERNAL_ERROR;
  return {code, message: errorMessage(error), ...(candidate?.data !== undefined ? {data: candidate.data} : {})};
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
