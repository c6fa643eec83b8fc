import {readFile, writeFile} from 'node:fs/promises';
import {hostname} from 'node:os';
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

  it('survives a renewal that cannot take the lock while its record still stands, and lets go once it would expire', async () => {
    const path = join(await tempDir(), 'lease');
    let now = 1_000_000;
    const warnings: string[] = [];
    const a = new Lease({path, renewMs: 100, ttlMs: 300, now: () => now, warn: (w) => warnings.push(w)});
    const changes: boolean[] = [];
    a.onChange((held) => changes.push(held));
    expect(await a.tryAcquire()).toBe(true);
    // Another live process holds the lock file (contention on a loaded machine).
    await writeFile(`${path}.lock`, JSON.stringify({pid: process.pid, host: hostname(), created: Date.now()}));
    now += 100;
    expect(await a.tryAcquire()).toBe(true);
    expect(a.isHeld).toBe(true);
    expect(warnings.at(-1)).toContain('another thoth process holds this lock');
    // Within one renewal of the expiry it wrote, it gives the lease up.
    now += 150;
    expect(await a.tryAcquire()).toBe(false);
    expect(changes).toEqual([true, false]);
  });
});
