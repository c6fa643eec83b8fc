import {open, type FileHandle} from 'node:fs/promises';
import {join} from 'node:path';

import {withFileLock} from '../util/file-lock.js';
import {writeFully} from './file-io.js';
import type {AuditKey} from './key.js';
import {APPEND_FLAGS, REGISTRY_CHAIN, REGISTRY_FILE, REGISTRY_LOCK} from './layout.js';
import {checkLine, genesisHash, sealLine, sha256Hex} from './record.js';

/**
 * The registry is a chain shared by every writer: a record when a session's chain opens and one
 * when it is sealed, so that deleting or truncating a whole chain is detected. Appends are rare
 * (twice per `thoth run`), so they simply take an exclusive lock, read the last line, append and
 * fsync. A line torn by a crash during an append is acknowledged by the next appender with a
 * `torn` record carrying its length and SHA-256, so the chain goes on and verify can tell a crash
 * from an edit.
 */
export type RegistryEntry =
  | {
      kind: 'chain-open';
      chain: string;
      file: string;
      keyId: string;
      pid: number;
      host: string;
      agentId: string;
      sessionId: string;
      openedAt: string;
    }
  | {kind: 'chain-seal'; chain: string; file: string; seq: number; hash: string; reason: 'close' | 'recovered'; sealedAt: string};

const TAIL_WINDOW = 64 * 1024;

export class Registry {
  constructor(
    private readonly dir: string,
    private readonly key: AuditKey,
    private readonly lockTimeoutMs = 10_000,
  ) {}

  get path(): string {
    return join(this.dir, REGISTRY_FILE);
  }

  async append(entry: RegistryEntry): Promise<void> {
    await withFileLock(join(this.dir, REGISTRY_LOCK), () => this.appendLocked(entry), {timeoutMs: this.lockTimeoutMs});
  }

  private async appendLocked(entry: RegistryEntry): Promise<void> {
    const handle = await open(this.path, APPEND_FLAGS, 0o600);
    try {
      const tail = await readTail(this.path);
      let out = tail.prefix;
      let seq = tail.nextSeq;
      let prev = tail.lastHash;
      if (tail.garbage) {
        const ack = sealLine(
          this.key,
          REGISTRY_CHAIN,
          seq,
          prev,
          'ctl',
          JSON.stringify({kind: 'torn', bytes: tail.garbage.length, sha256: sha256Hex(tail.garbage)}),
        );
        out += `${ack.text}\n`;
        seq++;
        prev = ack.hash;
      }
      out += `${sealLine(this.key, REGISTRY_CHAIN, seq, prev, 'ctl', JSON.stringify(entry)).text}\n`;
      const {error} = await writeFully(handle, Buffer.from(out));
      if (error) throw error;
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}

interface Tail {
  nextSeq: number;
  lastHash: string;
  /** Bytes after the last complete line (a crash mid-append), to acknowledge. */
  garbage?: Buffer;
  /** What must be written before the next record (a newline after a torn or unterminated line). */
  prefix: string;
}

/** The state a new registry record must continue from. */
async function readTail(path: string): Promise<Tail> {
  const handle: FileHandle = await open(path, 'r');
  try {
    const {size} = await handle.stat();
    if (size === 0) return {nextSeq: 0, lastHash: genesisHash(REGISTRY_CHAIN), prefix: ''};
    let window = Math.min(size, TAIL_WINDOW);
    for (;;) {
      const buf = Buffer.alloc(window);
      await handle.read(buf, 0, window, size - window);
      const parsed = parseTail(buf, window === size);
      if (parsed) return parsed;
      if (window === size) throw new Error(`${path}: no complete record found`);
      window = Math.min(size, window * 4);
    }
  } finally {
    await handle.close();
  }
}

/** Undefined when the window holds no complete line (read a bigger window). */
function parseTail(buf: Buffer, wholeFile: boolean): Tail | undefined {
  const endsWithNewline = buf[buf.length - 1] === 0x0a;
  const lastNewline = buf.lastIndexOf(0x0a);
  // Even a record that lacks only its newline is acknowledged as torn: its writer reported failure.
  const garbage = endsWithNewline ? undefined : Buffer.from(buf.subarray(lastNewline + 1));
  const prefix = garbage ? '\n' : '';
  if (lastNewline === -1) {
    if (!wholeFile) return undefined;
    // Only a torn first line: acknowledge it against the genesis.
    return {nextSeq: 0, lastHash: genesisHash(REGISTRY_CHAIN), garbage: garbage ?? Buffer.alloc(0), prefix};
  }
  const previousNewline = buf.lastIndexOf(0x0a, lastNewline - 1);
  if (previousNewline === -1 && !wholeFile) return undefined;
  const lastLine = buf.subarray(previousNewline + 1, lastNewline);
  const text = lastLine.toString('utf8');
  const checked = checkLine(undefined, text);
  const seq = checked.ok ? checked.record.seq : seqFromText(text);
  const tail: Tail = {nextSeq: seq + 1, lastHash: sha256Hex(lastLine), prefix};
  if (garbage) tail.garbage = garbage;
  return tail;
}

/** Best effort for a damaged last line: verify reports it; appends keep chaining to its bytes. */
function seqFromText(text: string): number {
  const match = /"seq":(\d+)/.exec(text);
  return match ? Number(match[1]) : 0;
}
