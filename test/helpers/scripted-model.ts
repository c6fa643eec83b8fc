import {createServer, type IncomingMessage, type Server} from 'node:http';
import type {AddressInfo} from 'node:net';

/**
 * A model that follows a script, behind just enough of the Anthropic Messages API
 * (`POST /v1/messages`) and the OpenAI Chat Completions API (`POST /v1/chat/completions`) for
 * the official clients and their tool loops, on 127.0.0.1. Each request is answered by the next
 * turn of the script; a turn sees the request (the tool results the loop sent back) and may wait
 * (for a person to approve, say) before it answers.
 */
export type ScriptedCall = {name: string; input: Record<string, unknown>};
export type ScriptedTurn = {calls: ScriptedCall[]} | {text: string};
export type ScriptStep = (request: Record<string, unknown>) => ScriptedTurn | Promise<ScriptedTurn>;

export interface ScriptedModel {
  /** The base URL for the clients (`baseURL`, or ANTHROPIC_BASE_URL / OPENAI_BASE_URL). */
  anthropicBaseUrl: string;
  openaiBaseUrl: string;
  /** Every request body received, in order. */
  requests: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

export async function startScriptedModel(steps: readonly ScriptStep[]): Promise<ScriptedModel> {
  const requests: Array<Record<string, unknown>> = [];
  let turn = 0;
  let nextId = 1;
  const server: Server = createServer((request, response) => {
    void (async () => {
      try {
        const body = JSON.parse(await readBody(request)) as Record<string, unknown>;
        requests.push(body);
        const step = steps[turn++];
        if (step === undefined) throw new Error(`the script has no turn ${turn} (${steps.length} turns)`);
        const planned = await step(body);
        const path = (request.url ?? '').split('?')[0];
        const answer =
          path === '/v1/messages'
            ? anthropicMessage(planned, () => nextId++)
            : path === '/v1/chat/completions'
              ? openaiCompletion(planned, () => nextId++)
              : undefined;
        if (answer === undefined) throw new Error(`no such endpoint: ${request.method} ${request.url}`);
        response.writeHead(200, {'content-type': 'application/json'});
        response.end(JSON.stringify(answer));
      } catch (error) {
        // 400: the clients do not retry it, so a broken script fails the test at once.
        response.writeHead(400, {'content-type': 'application/json'});
        response.end(JSON.stringify({type: 'error', error: {type: 'invalid_request_error', message: String(error)}}));
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const {port} = server.address() as AddressInfo;
  return {
    anthropicBaseUrl: `http://127.0.0.1:${port}`,
    openaiBaseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (text += chunk));
    request.on('end', () => resolve(text));
    request.on('error', reject);
  });
}

function anthropicMessage(turn: ScriptedTurn, id: () => number): Record<string, unknown> {
  const content =
    'text' in turn
      ? [{type: 'text', text: turn.text}]
      : turn.calls.map((call) => ({type: 'tool_use', id: `toolu_${String(id()).padStart(4, '0')}`, name: call.name, input: call.input}));
  return {
    id: `msg_${id()}`,
    type: 'message',
    role: 'assistant',
    model: 'scripted-model',
    content,
    stop_reason: 'text' in turn ? 'end_turn' : 'tool_use',
    stop_sequence: null,
    usage: {input_tokens: 1, output_tokens: 1},
  };
}

function openaiCompletion(turn: ScriptedTurn, id: () => number): Record<string, unknown> {
  const message =
    'text' in turn
      ? {role: 'assistant', content: turn.text, refusal: null}
      : {
          role: 'assistant',
          content: null,
          refusal: null,
          tool_calls: turn.calls.map((call) => ({
            id: `call_${String(id()).padStart(4, '0')}`,
            type: 'function',
            function: {name: call.name, arguments: JSON.stringify(call.input)},
          })),
        };
  return {
    id: `chatcmpl-${id()}`,
    object: 'chat.completion',
    created: 0,
    model: 'scripted-model',
    choices: [{index: 0, message, finish_reason: 'text' in turn ? 'stop' : 'tool_calls', logprobs: null}],
    usage: {prompt_tokens: 1, completion_tokens: 1, total_tokens: 2},
  };
}

/** The tool results of an Anthropic request's last user message: tool_use_id → {content as text, is_error}. */
export function anthropicToolResults(request: Record<string, unknown>): Array<{toolUseId: string; text: string; isError: boolean}> {
  const messages = request['messages'] as Array<{role: string; content: unknown}>;
  const last = messages.at(-1);
  if (last?.role !== 'user' || !Array.isArray(last.content)) return [];
  return (last.content as Array<Record<string, unknown>>)
    .filter((block) => block['type'] === 'tool_result')
    .map((block) => ({
      toolUseId: String(block['tool_use_id']),
      text: typeof block['content'] === 'string' ? block['content'] : JSON.stringify(block['content']),
      isError: block['is_error'] === true,
    }));
}

/** The tool messages at the end of an OpenAI request: tool_call_id → content. */
export function openaiToolMessages(request: Record<string, unknown>): Array<{toolCallId: string; content: string}> {
  const messages = request['messages'] as Array<Record<string, unknown>>;
  const out: Array<{toolCallId: string; content: string}> = [];
  for (let index = messages.length - 1; index >= 0 && messages[index]!['role'] === 'tool'; index--) {
    out.unshift({toolCallId: String(messages[index]!['tool_call_id']), content: String(messages[index]!['content'])});
  }
  return out;
}
