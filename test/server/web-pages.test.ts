import {mkdtemp, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {runThoth} from '../helpers/cli.js';
import {admin, call, createTenant, startServerProcess, type ServerProcess} from './helpers.js';

/** Logs in through the login form: the session cookie, and the CSRF token the pages embed in their forms. */
async function formLogin(server: ServerProcess, username: string, password: string): Promise<{cookie: string; csrf: string}> {
  const answer = await call(server, 'POST', '/ui/login', {
    raw: new URLSearchParams({username, password}).toString(),
    headers: {'content-type': 'application/x-www-form-urlencoded'},
    redirect: 'manual',
  });
  expect(answer.status).toBe(303);
  const cookie = answer.headers.get('set-cookie')!.split(';')[0]!;
  const home = await call(server, 'GET', '/', {headers: {cookie}});
  return {cookie, csrf: /name="_csrf" value="([^"]+)"/.exec(home.text)![1]!};
}

function form(session: {cookie: string}, fields: Record<string, string>) {
  return {
    raw: new URLSearchParams(fields).toString(),
    headers: {cookie: session.cookie, 'content-type': 'application/x-www-form-urlencoded'},
    redirect: 'manual' as const,
  };
}

async function enroll(server: ServerProcess, apiKey: string, endpointId: string, hostname: string, version: string, drift: number) {
  const headers = {authorization: `Bearer ${apiKey}`};
  const governedServers = {governed: 2, notGoverned: 0, drift, ungovernable: 0, clients: 1};
  const registered = await call(server, 'POST', '/v1/endpoints/register', {
    headers,
    body: {
      endpointId,
      identitySource: 'endpoint-id',
      tenantId: 'acme',
      fleetId: null,
      hostname,
      os: {platform: 'linux', release: '6.1', arch: 'x64'},
      thothVersion: version,
      enrollmentSource: 'manual',
      userId: null,
      governedServers,
      sentAt: new Date().toISOString(),
    },
  });
  expect(registered.status).toBe(200);
  const checked = await call(server, 'POST', '/v1/endpoints/checkin', {
    headers,
    body: {
      endpointId,
      tenantId: 'acme',
      fleetId: null,
      thothVersion: version,
      sequence: 1,
      sentAt: new Date().toISOString(),
      governedServers,
    },
  });
  expect(checked.status).toBe(200);
}

const rowsOf = (html: string) => [...html.matchAll(/<tr data-endpoint-id="([^"]+)"/g)].map((match) => match[1]);

describe('the admin web app pages (server-rendered, over HTTPS)', () => {
  let dataDir: string;
  let server: ServerProcess;
  let apiKey: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'thoth-server-'));
    server = await startServerProcess(dataDir);
    apiKey = (await createTenant(server, 'acme')).apiKey;
    for (const [user, role] of [
      ['ada', 'admin'],
      ['vic', 'viewer'],
    ]) {
      const made = await runThoth(['server', 'user', 'create', user!, '--role', role!, '--data-dir', dataDir], {
        input: `${user}-correct-horse\n`,
      });
      expect(made.code, made.stderr).toBe(0);
    }
  });
  afterAll(async () => {
    await server.stop();
    await rm(dataDir, {recursive: true, force: true});
  });

  it('the fleet page lists the endpoints, escapes what they report, and filters drift and old versions', async () => {
    await enroll(server, apiKey, 'ep-old', '<script>alert(1)</script>', '0.1.0', 0);
    await enroll(server, apiKey, 'ep-drift', 'laptop-2', '0.2.0', 3);
    const vic = await formLogin(server, 'vic', 'vic-correct-horse');
    const all = await call(server, 'GET', '/ui/fleet', {headers: {cookie: vic.cookie}});
    expect(all.status).toBe(200);
    expect(all.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(rowsOf(all.text).sort()).toEqual(['ep-drift', 'ep-old']);
    expect(all.text).not.toContain('<script>alert(1)');
    expect(all.text).toContain('&#60;script&#62;alert(1)');
    expect(all.text).toMatch(/<label for="filter">Show<\/label><select id="filter" name="filter">/);
    const filtered = async (filter: string) =>
      rowsOf((await call(server, 'GET', `/ui/fleet?filter=${filter}`, {headers: {cookie: vic.cookie}})).text);
    expect(await filtered('old-version')).toEqual(['ep-old']);
    expect(await filtered('drift')).toEqual(['ep-drift']);
    expect(await filtered('stale')).toEqual([]);
    // Without a session: the login page, not the fleet.
    expect(rowsOf((await call(server, 'GET', '/ui/fleet')).text)).toEqual([]);
  });

  it('the policy page uploads a new version for an admin, refuses an invalid one with the validator errors, and offers no upload to a viewer', async () => {
    const ada = await formLogin(server, 'ada', 'ada-correct-horse');
    const invalid = await call(
      server,
      'POST',
      '/ui/policy?tenant=acme',
      form(ada, {_csrf: ada.csrf, source: '{"version": "x", "rules": [{"id": "r", "decision": "maybe"}]}'}),
    );
    expect(invalid.status).toBe(400);
    expect(invalid.text).toMatch(/role="alert"[^>]*><p>The policy is not valid; nothing changed/);
    expect(invalid.text).toContain('maybe');
    const withoutCsrf = await call(server, 'POST', '/ui/policy?tenant=acme', form(ada, {source: '{"version": "web-1", "rules": []}'}));
    expect([withoutCsrf.status, withoutCsrf.body?.error?.code]).toEqual([403, 'FORBIDDEN']);
    expect((await admin(server, 'GET', '/tenants/acme/policy')).body.current).toBeNull();

    const uploaded = await call(
      server,
      'POST',
      '/ui/policy?tenant=acme',
      form(ada, {_csrf: ada.csrf, source: '{"version": "web-1", "rules": []}'}),
    );
    expect(uploaded.status).toBe(303);
    const shown = await call(server, 'GET', uploaded.headers.get('location')!, {headers: {cookie: ada.cookie}});
    expect(shown.text).toMatch(/role="status"[^>]*>Uploaded version web-1@sha256:/);
    expect((await admin(server, 'GET', '/tenants/acme/policy')).body.current).toMatchObject({
      version: expect.stringMatching(/^web-1@/),
      uploadedBy: 'ada',
    });

    const vic = await formLogin(server, 'vic', 'vic-correct-horse');
    const asViewer = await call(server, 'GET', '/ui/policy?tenant=acme', {headers: {cookie: vic.cookie}});
    expect(asViewer.text).toContain('web-1@sha256:');
    expect(asViewer.text).not.toContain('<textarea');
    const refused = await call(server, 'POST', '/ui/policy?tenant=acme', form(vic, {_csrf: vic.csrf, source: '{"rules": []}'}));
    expect(refused.status).toBe(403);
    const log = (await admin(server, 'GET', '/audit')).body.entries as Array<{actor: string; action: string; outcome: string}>;
    expect(log.filter((entry) => entry.action === 'policy.upload').map((entry) => [entry.actor, entry.outcome])).toEqual(
      expect.arrayContaining([
        ['ada', 'ok'],
        ['ada', 'failed'],
        ['ada', 'refused'],
        ['vic', 'refused'],
      ]),
    );
  });

  it('the events page searches with labelled fields and links the exports with the same filters; the pins page offers decisions to admins only', async () => {
    const vic = await formLogin(server, 'vic', 'vic-correct-horse');
    const events = await call(server, 'GET', '/ui/events?type=TOOL_CALL_PRE&q=owl', {headers: {cookie: vic.cookie}});
    expect(events.status).toBe(200);
    expect(events.text).toContain('<label for="f-type">Event type</label><input id="f-type" name="type" value="TOOL_CALL_PRE">');
    expect(events.text).toContain('href="/api/admin/v1/events?type=TOOL_CALL_PRE&#38;q=owl&#38;format=ocsf&#38;limit=10000"');
    const exported = await call(server, 'GET', '/api/admin/v1/events?type=TOOL_CALL_PRE&format=jsonl', {headers: {cookie: vic.cookie}});
    expect(exported.status).toBe(200);
    const pins = await call(server, 'GET', '/ui/pins', {headers: {cookie: vic.cookie}});
    expect(pins.text).toContain('No changed tool definition is waiting.');
    const decided = await call(server, 'POST', '/ui/pins/pin_nope/decision', form(vic, {_csrf: vic.csrf, decision: 'approve'}));
    expect([decided.status, decided.body?.error?.code]).toEqual([403, 'FORBIDDEN']);
  });
});
