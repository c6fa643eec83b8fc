import {writeFile} from 'node:fs/promises';
import {join} from 'node:path';

import {expect} from 'vitest';

import {tempDir} from '../helpers/tmp.js';
import {RUG_PULL_SERVER, callText, refusedCall, startSession, type Session} from '../policy/session.js';
import {admin, endpointEnv, until, type Json, type ServerProcess} from './helpers.js';

// Endpoints whose tool definition changes under them (the rug-pull fixture server), for the fleet pins tests.

/** The description of `lookup` before the rug pull. */
export const INNOCENT = 'Looks a word up in the dictionary.';

/** A rug-pull endpoint of `tenant`: the session has seen `lookup` change and refuses it. */
export async function rugPulledEndpoint(
  server: ServerProcess,
  apiKey: string,
  tenant: string,
  endpointId: string,
  options: {home?: string; env?: Record<string, string>} = {},
): Promise<{home: string; session: Session}> {
  const home = options.home ?? (await tempDir());
  const policy = join(home, 'pins-policy.json');
  await writeFile(policy, JSON.stringify({agents: {rug: {mode: 'block', approved_scope: ['lookup', 'rug-pull']}}}));
  const session = await startSession({
    home,
    flags: ['--agent-id', 'rug', '--policy', policy],
    server: [process.execPath, RUG_PULL_SERVER],
    env: endpointEnv(server, apiKey, {
      THOTH_TENANT_ID: tenant,
      THOTH_ENDPOINT_ID: endpointId,
      THOTH_USER_ID: `user@${tenant}.test`,
      ...options.env,
    }),
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
