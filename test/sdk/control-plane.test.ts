import {join} from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';

import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {readEvents} from '../../src/audit/reader.js';
import type {EnforceRequest} from '../../src/control-plane/contract.js';
import {instrument, sessionOf, ToolCallRefusedError} from '../../src/sdk/index.js';
import type {TestControlPlane} from '../helpers/control-plane-server.js';
import {tempDir} from '../helpers/tmp.js';
import {API_KEY, fleetEnv, makePki, startPlane, type Pki} from '../control-plane/fixtures.js';
import {sdkEnv} from './helpers.js';

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not met within ${timeoutMs} ms`);
    await sleep(50);
  }
}

describe('an SDK session with a control plane configured (the same remote enforcer and shipping as thoth run)', () => {
  let pki: Pki;
  let plane: TestControlPlane;

  beforeAll(async () => {
    pki = await makePki();
    plane = await startPlane(pki);
  });
  afterAll(async () => {
    expect(plane.everInvalid.map((r) => `${r.path}: ${r.problems.join('; ')}`)).toEqual([]);
    await plane.close();
    await pki.remove();
  });

  it('asks the central enforcer about every call (its block refuses the call) and ships the session trail', async () => {
    const home = await tempDir();
    plane.decide = (request: EnforceRequest) =>
      request.tool === 'refund'
        ? {decision: 'block', reason: 'refunds are decided centrally', ruleId: 'central-block'}
        : {decision: 'allow', reason: 'fine', ruleId: 'central-allow'};
    const ran: string[] = [];
    const tools = instrument(
      {
        lookup_customer: async ({id}: {id: string}) => ran.push(`lookup ${id}`) && {id},
        refund: async ({amount}: {amount: number}) => ran.push(`refund ${amount}`) && 'refunded',
      },
      {
        agentId: 'billing',
        tenantId: 'acme',
        policy: {version: 'local-allow', agents: {billing: {mode: 'observe'}}},
        env: sdkEnv(home, {...fleetEnv(plane, pki), THOTH_REQUIRE_NON_ROOT: 'false'}),
        onWarning: () => undefined,
      },
    );
    expect(await tools.lookup_customer({id: 'c1'})).toEqual({id: 'c1'});
    const refused = await tools.refund({amount: 5}).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ToolCallRefusedError);
    expect((refused as ToolCallRefusedError).data).toMatchObject({decision: 'block', ruleId: 'remote:central-block', enforcer: 'remote'});
    expect(ran).toEqual(['lookup c1']);
    await sessionOf(tools)!.close();

    expect(plane.of('enforce').map((r) => [(r.body as EnforceRequest).tool, (r.body as EnforceRequest).agentId])).toEqual([
      ['lookup_customer', 'billing'],
      ['refund', 'billing'],
    ]);
    const local = (await readEvents(join(home, 'audit'))).map((stored) => stored.event);
    expect(local.map((event) => event.type)).toContain('SESSION_END');
    await until(() => local.every((event) => plane.events.has(event.eventId)), 20_000, 'every local event shipped');
    for (const request of plane.requests) expect(request.raw).not.toContain(API_KEY);
  });
});
