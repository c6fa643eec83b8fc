import {once} from 'node:events';
import {createWriteStream} from 'node:fs';
import {createGzip} from 'node:zlib';
import type {Writable} from 'node:stream';

/** Where an archive writer puts its bytes: a file, optionally through gzip, with back-pressure. */
export interface Sink {
  write(chunk: Buffer): Promise<void>;
  /** Bytes written so far (before gzip). */
  readonly written: number;
  close(): Promise<void>;
}

export function fileSink(file: string, options: {gzip?: boolean; mode?: number} = {}): Sink {
  const out = createWriteStream(file, {mode: options.mode ?? 0o644});
  const gzip = options.gzip ? createGzip({level: 6}) : undefined;
  if (gzip) gzip.pipe(out);
  const head: Writable = gzip ?? out;
  let failure: Error | undefined;
  for (const stream of [head, out]) stream.on('error', (error: Error) => (failure ??= error));
  let written = 0;
  return {
    get written() {
      return written;
    },
    async write(chunk) {
      if (failure) throw failure;
      written += chunk.length;
      if (!head.write(chunk)) await once(head, 'drain');
    },
    async close() {
      if (failure) throw failure;
      const finished = once(out, 'close');
      head.end();
      await finished;
      if (failure) throw failure;
    },
  };
}

/** Collects everything in memory (small archives, tests). */
export function memorySink(): Sink & {buffer(): Buffer} {
  const chunks: Buffer[] = [];
  let written = 0;
  return {
    get written() {
      return written;
    },
    async write(chunk) {
      chunks.push(Buffer.from(chunk));
      written += chunk.length;
    },
    async close() {},
    buffer: () => Buffer.concat(chunks),
  };
}
