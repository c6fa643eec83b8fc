import {errorMessage} from '../core/errors.js';
import {governedBy, sessionFor, type SdkOptions} from './functions.js';
import {toolEntries, type ThothSession, type ToolFunctions} from './session.js';

/** The shapes of the `openai` Chat Completions API this module reads and writes (no dependency on the package). */
export interface OpenAIToolCall {
  id: string;
  type?: 'function';
  function: {name: string; arguments: string};
}

export interface OpenAIToolMessage {
  role: 'tool';
  tool_call_id: string;
  content: string;
}

type ToolFunctionsForRunner<F extends ToolFunctions> = {
  /** `args`: the model's JSON text, or the object `parse: JSON.parse` made of it. */
  [K in keyof F]: (args: string | Parameters<F[K]>[0], ...rest: unknown[]) => Promise<string>;
};

export interface OpenAITools<F extends ToolFunctions> {
  /**
   * For `client.chat.completions.runTools`: the `function` of each tool. It resolves with the tool
   * message's content: the result, or for a refused call `Error: thoth: tool "…" was blocked: …`
   * (the runner would end the whole run on a thrown error, so a refusal is never thrown).
   */
  functions: ToolFunctionsForRunner<F>;
  /** For a hand-written loop: the `tool` message answering one tool call. */
  toolMessage(call: OpenAIToolCall): Promise<OpenAIToolMessage>;
  /** The `tool` messages answering every function call of an assistant message, in order (custom tool calls are not functions: left out). */
  toolMessages(message: {
    tool_calls?: ReadonlyArray<{id: string; type?: string; function?: OpenAIToolCall['function']}> | null | undefined;
  }): Promise<OpenAIToolMessage[]>;
  readonly session: ThothSession;
}

/**
 * Tool functions governed for the tool loop of the `openai` package: the model's arguments in,
 * the tool message's content out. A function returns a string or any JSON value (sent as its
 * JSON text, as the runner sends it). An error your function throws propagates, as it does
 * without thoth; a refusal does not.
 */
export function instrumentOpenAI<F extends ToolFunctions>(fns: F, options?: SdkOptions): OpenAITools<F> {
  const entries = new Map(toolEntries(fns));
  const session = sessionFor(options);

  const invoke = async (name: string, rawArgs: unknown, requestId: string | undefined): Promise<string> => {
    const fn = entries.get(name);
    if (fn === undefined) return `Error: there is no tool named ${JSON.stringify(name)}`;
    let args: unknown = rawArgs;
    if (typeof rawArgs === 'string') {
      try {
        args = rawArgs.trim() === '' ? {} : (JSON.parse(rawArgs) as unknown);
      } catch (error) {
        // Nothing runs: the model is told its arguments were not JSON, as the runner's own parse would.
        return `Error: the arguments of ${JSON.stringify(name)} are not valid JSON (${errorMessage(error)})`;
      }
    }
    const result = await session.govern(name, args, async () => toContent(await fn(args)), {
      ...(requestId !== undefined ? {requestId} : {}),
      resultOf: (content) => ({json: JSON.stringify(content)}),
    });
    return result.ok ? result.value : `Error: ${result.error.message}`;
  };

  // fromEntries defines own properties: a tool named "__proto__" stays a tool.
  const functions = Object.fromEntries([...entries.keys()].map((name) => [name, (args: unknown) => invoke(name, args, undefined)]));

  const toolMessage = async (call: OpenAIToolCall): Promise<OpenAIToolMessage> => ({
    role: 'tool',
    tool_call_id: call.id,
    content: await invoke(call.function.name, call.function.arguments, JSON.stringify(call.id)),
  });

  const tools: OpenAITools<F> = {
    functions: functions as ToolFunctionsForRunner<F>,
    toolMessage,
    async toolMessages(message) {
      const messages: OpenAIToolMessage[] = [];
      for (const call of message.tool_calls ?? []) {
        if ((call.type !== undefined && call.type !== 'function') || call.function === undefined) continue;
        messages.push(await toolMessage({id: call.id, function: call.function}));
      }
      return messages;
    },
    session,
  };
  return governedBy(tools, session);
}

/** What the runner sends for a function's value: a string as it is, anything else as JSON. */
function toContent(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined) return 'undefined';
  return JSON.stringify(value) ?? 'undefined';
}
