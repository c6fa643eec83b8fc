import {createWriteStream, type WriteStream} from 'node:fs';

import {terminalSafe} from '../util/terminal-text.js';

/**
 * thoth's own messages during `thoth run`. They go to stderr (which MCP clients capture into
 * their server logs) with a `[thoth]` prefix, and optionally to a log file. Never to stdout.
 * Each message is one line with every control and invisible character escaped
 * (src/util/terminal-text.ts): messages quote tool names, server output and error texts that a
 * server or an agent chose, and the operator reads them in a terminal or a log viewer.
 */
export interface Diagnostics {
  warn(message: string): void;
  info(message: string): void;
  /** A line the upstream wrote to stdout that is not protocol: shown on stderr, never relayed. */
  diverted(line: Buffer): void;
  close(): Promise<void>;
}

const DIVERTED_PREVIEW_BYTES = 2048;

export function createDiagnostics(options: {stderr?: NodeJS.WritableStream; logFile?: string; label?: string} = {}): Diagnostics {
  const stderr = options.stderr ?? process.stderr;
  const prefix = options.label ? `[thoth ${terminalSafe(options.label)}]` : '[thoth]';
  let log: WriteStream | undefined;
  if (options.logFile) {
    log = createWriteStream(options.logFile, {flags: 'a', mode: 0o600});
    // A log file that cannot be opened must not take the session down.
    log.on('error', (error) => {
      stderr.write(`${prefix} warning: ${terminalSafe(`log file ${options.logFile} is not writable: ${error.message}`)}\n`);
      log = undefined;
    });
  }
  const emit = (level: string, message: string): void => {
    const line = `${prefix} ${level}: ${terminalSafe(message)}\n`;
    stderr.write(line);
    log?.write(`${new Date().toISOString()} ${line}`);
  };
  return {
    warn: (message) => emit('warning', message),
    info: (message) => emit('info', message),
    diverted(line) {
      const preview = line.subarray(0, DIVERTED_PREVIEW_BYTES).toString('utf8');
      const more = line.length > DIVERTED_PREVIEW_BYTES ? ` … (${line.length} bytes)` : '';
      emit('warning', `the server wrote a non-JSON-RPC line to stdout; kept off the protocol stream: ${preview}${more}`);
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (!log) {
          resolve();
          return;
        }
        log.end(() => resolve());
      }),
  };
}
