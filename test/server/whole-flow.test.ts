import {readFile, rm} from 'node:fs/promises';
import {join} from 'node:path';

import {McpError} from '@modelcontextprotocol/sdk/types.js';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {readEvents} from '../../src/audit/reader.js';
import {invalidAuditEvents} from '../helpers/audit-schemas.js';
import {runThoth} from '../helpers/cli.js';
import {SERVER_EVERYTHING, connect, throughThoth} from '../helpers/mcp.js';
import {tempDir} from '../helpers/tmp.js';
import {chromiumAvailable, launchChromium, loggedInPage, type TestBrowser} from './chromium.js';
import {pendingReview, rugPulledEndpoint, untilAllowed} from './fleet-helpers.js';
import {admin, createTenant, endpointEnv, startServerOn, until, type Json, type ServerProcess} from './helpers.js';
import {stores, type TestPostgres} from './postgres.js';

const CENTRAL_POLICY = {
  version: 'flow-1',
  rules: [
    {id: 'no-sums', tool: 'get-sum', decision: 'block', reason: 'sums are decided centrally: no'},
    {id: 'review-echo', tool: 'echo', decision: 'step_up', reason: 'echoes are reviewed'},
  ],
};
const BROWSER = chromiumAvailable('thoth server whole-flow test');

/**
 * The "done when": a real `thoth run` endpoint against a real `thoth server` on loopback,
 * on each store: enrollment, heartbeats, a central block, a step-up approved in Chromium with a
 * signed grant, shipped events verified and anchored, a fleet pin decision reaching the endpoint.
 * Without Chromium (and THOTH_REQUIRE_CHROMIUM unset) the two decisions are made through the admin
 * API instead, and the test says so.
 */
describe.each(stores())('the whole flow: thoth run endpoint and thoth server (%s store)', (store) => {
  let dataDir: string;
  let server: ServerProcess;
  let postgres: TestPostgres | undefined;
  let chromium: TestBrowser | undefined;

  beforeAll(async () => {
    ({dataDir, server, postgres} = await startServerOn(store));
    const made = await runThoth(['server', 'user', 'create', 'ada', '--role', 'admin', '--data-dir', dataDir], {
      input: 'ada-correct-horse\n',
    });
    expect(made.code, made.stderr).toBe(0);
    if (BROWSER) chromium = await launchChromium();
  });
  afterAll(async () => {
    await chromium?.close();
    await server?.stop();
    await rm(dataDir, {recursive: true, force: true});
    postgres?.stop();
  });

  it('enrolls, heartbeats, blocks centrally, approves a step-up with a signed grant, anchors the shipped events and settles a changed tool for the fleet', async () => {
    const {apiKey} = await createTenant(server, 'acme');
    expect((await admin(server, 'PUT', '/tenants/acme/policy', {source: JSON.stringify(CENTRAL_POLICY)})).status).toBe(200);
    const page = chromium ? await loggedInPage(chromium.browser, server, 'ada', 'ada-correct-horse') : undefined;
    if (!page) console.warn('whole-flow: no Chromium; the step-up and the pin are decided through the admin API');

    // Enrollment pins the server key; command-line approvals are off, so only a signed grant can approve.
    const home = await tempDir();
    const env = {
      ...endpointEnv(server, apiKey, {THOTH_ENDPOINT_ID: 'ep-flow'}),
      THOTH_USER_ID: 'ada@acme.test',
      THOTH_CLI_APPROVALS: 'off',
    };
    const connection = await connect(throughThoth(SERVER_EVERYTHING, ['--agent-id', 'everything']), {env: {...env, THOTH_HOME: home}});
    const enrollment = await until(
      async () => (await readFile(join(home, 'control-plane', 'enrollment.json'), 'utf8').catch(() => '')) || undefined,
      30_000,
      'enrollment',
    ).then((text) => JSON.parse(text) as Json);
    expect(enrollment.serverKey.publicKey).toBe(server.publicKey);

    // A central block.
    const blocked = await connection.client.callTool({name: 'get-sum', arguments: {a: 1, b: 2}}).catch((error: unknown) => error);
    expect(blocked).toBeInstanceOf(McpError);
    expect((blocked as McpError).data).toMatchObject({decision: 'block', ruleId: 'remote:rule:no-sums'});

    // A step-up, approved by a person; the endpoint continues only with the grant the pinned key signed.
    const held = connection.client.callTool({name: 'echo', arguments: {message: 'ship it'}});
    const approval = await until(
      async () => ((await admin(server, 'GET', '/approvals?state=pending')).body.approvals as Json[]).find((a) => a.tool === 'echo'),
      30_000,
      'the held call',
    );
    if (page) {
      const card = page.locator(`article.approval[data-approval-id="${approval.id}"]`);
      await card.waitFor({timeout: 30_000});
      await card.getByLabel('Comment (optional)').fill('release window');
      await card.getByRole('button', {name: 'Approve'}).click();
    } else {
      expect((await admin(server, 'POST', `/approvals/${approval.id}/decision`, {decision: 'approve'})).status).toBe(200);
    }
    expect(JSON.stringify(await held)).toContain('ship it');
    const decided = (await admin(server, 'GET', `/approvals/${approval.id}`)).body;
    expect(decided).toMatchObject({state: 'approved', decidedBy: page ? 'ada' : 'bootstrap-token'});

    // A tool definition changes under a second session of the same endpoint; the fleet approves it once.
    const rug = await rugPulledEndpoint(server, apiKey, 'acme', 'ep-flow', {home, env: {THOTH_USER_ID: 'ada@acme.test'}});
    try {
      const review = await pendingReview(server, 'acme');
      expect(review.endpoints).toEqual(['ep-flow']);
      if (page) {
        await page.getByRole('link', {name: 'Fleet pins'}).click();
        const card = page.locator(`article.review[data-review-id="${review.id}"]`);
        expect(await card.locator('pre.diff .added').allTextContents()).toEqual([expect.stringContaining('<IMPORTANT>')]);
        await card.getByRole('button', {name: 'Approve for the fleet'}).click();
        await page.getByText('No changed tool definition is waiting.').waitFor();
      } else {
        expect((await admin(server, 'POST', `/pins/${review.id}/decision`, {decision: 'approve'})).status).toBe(200);
      }
      expect(await untilAllowed(rug.session)).toBe('definition of owl');
    } finally {
      await rug.session.close();
    }
    await connection.close();

    // Heartbeats: the fleet view has the endpoint, its user and the central policy version.
    // Shipped events: every chain anchored without a violation, the decisions among them.
    const endpoint = await until(
      async () => {
        const found = ((await admin(server, 'GET', '/endpoints')).body.endpoints as Json[]).find((e) => e.endpointId === 'ep-flow');
        const events = (await admin(server, 'GET', '/events?endpoint=ep-flow&type=SESSION_END')).body.events as Json[];
        return found?.lastSeenAt && events.length >= 2 ? found : undefined;
      },
      45_000,
      'both sessions shipped',
    );
    expect(endpoint).toMatchObject({
      tenant: 'acme',
      userId: 'ada@acme.test',
      policyVersion: expect.stringMatching(/^flow-1@sha256:/),
      audit: {state: 'ok', violations: 0},
    });
    expect(endpoint.audit.chains).toBeGreaterThanOrEqual(2);
    expect((await admin(server, 'GET', '/violations?endpoint=ep-flow')).body.violations).toEqual([]);
    const shipped = ((await admin(server, 'GET', '/events?endpoint=ep-flow&limit=1000')).body.events as Json[]).map((e) => e.event);
    expect(shipped.filter((e) => e.type === 'TOOL_CALL_PRE').map((e) => [e.toolName, e.decision])).toEqual(
      expect.arrayContaining([['get-sum', 'block']]),
    );
    expect(shipped.filter((e) => e.type === 'PIN_ACCEPTED')).toEqual([expect.objectContaining({via: 'fleet', toolName: 'lookup'})]);
    // What the server anchored is what the endpoint holds: every local event arrived, and the local trail verifies.
    const local = (await readEvents(join(home, 'audit'))).map((stored) => stored.event.eventId);
    expect(new Set(shipped.map((e) => e.eventId))).toEqual(new Set(local));
    expect(await invalidAuditEvents(join(home, 'audit'))).toEqual([]);
    const verified = await runThoth(['audit', 'verify'], {env: {THOTH_HOME: home}});
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    await page?.context().close();
  });
});
