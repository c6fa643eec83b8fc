import {existsSync} from 'node:fs';
import {mkdtemp, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {chromium, type Browser, type Page} from 'playwright-core';
import {expect} from 'vitest';

import type {ServerProcess} from './helpers.js';

/**
 * Debian's Chromium, headless, driven by playwright-core (which downloads no browser). Without it
 * the browser parts are skipped and say so; with THOTH_REQUIRE_CHROMIUM=1 (as .ci/run sets) they
 * fail instead.
 */
export const CHROMIUM = '/usr/bin/chromium';
export const REQUIRE_CHROMIUM = process.env['THOTH_REQUIRE_CHROMIUM'] === '1';

/** True when Chromium can be used; otherwise warns (or throws when it is required). */
export function chromiumAvailable(what: string): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (REQUIRE_CHROMIUM) throw new Error(`THOTH_REQUIRE_CHROMIUM=1 but ${CHROMIUM} is missing (Debian: apt-get install chromium)`);
  console.warn(
    `${what}: ${CHROMIUM} not found; the browser part is skipped (install chromium, or set THOTH_REQUIRE_CHROMIUM=1 to make it required)`,
  );
  return false;
}

export interface TestBrowser {
  browser: Browser;
  close(): Promise<void>;
}

/** A fresh headless Chromium with its own profile directory. */
export async function launchChromium(): Promise<TestBrowser> {
  const profile = await mkdtemp(join(tmpdir(), 'thoth-chromium-'));
  const browser = await chromium.launch({
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
  return {
    browser,
    close: async () => {
      await browser.close();
      await rm(profile, {recursive: true, force: true});
    },
  };
}

/** A page of the admin web app, logged in as `username`. */
export async function loggedInPage(browser: Browser, server: ServerProcess, username: string, password: string): Promise<Page> {
  // The server's own CA is not in Chromium's store: the test trusts it for this context only.
  const context = await browser.newContext({ignoreHTTPSErrors: true});
  const page = await context.newPage();
  await page.goto(server.url);
  await page.getByLabel('User name').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', {name: 'Log in'}).click();
  await page.getByRole('heading', {name: 'Approvals'}).waitFor();
  expect(await page.getByRole('navigation', {name: 'Sections'}).textContent()).toContain('Fleet pins');
  return page;
}
