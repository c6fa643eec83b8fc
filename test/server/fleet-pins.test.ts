import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {readEvents} from '../../src/audit/reader.js';
import {pinFilePath} from '../../src/pins/store.js';
import {invalidAuditEvents} from '../helpers/audit-schemas.js';
import {parseEnvelope, runThoth} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';
import {RUG_PULL_SERVER, callText, refusedCall, startSession, type Session} from '../policy/session.js';
import {admin, createTenant, endpointEnv, startServerProcess, until, type Json, type ServerProcess} from './helpers.js';

const INNOCENT = 'Looks a word up in the dictionary.';

/** A rug-pull endpoint of `tenant`: the session has seen `lookup` change and refuses it. */
export async function rugPulledEndpoint(
  server: ServerProcess,
  apiKey: string,
  tenant: string,
  endpointId: string,
): Promise<{home: string; session: Session}> {
  const home = await tempDir();
  const policy = join(home, 'pins-policy.json');
  await writeFile(policy, JSON.stringify({agents: {rug: {mode: 'block', approved_scope: ['lookup', 'rug-pull']}}}));
  const session = await startSession({
    home,
    flags: ['--agent-id', 'rug', '--policy', policy],
    server: [process.execPath, RUG_PULL_SERVER],
    env: endpointEnv(server, apiKey, {THOTH_TENANT_ID: tenant, THOTH_ENDPOINT_ID: endpointId, THOTH_USER_ID: `user@${tenant}.test`}),
  });
  expect((await session.client.listTools()).tools.find((tool) => tool.name === 'lookup')?.description).toBe(INNOCENT);
  expect(await callText(session.client, 'rug-pull')).toBe('lookup changed');
  await session.client.listTools();
  expect((await refusedCall(session.client, 'lookup', {query: 'owl'})).data['ruleId']).toBe('pin:changed');
  return {home, session};
}

/** The pending review of `lookup` for `tenant`, once the endpoint's PIN_CHANGED has been shipped. */
export async function pendingReview(server: ServerProcess, tenant: string): Promise<Json> {
  return until(
    async () =>
      ((await admin(server, 'GET', '/pins?state=pending')).body.reviews as Json[]).find(
        (review) => review.tenant === tenant && review.tool === 'lookup',
      ),
    30_000,
    `the review of lookup for ${tenant}`,
  );
}

/** Calls `lookup` until the endpoint allows it (the decision arrives with a heartbeat). */
export async function untilAllowed(session: Session): Promise<string> {
  return until(
    async () => {
      try {
        return await callText(session.client, 'lookup', {query: 'owl'});
      } catch {
        return undefined;
      }
    },
    30_000,
    'the fleet approval to reach the endpoint',
  );
}

describe('fleet pins: a changed tool definition is reviewed once for the fleet, and the decision reaches the endpoints', () => {
  let dataDir: string;
  let server: ServerProcess;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'thoth-server-'));
    server = await startServerProcess(dataDir);
  });
  afterAll(async () => {
    await server.stop();
    await rm(dataDir, {recursive: true, force: true});
  });

  it('an approved change becomes the pin without asking the user; a rejected one stays refused, even to thoth pins accept', async () => {
    const acme = await createTenant(server, 'acme');
    const globex = await createTenant(server, 'globex');
    const approving = await rugPulledEndpoint(server, acme.apiKey, 'acme', 'ep-pins-a');
    const rejecting = await rugPulledEndpoint(server, globex.apiKey, 'globex', 'ep-pins-b');
    try {
      // The review shows both definitions (the admin reads the diff) and who saw the change.
      const review = await pendingReview(server, 'acme');
      expect(review).toMatchObject({
        state: 'pending',
        agentIds: ['rug'],
        endpoints: ['ep-pins-a'],
        fromSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
        toSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      });
      expect(review.fromDefinition.description).toBe(INNOCENT);
      expect(review.toDefinition.description).toContain('<IMPORTANT>');
      const decided = await admin(server, 'POST', `/pins/${review.id}/decision`, {decision: 'approve', comment: 'vendor update'});
      expect(decided.status).toBe(200);
      expect(decided.body).toMatchObject({state: 'approved', decidedBy: expect.any(String)});

      expect(await untilAllowed(approving.session)).toBe('definition of owl');
      const pins = JSON.parse(await readFile(pinFilePath(approving.home, 'rug'), 'utf8')) as Json;
      expect(pins.tools.lookup).toMatchObject({fleetReviewId: review.id, acceptedBy: decided.body.decidedBy});
      expect(pins.tools.lookup.changed).toBeUndefined();
      expect(approving.session.stderr()).not.toContain(acme.apiKey);

      // The other tenant's admins reject the same change: the decision arrives, the tool stays refused.
      const other = await pendingReview(server, 'globex');
      expect(other.id).not.toBe(review.id);
      expect((await admin(server, 'POST', `/pins/${other.id}/decision`, {decision: 'reject'})).body.state).toBe('rejected');
      await until(
        async () => (await readFile(join(rejecting.home, 'pins', 'fleet', 'decisions.json'), 'utf8').catch(() => '')).includes(other.id),
        30_000,
        'the rejection to reach the endpoint',
      );
      expect(await readFile(join(rejecting.home, 'pins', 'fleet', 'decisions.json'), 'utf8')).not.toContain(review.id);
      const refused = await refusedCall(rejecting.session.client, 'lookup', {query: 'owl'});
      expect(refused.data['ruleId']).toBe('pin:changed');
      const accept = await runThoth(['pins', 'accept', '--agent-id', 'rug', '--tool', 'lookup', '--json'], {
        env: {THOTH_HOME: rejecting.home},
      });
      expect(accept.code).toBe(6);
      expect(parseEnvelope(accept.stdout).error).toMatchObject({code: 'PIN_REJECTED_BY_FLEET'});
      expect((await refusedCall(rejecting.session.client, 'lookup', {query: 'owl'})).data['ruleId']).toBe('pin:changed');
    } finally {
      await approving.session.close();
      await rejecting.session.close();
    }

    // The trail says who accepted (the fleet's admin, the review), and every event is valid.
    for (const home of [approving.home, rejecting.home]) expect(await invalidAuditEvents(join(home, 'audit'))).toEqual([]);
    const events = (await readEvents(join(approving.home, 'audit'))).map((stored) => stored.event as Json);
    const changed = events.find((event) => event.type === 'PIN_CHANGED');
    expect(changed.definition.description).toContain('<IMPORTANT>');
    expect(changed.previousDefinition.description).toBe(INNOCENT);
    expect(events.filter((event) => event.type === 'PIN_ACCEPTED')).toEqual([
      expect.objectContaining({via: 'fleet', toolName: 'lookup', reviewId: expect.any(String), pinSha256: changed.pinSha256}),
    ]);
    const audit = (await admin(server, 'GET', '/audit')).body.entries as Json[];
    expect(audit.filter((entry) => entry.action === 'pin.decide').map((entry) => entry.outcome)).toEqual(['ok', 'ok']);
  });
});
