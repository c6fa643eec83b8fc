import {existsSync} from 'node:fs';
import {mkdtemp, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {chromium, type Browser} from 'playwright-core';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {runThoth} from '../helpers/cli.js';
import {SERVER_EVERYTHING, connect, throughThoth} from '../helpers/mcp.js';
import {tempDir} from '../helpers/tmp.js';
import {admin, createTenant, endpointEnv, startServerProcess, type ServerProcess} from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const REQUIRE_CHROMIUM = process.env['THOTH_REQUIRE_CHROMIUM'] === '1';
if (!existsSync(CHROMIUM)) {
  if (REQUIRE_CHROMIUM) throw new Error(`THOTH_REQUIRE_CHROMIUM=1 but ${CHROMIUM} is missing (Debian: apt-get install chromium)`);
  console.warn(`thoth server web app test: ${CHROMIUM} not found; skipped`);
}

/** The admin web app in a real headless Chromium: log in, see a held call appear, approve it, the endpoint's call completes. */
describe.skipIf(!existsSync(CHROMIUM))('the admin web app in Chromium', () => {
  let dataDir: string;
  let server: ServerProcess;
  let browser: Browser;
  let profile: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'thoth-server-'));
    profile = await mkdtemp(join(tmpdir(), 'thoth-chromium-'));
    server = await startServerProcess(dataDir);
    const made = await runThoth(['server', 'user', 'create', 'grace', '--role', 'approver', '--data-dir', dataDir], {
      input: 'grace-correct-horse\n',
    });
    expect(made.code, made.stderr).toBe(0);
    // A fresh profile directory (playwright passes it as --user-data-dir).
    browser = await chromium.launch({
      env: {...process.env, HOME: profile},
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await rm(dataDir, {recursive: true, force: true});
    await rm(profile, {recursive: true, force: true});
  });

  it('logs in, sees the held call appear live with its redacted arguments, approves it, and the call completes', async () => {
    const {apiKey} = await createTenant(server, 'acme');
    expect(
      (
        await admin(server, 'PUT', '/tenants/acme/policy', {
          source: JSON.stringify({rules: [{id: 'review', tool: 'echo', decision: 'step_up', reason: 'echo is reviewed'}]}),
        })
      ).status,
    ).toBe(200);
    // The server's own CA is not in Chromium's store: the test trusts it for this context only.
    const context = await browser.newContext({ignoreHTTPSErrors: true});
    const page = await context.newPage();
    await page.goto(server.url);
    await page.getByLabel('User name').fill('grace');
    await page.getByLabel('Password').fill('grace-correct-horse');
    await page.getByRole('button', {name: 'Log in'}).click();
    await page.getByRole('heading', {name: 'Approvals'}).waitFor();
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
    await connection.close();
    await context.close();
  });
});
