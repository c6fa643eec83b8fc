import {readFile, readdir} from 'node:fs/promises';
import {join} from 'node:path';

import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest';

import type {ControlPlaneClient} from '../../src/control-plane/client.js';
import type {ControlPlaneEndpoint} from '../../src/control-plane/config.js';
import type {EventBatchRequest} from '../../src/control-plane/contract.js';
import {stateFiles, type ShipCursors} from '../../src/fleet/control-plane-state.js';
import {Lease} from '../../src/fleet/lease.js';
import {EventShipper, type BatchOutcome} from '../../src/fleet/shipper.js';
import {errorBody, type TestControlPlane} from '../helpers/control-plane-server.js';
import {tempDir} from '../helpers/tmp.js';
import {auditKey, localEventIds, openSession, writeCalls, writeSession} from './audit-writer.js';
import {clientFor, fleetEnv, makePki, planFrom, startPlane, type Pki} from './fixtures.js';

describe('event shipping from the audit log (the spool) to the test control plane', () => {
  let pki: Pki;
  let plane: TestControlPlane;
  const clients: ControlPlaneClient[] = [];

  beforeAll(async () => {
    pki = await makePki();
    plane = await startPlane(pki);
  });
  afterEach(async () => {
    while (clients.length > 0) await clients.pop()!.close();
    plane.requests.length = 0;
    plane.events.clear();
    plane.eventReceipts.clear();
    delete plane.handlers.eventBatch;
  });
  afterAll(async () => {
    // Every request thoth sent in this file followed its schema.
    expect(plane.everInvalid.map((r) => `${r.path}: ${r.problems.join('; ')}`)).toEqual([]);
    await plane.close();
    await pki.remove();
  });

  async function shipper(home: string, auditDir: string, options: {maxEvents?: number; maxBackoffMs?: number} = {}) {
    const {plan} = await planFrom(fleetEnv(plane, pki));
    const client = await clientFor(plan);
    clients.push(client);
    const stateDir = stateFiles.shipDir(home, auditDir);
    const warnings: string[] = [];
    const outcomes: BatchOutcome[] = [];
    const instance = new EventShipper({
      sender: client,
      endpoint: plan.govapi as ControlPlaneEndpoint,
      auditDir,
      stateDir,
      lease: new Lease({path: join(stateDir, 'lease'), renewMs: 1000, ttlMs: 3000}),
      endpointId: 'ep-test-1',
      tenantId: 'acme',
      timeoutMs: 5000,
      random: () => 1,
      limits: {maxEvents: options.maxEvents ?? 500},
      ...(options.maxBackoffMs === undefined ? {} : {maxBackoffMs: options.maxBackoffMs}),
      warn: (message) => warnings.push(message),
      onBatch: (outcome) => outcomes.push(outcome),
    });
    return {instance, warnings, outcomes, cursorsPath: join(stateDir, 'cursors.json')};
  }

  async function drain(instance: EventShipper): Promise<number> {
    let sent = 0;
    for (let i = 0; i < 100; i++) {
      const outcome = await instance.shipOnce();
      if (!outcome.ok) throw new Error(outcome.error);
      sent += outcome.events;
      if (outcome.events === 0) return sent;
    }
    throw new Error('did not drain');
  }

  it('ships every event of several sessions (one rotated over several segments) in acknowledged batches, once', async () => {
    const home = await tempDir();
    const auditDir = join(home, 'audit');
    const key = auditKey();
    await writeSession(auditDir, key, 6);
    await writeSession(auditDir, key, 20, 4096);
    await writeSession(auditDir, key, 3);
    const segments = (await readdir(auditDir)).filter((name) => name.endsWith('.jsonl') && name !== 'registry.jsonl');
    expect(segments.length).toBeGreaterThan(4);
    const local = await localEventIds(auditDir);

    const {instance, cursorsPath} = await shipper(home, auditDir, {maxEvents: 7});
    expect(await drain(instance)).toBe(local.length);
    expect([...plane.events.keys()].sort()).toEqual([...local].sort());
    expect([...plane.eventReceipts.values()].every((count) => count === 1)).toBe(true);
    const batches = plane.of('eventBatch');
    expect(batches.length).toBe(Math.ceil(local.length / 7));
    expect(batches.every((b) => (b.body as EventBatchRequest).events.length <= 7)).toBe(true);
    expect(plane.invalid()).toEqual([]);
    // In chain order: within a chain, seq only grows.
    const shipped = batches.flatMap((b) => (b.body as EventBatchRequest).events);
    for (const chain of new Set(shipped.map((e) => e.chain))) {
      const seqs = shipped.filter((e) => e.chain === chain).map((e) => e.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    }
    const cursors = JSON.parse(await readFile(cursorsPath, 'utf8')) as ShipCursors;
    expect(Object.values(cursors.chains).map((c) => c.done)).toEqual([true, true, true]);
    expect(await drain(instance)).toBe(0);
    expect(plane.of('eventBatch').length).toBe(batches.length);
  });

  it('a lost acknowledgement: the batch is sent again and stored once; acknowledged events are never sent again', async () => {
    const home = await tempDir();
    const auditDir = join(home, 'audit');
    await writeSession(auditDir, auditKey(), 15);
    const local = await localEventIds(auditDir);
    let batch = 0;
    plane.handlers.eventBatch = (request, server) => {
      batch++;
      // Store the second batch, then drop the connection before acknowledging it.
      const body = request.body as EventBatchRequest;
      let accepted = 0;
      let duplicates = 0;
      for (const {event} of body.events) {
        server.eventReceipts.set(event.eventId, (server.eventReceipts.get(event.eventId) ?? 0) + 1);
        if (server.events.has(event.eventId)) duplicates++;
        else {
          server.events.set(event.eventId, event);
          accepted++;
        }
      }
      if (batch === 2) return {destroy: true};
      return {body: {batchId: body.batchId, received: body.events.length, accepted, duplicates, rejected: []}};
    };
    const {instance, outcomes, warnings} = await shipper(home, auditDir, {maxEvents: 10});
    const first = await instance.shipOnce();
    expect(first).toMatchObject({ok: true, events: 10});
    const lost = await instance.shipOnce();
    expect(lost.ok).toBe(false);
    expect(lost.nextDelayMs).toBeGreaterThan(0);
    expect(warnings.join('\n')).toContain('event shipping failed');
    await drain(instance);

    expect(plane.events.size).toBe(local.length);
    const receipts = [...plane.eventReceipts.entries()];
    const resent = receipts.filter(([, count]) => count === 2).map(([id]) => id);
    expect(resent.length).toBe(10); // exactly the unacknowledged batch
    expect(receipts.every(([, count]) => count <= 2)).toBe(true);
    const firstBatch = (plane.of('eventBatch')[0]!.body as EventBatchRequest).events.map((e) => e.event.eventId);
    expect(firstBatch.every((id) => plane.eventReceipts.get(id) === 1)).toBe(true);
    expect(outcomes.map((o) => o.ok)).toEqual([true, false, true, true, true]);
  });

  it('survives a restart: a new shipper resumes at the acknowledged cursors', async () => {
    const home = await tempDir();
    const auditDir = join(home, 'audit');
    await writeSession(auditDir, auditKey(), 12);
    const local = await localEventIds(auditDir);
    const a = await shipper(home, auditDir, {maxEvents: 5});
    await a.instance.shipOnce();
    await a.instance.shipOnce();
    // A new process (same profile): nothing acknowledged is sent again.
    const b = await shipper(home, auditDir, {maxEvents: 5});
    await drain(b.instance);
    expect(plane.events.size).toBe(local.length);
    expect([...plane.eventReceipts.values()].every((count) => count === 1)).toBe(true);
  });

  it('ships a live session as it grows (the writer still holds the chain open)', async () => {
    const home = await tempDir();
    const auditDir = join(home, 'audit');
    const sink = await openSession(auditDir, auditKey());
    await writeCalls(sink, 3);
    const {instance} = await shipper(home, auditDir);
    expect(await drain(instance)).toBe(7); // SESSION_START + 3 × (PRE, POST)
    await writeCalls(sink, 2, 3);
    expect(await drain(instance)).toBe(4);
    await sink.close();
    expect(await drain(instance)).toBe(1); // SESSION_END
    expect(plane.events.size).toBe(12);
    expect([...plane.eventReceipts.values()].every((count) => count === 1)).toBe(true);
  });

  it('days offline: retries back off up to the cap and keep going; nothing is lost when the control plane returns', async () => {
    const home = await tempDir();
    const auditDir = join(home, 'audit');
    await writeSession(auditDir, auditKey(), 4);
    const local = await localEventIds(auditDir);
    const {instance} = await shipper(home, auditDir, {maxBackoffMs: 300_000});
    await plane.stop();
    const delays: number[] = [];
    try {
      for (let i = 0; i < 12; i++) {
        const outcome = await instance.shipOnce();
        expect(outcome.ok).toBe(false);
        delays.push(outcome.nextDelayMs);
      }
    } finally {
      await plane.restart();
    }
    // random() = 1: the full step, 2 s doubling, capped at 5 minutes.
    expect(delays).toEqual([2000, 4000, 8000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000, 300_000, 300_000, 300_000]);
    await drain(instance);
    expect([...plane.events.keys()].sort()).toEqual([...local].sort());
  });

  it('a batch the control plane finds too large is split; rejected events are reported and stay local only', async () => {
    const home = await tempDir();
    const auditDir = join(home, 'audit');
    await writeSession(auditDir, auditKey(), 5);
    const local = await localEventIds(auditDir);
    plane.handlers.eventBatch = (request, server) => {
      const body = request.body as EventBatchRequest;
      if (body.events.length > 3) return {status: 413, body: errorBody('PAYLOAD_TOO_LARGE', 'at most 3 events')};
      const [firstEvent, ...rest] = body.events;
      for (const {event} of rest) server.events.set(event.eventId, event);
      return {
        body: {
          batchId: body.batchId,
          received: body.events.length,
          accepted: rest.length,
          duplicates: 0,
          rejected: [{eventId: firstEvent!.event.eventId, code: 'UNSUPPORTED_TYPE', message: 'not stored'}],
        },
      };
    };
    const {instance, warnings, cursorsPath} = await shipper(home, auditDir);
    for (let i = 0; i < 20; i++) {
      const outcome = await instance.shipOnce();
      if (outcome.ok && outcome.events === 0) break;
    }
    const batches = plane.of('eventBatch').map((b) => (b.body as EventBatchRequest).events.length);
    // 12 events: refused, halved to 6, refused, halved to 3, then four accepted batches.
    expect(local.length).toBe(12);
    expect(batches).toEqual([12, 6, 3, 3, 3, 3]);
    const rejected = warnings.filter((w) => w.includes('rejected audit event'));
    expect(rejected.length).toBe(4);
    expect(rejected[0]).toContain('UNSUPPORTED_TYPE: not stored); it stays in the local audit log');
    expect(plane.events.size + rejected.length).toBe(local.length);
    const cursors = JSON.parse(await readFile(cursorsPath, 'utf8')) as ShipCursors;
    expect(cursors.rejected).toBe(rejected.length);
  });
});
