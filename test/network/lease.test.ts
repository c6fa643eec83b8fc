import {readFile} from 'node:fs/promises';
import {join} from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';

import {describe, expect, it} from 'vitest';

import {Lease} from '../../src/fleet/lease.js';
import {tempDir} from '../helpers/tmp.js';

describe('the lease that lets exactly one thoth run process heartbeat (or ship)', () => {
  it('is held by one at a time; freed by stop(), by expiry, or by its holder’s death', async () => {
    const path = join(await tempDir(), 'control-plane', 'heartbeat.lease');
    const a = new Lease({path, renewMs: 100, ttlMs: 300});
    const b = new Lease({path, renewMs: 100, ttlMs: 300});
    expect(await a.tryAcquire()).toBe(true);
    expect(await b.tryAcquire()).toBe(false);
    expect(await a.tryAcquire()).toBe(true); // renewing
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({holder: a.holderId, pid: process.pid});

    await a.stop();
    expect(await b.tryAcquire()).toBe(true);

    // b stops renewing (a hung process): after the TTL it is free.
    const c = new Lease({path, renewMs: 100, ttlMs: 300});
    expect(await c.tryAcquire()).toBe(false);
    await sleep(350);
    expect(await c.tryAcquire()).toBe(true);
    expect(await b.tryAcquire()).toBe(false);
    expect(b.isHeld).toBe(false);

    // c's process is gone (SIGKILL leaves the file behind): taken at once.
    const d = new Lease({path, renewMs: 100, ttlMs: 60_000, isAlive: () => false});
    expect(await d.tryAcquire()).toBe(true);
  });

  it('reports changes, and start() keeps renewing', async () => {
    const path = join(await tempDir(), 'lease');
    const a = new Lease({path, renewMs: 50, ttlMs: 5000});
    const changes: boolean[] = [];
    a.onChange((held) => changes.push(held));
    a.start();
    await sleep(400);
    const b = new Lease({path, renewMs: 50, ttlMs: 5000});
    expect(await b.tryAcquire()).toBe(false);
    await a.stop();
    expect(changes).toEqual([true, false]);
    expect(await b.tryAcquire()).toBe(true);
  });
});
