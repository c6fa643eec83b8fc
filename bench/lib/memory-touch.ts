/**
 * What it costs this machine to write into memory the process has not touched yet, against the
 * same write into memory already touched. A proxy that must hold a large message whole (to parse
 * it before deciding) makes fresh copies of it; on a virtual machine whose host hands pages out
 * on first touch, those copies cost far more than the bytes suggest. The proxy benches print both
 * so every run states the condition its large round trips were measured in.
 */
const BYTES = 10 * 1024 * 1024;
const ROUNDS = 5;

export interface MemoryTouchCost {
  /** Median ms to allocate and fill a fresh 10 MiB buffer. */
  freshMs: number;
  /** Median ms to fill the same size again in a buffer already filled once. */
  warmMs: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export function freshMemoryCost(): MemoryTouchCost {
  const fresh: number[] = [];
  const warm: number[] = [];
  const source = Buffer.alloc(BYTES, 0x62);
  const reused = Buffer.allocUnsafeSlow(BYTES);
  source.copy(reused);
  for (let round = 0; round < ROUNDS; round++) {
    let started = performance.now();
    const target = Buffer.allocUnsafeSlow(BYTES);
    source.copy(target);
    fresh.push(performance.now() - started);
    if (target[BYTES - 1] !== 0x62) throw new Error('fresh copy did not land');
    started = performance.now();
    source.copy(reused);
    warm.push(performance.now() - started);
  }
  return {freshMs: median(fresh), warmMs: median(warm)};
}
