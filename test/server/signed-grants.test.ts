import {generateKeyPairSync, sign, type KeyObject} from 'node:crypto';
import {writeFile} from 'node:fs/promises';
import {join} from 'node:path';

import {McpError} from '@modelcontextprotocol/sdk/types.js';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {canonicalJson, sha256Hex} from '../../src/core/canonical-json.js';
import {GRANT_DOMAIN, signedBytes, type SignedGrant} from '../../src/control-plane/signed-records.js';
import type {EnforceRequest} from '../../src/control-plane/contract.js';
import {fleetEnv, makePki, startPlane, type Pki} from '../control-plane/fixtures.js';
import type {TestControlPlane} from '../helpers/control-plane-server.js';
import {SERVER_EVERYTHING, connect, throughThoth} from '../helpers/mcp.js';
import {tempDir} from '../helpers/tmp.js';

/**
 * The attack: whoever answers the enforcer's hold wait (a server the agent pointed the endpoint
 * at, or a control plane that does not sign) says "approved". With a pinned control-plane key the
 * endpoint honours an approval only with a grant that key signed for this very call.
 */
function keyPair(): {publicKey: string; privateKey: KeyObject} {
  const pair = generateKeyPairSync('ed25519');
  const der = pair.publicKey.export({type: 'spki', format: 'der'});
  return {publicKey: der.subarray(der.length - 32).toString('base64'), privateKey: pair.privateKey};
}

function grantFor(request: EnforceRequest, approvalId: string, privateKey: KeyObject, change: Partial<SignedGrant> = {}): SignedGrant {
  const fields = {
    approvalId,
    decision: 'approved' as const,
    tenantId: 'acme',
    endpointId: request.endpointId,
    agentId: request.agentId,
    tool: request.tool,
    argumentsSha256: request.argumentsSha256,
    decidedBy: 'grace@acme.test',
    decidedAt: new Date().toISOString(),
    expiresAt: new Date(Date.now() + 600_000).toISOString(),
    keyId: 'sk_test',
    ...change,
  };
  return {...fields, signature: sign(null, signedBytes(GRANT_DOMAIN, fields), privateKey).toString('base64')};
}

describe('remote approvals need a grant signed by the pinned control-plane key', () => {
  let pki: Pki;
  let plane: TestControlPlane;
  const pinned = keyPair();
  const stranger = keyPair();

  beforeAll(async () => {
    pki = await makePki();
    plane = await startPlane(pki);
  });
  afterAll(async () => {
    await plane.close();
    await pki.remove();
  });

  /** One held echo call approved by the plane with `grant(request)` in the hold-wait answer. */
  async function heldCall(grant: (request: EnforceRequest, approvalId: string) => SignedGrant | undefined): Promise<unknown> {
    let lastRequest: EnforceRequest | undefined;
    plane.decide = (request) => {
      lastRequest = request;
      const token = plane.createHold('apr-signed');
      setTimeout(() => plane.resolveHold(token, 'approved', 'grace@acme.test'), 200);
      return {decision: 'step_up', reason: 'needs approval', ruleId: 'central-review', approval: {id: 'apr-signed', holdToken: token}};
    };
    plane.handlers.holdWait = async (recorded, self) => {
      const body = recorded.body as {holdToken: string};
      const hold = self.holds.get(body.holdToken)!;
      for (let i = 0; i < 50 && hold.state === 'pending'; i++) await new Promise((resolve) => setTimeout(resolve, 50));
      const answer: Record<string, unknown> = {approvalId: hold.approvalId, state: hold.state};
      if (hold.state === 'approved') {
        answer['decidedBy'] = 'grace@acme.test';
        const signed = grant(lastRequest!, hold.approvalId);
        if (signed) answer['grant'] = signed;
      }
      return {body: answer};
    };
    const home = await tempDir();
    const policy = join(home, 'policy.json');
    await writeFile(policy, JSON.stringify({version: 'g-1', approvals: {elicitation_timeout_seconds: 5}}));
    const connection = await connect(throughThoth(SERVER_EVERYTHING, ['--agent-id', 'everything', '--policy', policy]), {
      env: {
        ...fleetEnv(plane, pki),
        THOTH_HOME: home,
        THOTH_REQUIRE_NON_ROOT: 'false',
        THOTH_CONTROL_PLANE_PUBLIC_KEY: `ed25519:${pinned.publicKey}`,
      },
    });
    try {
      const outcome = await connection.client.callTool({name: 'echo', arguments: {message: 'held'}}).catch((error: unknown) => error);
      if (process.env['DEBUG_GRANTS']) console.log(JSON.stringify(outcome), connection.stderr());
      return outcome;
    } finally {
      await connection.close();
    }
  }

  function refusedAsUnhonoured(outcome: unknown, why: string): void {
    expect(outcome).toBeInstanceOf(McpError);
    expect((outcome as McpError).code).toBe(-32002);
    expect(String(((outcome as McpError).data as {reason: string}).reason)).toContain(why);
  }

  it('an approval without a grant is not honoured', async () => {
    refusedAsUnhonoured(await heldCall(() => undefined), 'carries no signed grant');
  });

  it('a grant signed by another key is not honoured', async () => {
    refusedAsUnhonoured(
      await heldCall((request, id) => grantFor(request, id, stranger.privateKey)),
      'not signed by the pinned control-plane key',
    );
  });

  it('a grant signed by the pinned key for other arguments, or expired, is not honoured', async () => {
    const other = sha256Hex(canonicalJson({message: 'something else'}));
    refusedAsUnhonoured(
      await heldCall((request, id) => grantFor(request, id, pinned.privateKey, {argumentsSha256: other})),
      'argumentsSha256 differ',
    );
    refusedAsUnhonoured(
      await heldCall((request, id) => grantFor(request, id, pinned.privateKey, {expiresAt: new Date(Date.now() - 1000).toISOString()})),
      'expired',
    );
  });

  it('a grant the pinned key signed for this call is honoured', async () => {
    const outcome = await heldCall((request, id) => grantFor(request, id, pinned.privateKey));
    expect(JSON.stringify(outcome)).toContain('held');
  });
});
