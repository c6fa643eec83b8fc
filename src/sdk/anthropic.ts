import {errorMessage} from '../core/errors.js';
import {ToolCallRefusedError} from './errors.js';
import {governedBy, sessionFor, type SdkOptions} from './functions.js';
import {jsonText} from './json-text.js';
import {toolEntries, type ThothSession, type ToolFunctions} from './session.js';

/**
 * The shapes of `@anthropic-ai/sdk`'s Messages API this module reads and writes, written out so
 * that the SDK needs neither that package nor its types.
 */
export interface AnthropicToolUseBlock {
  type: 'tool_use';
  id: string;
  name: string;
  input: unknown;
}

/** A content block as `@anthropic-ai/sdk` types it (text, image, document...): a function may return an array of them. */
export interface AnthropicContentBlock {
  type: string;
}

/** A `tool_result` block's content: a string, or the content blocks a function returned, as they are. */
export type AnthropicToolResultContent = string | readonly AnthropicContentBlock[];

export interface AnthropicToolResultBlock<Content = AnthropicToolResultContent> {
  type: 'tool_result';
  tool_use_id: string;
  content: Content;
  is_error?: boolean;
}

/** What the tool runner hands a tool's `run` besides its input (only the tool_use id is read). */
export interface AnthropicRunContext {
  toolUse?: {id?: string};
}

/** The content a function's result becomes: its content blocks as they are, anything else as text. */
type ContentOf<R> = R extends readonly AnthropicContentBlock[] ? R : string;
type ToolContent<F extends ToolFunctions, K extends keyof F> = ContentOf<Awaited<ReturnType<F[K]>>>;

type RunFunctions<F extends ToolFunctions> = {
  [K in keyof F]: (input: Parameters<F[K]>[0], context?: AnthropicRunContext) => Promise<ToolContent<F, K>>;
};

export interface AnthropicTools<F extends ToolFunctions> {
  /**
   * For the tool runner (`client.beta.messages.toolRunner`): the `run` of each tool. A refused
   * call throws ToolCallRefusedError, which the runner hands the model as a `tool_result` with
   * `is_error: true` (`Error: thoth: tool "…" was blocked: …`); the loop goes on.
   */
  run: RunFunctions<F>;
  /** For a hand-written loop: the `tool_result` answering one `tool_use` block. Never throws for a refusal or a failing tool. */
  toolResult(block: AnthropicToolUseBlock): Promise<AnthropicToolResultBlock<string | ToolContent<F, keyof F>>>;
  /** The `tool_result` blocks answering every `tool_use` block of an assistant message, in order: the next user message's content. */
  toolResults(message: {content: readonly unknown[]}): Promise<Array<AnthropicToolResultBlock<string | ToolContent<F, keyof F>>>>;
  readonly session: ThothSession;
}

/**
 * Tool functions governed for the tool-use loop of `@anthropic-ai/sdk`: tool-use input in,
 * tool-result content out. A function returns a string, an array of content blocks, or any
 * JSON value (sent as its JSON text).
 */
export function instrumentAnthropic<F extends ToolFunctions>(fns: F, options?: SdkOptions): AnthropicTools<F> {
  const functions = new Map(toolEntries(fns));
  const session = sessionFor(options);
  const runOne =
    (name: string, fn: (args: unknown) => unknown) =>
    async (input: unknown, context?: AnthropicRunContext): Promise<AnthropicToolResultContent> => {
      const id = context?.toolUse?.id;
      const result = await session.govern(name, input, async () => toContent(await fn(input)), {
        ...(typeof id === 'string' ? {requestId: JSON.stringify(id)} : {}),
        resultOf: recordContent,
      });
      if (!result.ok) throw new ToolCallRefusedError(name, result.error);
      return result.value;
    };
  // fromEntries defines own properties: a tool named "__proto__" stays a tool.
  const run = Object.fromEntries([...functions].map(([name, fn]) => [name, runOne(name, fn)]));

  const toolResult = async (block: AnthropicToolUseBlock): Promise<AnthropicToolResultBlock> => {
    const answer = (content: AnthropicToolResultContent, isError: boolean): AnthropicToolResultBlock => ({
      type: 'tool_result',
      tool_use_id: block.id,
      content,
      ...(isError ? {is_error: true} : {}),
    });
    const fn = functions.get(block.name);
    // Nothing runs, so there is nothing to decide: the model is told, as the tool runner tells it.
    if (fn === undefined) return answer(`Error: there is no tool named ${JSON.stringify(block.name)}`, true);
    try {
      const result = await session.govern(block.name, block.input, async () => toContent(await fn(block.input)), {
        requestId: JSON.stringify(block.id),
        resultOf: recordContent,
      });
      // The text the tool runner would give the model for the same refusal.
      return result.ok ? answer(result.value, false) : answer(`Error: ${result.error.message}`, true);
    } catch (error) {
      return answer(`Error: ${errorMessage(error)}`, true);
    }
  };

  const tools: AnthropicTools<F> = {
    run: run as RunFunctions<F>,
    toolResult: toolResult as AnthropicTools<F>['toolResult'],
    async toolResults(message) {
      const blocks = message.content.filter(isToolUse);
      const results: AnthropicToolResultBlock[] = [];
      // In the model's order, one at a time: a later call may depend on an earlier one's effect.
      for (const block of blocks) results.push(await toolResult(block));
      return results as Awaited<ReturnType<AnthropicTools<F>['toolResults']>>;
    },
    session,
  };
  return governedBy(tools, session);
}

function isToolUse(block: unknown): block is AnthropicToolUseBlock {
  const candidate = block as Partial<AnthropicToolUseBlock> | null;
  return typeof candidate === 'object' && candidate !== null && candidate.type === 'tool_use' && typeof candidate.name === 'string';
}

/** A string or content blocks as they are; anything else as its JSON text. */
function toContent(value: unknown): AnthropicToolResultContent {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.every((item) => typeof item === 'object' && item !== null && typeof item.type === 'string'))
    return value as readonly AnthropicContentBlock[];
  return jsonText(value);
}

/** TOOL_CALL_POST's content: the tool_result content the model receives. */
function recordContent(content: AnthropicToolResultContent): {json: string} {
  return {json: JSON.stringify(content)};
}
