import {createHash, randomUUID} from 'node:crypto';
import {mkdtemp, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {genesisHash} from '../../src/audit/record.js';
import {admin, call, createTenant, startServerProcess, type Json, type ServerProcess} from './helpers.js';

/** A synthetic chain: record i links to record i-1 (to the genesis hash at 0). */
function chainOf(length: number, salt = ''): {chain: string; hashes: string[]} {
  const chain = randomUUID();
  return {chain, hashes: Array.from({length}, (_, i) => createHash('sha256').update(`${chain}:${i}:${salt}`).digest('hex'))};
}

let counter = 0;
function eventId(): string {
  const hex = (Date.now().toString(16).padStart(12, '0') + (counter++).toString(16).padStart(20, '0')).slice(-32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function item(chain: string, seq: number, prev: string, hash: string) {
  return {
    chain,
    seq,
    prev,
    hash,
    event: {eventId: eventId(), type: 'TOOL_CALL_PRE', timestamp: new Date().toISOString(), agentId: 'a', sessionId: 's'},
  };
}

describe('the server anchors each shipped chain and shows what does not fit on the endpoint', () => {
  let dataDir: string;
  let server: ServerProcess;
  let apiKey: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'thoth-server-'));
    server = await startServerProcess(dataDir);
    apiKey = (await createTenant(server, 'acme')).apiKey;
  });
  afterAll(async () => {
    await server.stop();
    await rm(dataDir, {recursive: true, force: true});
  });

  async function ship(endpointId: string, events: unknown[], links: unknown[] = []): Promise<Json> {
    const answer = await call(server, 'POST', '/v1/events/batch', {
      body: {
        batchId: randomUUID(),
        endpointId,
        tenantId: 'acme',
        sentAt: new Date().toISOString(),
        events,
        ...(links.length ? {links} : {}),
      },
      headers: {authorization: `Bearer ${apiKey}`},
    });
    expect(answer.status, answer.text).toBe(200);
    return answer.body;
  }

  async function violationsOf(endpointId: string): Promise<Array<[string, number | null]>> {
    const listed = (await admin(server, 'GET', `/violations?endpoint=${endpointId}`)).body.violations as Json[];
    return listed.map((violation) => [violation.kind, violation.seq] as [string, number | null]).reverse();
  }

  it('an intact chain (control records as links between events) anchors without a violation; a batch sent again is acknowledged as duplicates', async () => {
    const {chain, hashes} = chainOf(5);
    const g = genesisHash(chain);
    const first = [item(chain, 1, hashes[0]!, hashes[1]!), item(chain, 2, hashes[1]!, hashes[2]!)];
    expect(await ship('ep-intact', first, [{chain, seq: 0, prev: g, hash: hashes[0]}])).toMatchObject({
      received: 2,
      accepted: 2,
      duplicates: 0,
    });
    expect(await ship('ep-intact', first)).toMatchObject({received: 2, accepted: 0, duplicates: 2});
    await ship('ep-intact', [item(chain, 4, hashes[3]!, hashes[4]!)], [{chain, seq: 3, prev: hashes[2], hash: hashes[3]}]);
    expect(await violationsOf('ep-intact')).toEqual([]);
  });

  it('a gap, a wrong genesis, a re-sealed history, a rollback to an older head, a record after the close and a foreign chain are each a violation', async () => {
    const gap = chainOf(4);
    await ship('ep-bad', [item(gap.chain, 0, genesisHash(gap.chain), gap.hashes[0]!), item(gap.chain, 3, gap.hashes[2]!, gap.hashes[3]!)]);

    const genesis = chainOf(1);
    await ship('ep-bad', [item(genesis.chain, 0, 'f'.repeat(64), genesis.hashes[0]!)]);

    const resealed = chainOf(4);
    const rewritten = chainOf(4, 'rewritten');
    await ship(
      'ep-bad',
      [0, 1, 2].map((i) => item(resealed.chain, i, i === 0 ? genesisHash(resealed.chain) : resealed.hashes[i - 1]!, resealed.hashes[i]!)),
    );
    // The next record links to a history the server never saw.
    await ship('ep-bad', [item(resealed.chain, 3, rewritten.hashes[2]!, rewritten.hashes[3]!)]);

    const rolled = chainOf(5);
    await ship(
      'ep-bad',
      [0, 1, 2, 3, 4].map((i) => item(rolled.chain, i, i === 0 ? genesisHash(rolled.chain) : rolled.hashes[i - 1]!, rolled.hashes[i]!)),
    );
    // Back to head 2, written on from there: record 3 again, same history, another line.
    await ship('ep-bad', [item(rolled.chain, 3, rolled.hashes[2]!, 'a'.repeat(64))]);

    const closed = chainOf(3);
    await ship(
      'ep-bad',
      [item(closed.chain, 0, genesisHash(closed.chain), closed.hashes[0]!)],
      [{chain: closed.chain, seq: 1, prev: closed.hashes[0], hash: closed.hashes[1], closed: true}],
    );
    await ship('ep-bad', [item(closed.chain, 2, closed.hashes[1]!, closed.hashes[2]!)]);

    await ship('ep-other', [item(gap.chain, 4, gap.hashes[3]!, 'b'.repeat(64))]);

    expect(await violationsOf('ep-bad')).toEqual([
      ['gap', 3],
      ['genesis', 0],
      ['resealed', 3],
      ['rollback', 3],
      ['after-close', 2],
    ]);
    expect(await violationsOf('ep-other')).toEqual([['foreign-chain', null]]);
    const unanchored = chainOf(2);
    await ship('ep-late', [item(unanchored.chain, 1, unanchored.hashes[0]!, unanchored.hashes[1]!)]);
    expect(await violationsOf('ep-late')).toEqual([['gap', 1]]);
  });
});
