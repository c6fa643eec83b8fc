import {mkdtemp, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {runThoth} from '../helpers/cli.js';
import {SERVER_EVERYTHING, connect, throughThoth} from '../helpers/mcp.js';
import {tempDir} from '../helpers/tmp.js';
import {chromiumAvailable, launchChromium, loggedInPage, type TestBrowser} from './chromium.js';
import {admin, createTenant, endpointEnv, startServerProcess, until, type ServerProcess} from './helpers.js';

/** The admin web app in a real headless Chromium: log in, see a held call appear, approve it, the endpoint's call completes. */
describe.skipIf(!chromiumAvailable('thoth server web app test'))('the admin web app in Chromium', () => {
  let dataDir: string;
  let server: ServerProcess;
  let chromium: TestBrowser;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'thoth-server-'));
    server = await startServerProcess(dataDir);
    const made = await runThoth(['server', 'user', 'create', 'grace', '--role', 'approver', '--data-dir', dataDir], {
      input: 'grace-correct-horse\n',
    });
    expect(made.code, made.stderr).toBe(0);
    chromium = await launchChromium();
  });
  afterAll(async () => {
    await chromium?.close();
    await server?.stop();
    await rm(dataDir, {recursive: true, force: true});
  });

  it('logs in, sees the held call appear live with its redacted arguments, approves it, and the call completes; the fleet page lists the endpoint', async () => {
    const {apiKey} = await createTenant(server, 'acme');
    expect(
      (
        await admin(server, 'PUT', '/tenants/acme/policy', {
          source: JSON.stringify({rules: [{id: 'review', tool: 'echo', decision: 'step_up', reason: 'echo is reviewed'}]}),
        })
      ).status,
    ).toBe(200);
    const page = await loggedInPage(chromium.browser, server, 'grace', 'grace-correct-horse');
    await page.getByText('No held call is waiting.').waitFor();

    const home = await tempDir();
    const connection = await connect(throughThoth(SERVER_EVERYTHING, ['--agent-id', 'everything']), {
      env: {...endpointEnv(server, apiKey), THOTH_HOME: home},
    });
    const held = connection.client.callTool({
      name: 'echo',
      arguments: {message: 'approve me in the browser', api_key: 'sk-live-abcdef0123456789'},
    });
    // Appears without reloading the page.
    const card = page.locator('article.approval');
    await card.waitFor({timeout: 30_000});
    expect(await card.getByRole('heading').textContent()).toContain('echo');
    const shown = await card.locator('pre').textContent();
    expect(shown).toContain('approve me in the browser');
    expect(shown).not.toContain('sk-live-abcdef0123456789');
    await card.getByLabel('Comment (optional)').fill('looks fine');
    await card.getByRole('button', {name: 'Approve'}).click();
    const result = await held;
    expect(JSON.stringify(result)).toContain('approve me in the browser');
    await page.getByText('No held call is waiting.').waitFor();
    expect(await page.locator('table').textContent()).toContain('looks fine');

    // The fleet page lists the endpoint once it has checked in, and its filters narrow the list.
    await until(async () => (await admin(server, 'GET', '/endpoints')).body.endpoints[0]?.lastSeenAt, 30_000, 'a heartbeat');
    await page.getByRole('link', {name: 'Fleet', exact: true}).click();
    const row = page.locator('#endpoints tr[data-endpoint-id="ep-server-1"]');
    expect(await row.textContent()).toContain('acme');
    await page.getByLabel('Show').selectOption('stale');
    await page.getByRole('button', {name: 'Filter'}).click();
    await page.getByText('0 endpoints').waitFor();
    expect(await row.count()).toBe(0);
    await connection.close();
    await page.context().close();
  });
});
