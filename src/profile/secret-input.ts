import {ThothError} from '../core/errors.js';
import {ExitCode} from '../core/exit-codes.js';

const MAX_INPUT_BYTES = 64 * 1024;

export interface SecretInputStreams {
  stdin: NodeJS.ReadableStream & {isTTY?: boolean; setRawMode?: (mode: boolean) => unknown};
  stderr: NodeJS.WritableStream;
}

/**
 * Reads a secret from stdin: all of it when piped (`thoth api-key set < key.txt`), or from a
 * prompt without echo when stdin is a terminal. Never from argv, which every local user can read.
 */
export async function readSecret(
  prompt: string,
  streams: SecretInputStreams = {stdin: process.stdin, stderr: process.stderr},
): Promise<string> {
  if (streams.stdin.isTTY && typeof streams.stdin.setRawMode === 'function') return promptWithoutEcho(prompt, streams);
  return readAll(streams.stdin);
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > MAX_INPUT_BYTES) {
      throw new ThothError(
        'API_KEY_INVALID',
        `stdin holds more than ${MAX_INPUT_BYTES} bytes: that is not an API key; nothing was stored`,
        {exitCode: ExitCode.INVALID_INPUT},
      );
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function promptWithoutEcho(prompt: string, streams: SecretInputStreams): Promise<string> {
  const {stdin, stderr} = streams;
  // Echo off before the prompt shows: whatever is typed once it is visible is never echoed.
  stdin.setRawMode!(true);
  stdin.resume();
  stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (error?: Error) => {
      stdin.removeListener('data', onData);
      stdin.setRawMode!(false);
      stdin.pause();
      stderr.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: Buffer | string) => {
      for (const char of chunk.toString()) {
        if (char === '\r' || char === '\n' || char === '\u0004') return finish();
        if (char === '\u0003') return finish(new ThothError('ABORTED', 'interrupted: nothing was stored', {exitCode: ExitCode.UNEXPECTED}));
        if (char === '\u007f' || char === '\b') value = value.slice(0, -1);
        else value += char;
      }
      return undefined;
    };
    stdin.on('data', onData);
  });
}
