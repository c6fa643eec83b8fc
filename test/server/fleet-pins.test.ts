import {mkdtemp, readFile, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {readEvents} from '../../src/audit/reader.js';
import {pinFilePath} from '../../src/pins/store.js';
import {invalidAuditEvents} from '../helpers/audit-schemas.js';
import {parseEnvelope, runThoth} from '../helpers/cli.js';
import {refusedCall} from '../policy/session.js';
import {INNOCENT, pendingReview, rugPulledEndpoint, untilAllowed} from './fleet-helpers.js';
import {admin, createTenant, startServerProcess, until, type Json, type ServerProcess} from './helpers.js';

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
