/**
 * What it costs this machine to write into memory a process has not touched yet, against the
 * same write into memory already touched. A proxy that must hold a large message whole (to parse
 * it before deciding) makes fresh copies of it; on a virtual machine whose host hands pages out
 * on first touch, those copies cost far more than the bytes suggest. The proxy benches print both
 * so every run states the condition its large round trips were measured in.
 *
 * Each measurement runs in a new process: in a long-lived one, glibc raises its mmap threshold
 * after the first large buffer is freed and later buffers reuse memory already touched.
 */
import {execFileSync} from 'node:child_process';

const ROUNDS = 5;
const PROBE = `
const bytes = 10 * 1024 * 1024;
const source = Buffer.alloc(bytes, 0x62);
let started = performance.now();
const target = Buffer.allocUnsafeSlow(bytes);
source.copy(target);
const fresh = performance.now() - started;
started = performance.now();
source.copy(target);
const warm = performance.now() - started;
if (target[bytes - 1] !== 0x62) throw new Error('the copy did not land');
process.stdout.write(JSON.stringify({fresh, warm}));
`;

export interface MemoryTouchCost {
  /** Median ms to allocate and fill 10 MiB of memory the process has not touched. */
  freshMs: number;
  /** Median ms to fill the same 10 MiB again. */
  warmMs: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export function freshMemoryCost(): MemoryTouchCost {
  const fresh: number[] = [];
  const warm: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const measured = JSON.parse(execFileSync(process.execPath, ['-e', PROBE], {encoding: 'utf8'})) as {fresh: number; warm: number};
    fresh.push(measured.fresh);
    warm.push(measured.warm);
  }
  return {freshMs: median(fresh), warmMs: median(warm)};
}
