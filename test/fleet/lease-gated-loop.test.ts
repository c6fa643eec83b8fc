import {setTimeout as sleep} from 'node:timers/promises';

import {describe, expect, it} from 'vitest';

import {LeaseGatedLoop} from '../../src/fleet/lease-gated-loop.js';

/** A lease whose holding the test switches by hand. */
function switchableLease(initiallyHeld: boolean) {
  const listeners: Array<(held: boolean) => void> = [];
  const lease = {
    isHeld: initiallyHeld,
    onChange: (listener: (held: boolean) => void) => void listeners.push(listener),
    set(held: boolean) {
      lease.isHeld = held;
      for (const listener of listeners) listener(held);
    },
  };
  return lease;
}

describe('LeaseGatedLoop', () => {
  function loopOn(lease: ReturnType<typeof switchableLease>) {
    const rounds: number[] = [];
    const loop = new LeaseGatedLoop({
      lease,
      step: async () => {
        rounds.push(Date.now());
        return 10;
      },
      onError: () => 10,
      firstDelay: () => 0,
    });
    return {loop, rounds};
  }

  it('runs while the lease is held and pauses when it is lost', async () => {
    const lease = switchableLease(true);
    const {loop, rounds} = loopOn(lease);
    loop.start();
    await sleep(80);
    expect(rounds.length).toBeGreaterThanOrEqual(2);
    lease.set(false);
    await sleep(20);
    const paused = rounds.length;
    await sleep(60);
    expect(rounds.length).toBe(paused);
    lease.set(true);
    await sleep(60);
    expect(rounds.length).toBeGreaterThan(paused);
    await loop.stop();
  });

  it('stays stopped when the lease is lost and taken again after stop()', async () => {
    const lease = switchableLease(true);
    const {loop, rounds} = loopOn(lease);
    loop.start();
    await sleep(40);
    await loop.stop();
    const stoppedAt = rounds.length;
    lease.set(false);
    lease.set(true);
    await sleep(80);
    expect(rounds.length).toBe(stoppedAt);
  });
});
