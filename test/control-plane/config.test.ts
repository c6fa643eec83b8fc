import {inspect} from 'node:util';

import {describe, expect, it} from 'vitest';

import {planControlPlane, type ControlPlaneEndpoint} from '../../src/control-plane/config.js';
import {ROUTES} from '../../src/control-plane/contract.js';
import {loadValidator} from '../../src/util/validators.js';
import {API_KEY, settingsFrom} from './fixtures.js';

async function plan(env: Record<string, string>) {
  return planControlPlane((await settingsFrom(env)).values);
}

describe('control-plane URLs and credentials from the settings', () => {
  it('nothing is configured without a tenant or a URL (nothing will be sent)', async () => {
    const none = await plan({THOTH_API_KEY: API_KEY, THOTH_GOVAPI_BEARER_TOKEN: 'bt_0123456789abcdef'});
    expect(none).toMatchObject({configured: false, enforcer: undefined, govapi: undefined, registerUrl: undefined});
  });

  it('derives the documented URLs from the tenant and the apex domain', async () => {
    expect(await plan({THOTH_TENANT_ID: 'acme', THOTH_API_KEY: API_KEY})).toMatchObject({
      configured: true,
      controlPlaneUrl: 'https://acme.atensecurity.com',
      enforcer: {url: 'https://enforce.acme.atensecurity.com'},
      govapi: {url: 'https://grid.acme.atensecurity.com'},
      registerUrl: 'https://grid.acme.atensecurity.com/v1/endpoints/register',
    });
    expect(await plan({THOTH_TENANT_ID: 'acme', THOTH_APEX_DOMAIN: 'aten.security', THOTH_API_KEY: API_KEY})).toMatchObject({
      enforcer: {url: 'https://enforce.acme.aten.security'},
      registerUrl: 'https://grid.acme.aten.security/v1/endpoints/register',
    });
  });

  it('explicit URLs override the derived ones (self-hosted, with a path prefix; the legacy THOTH_GOV_API_URL too)', async () => {
    const selfHosted = await plan({
      THOTH_TENANT_ID: 'acme',
      THOTH_ENFORCER_URL: 'https://cp.internal/thoth/enforce/',
      THOTH_GOV_API_URL: 'https://cp.internal/thoth',
      THOTH_API_KEY: API_KEY,
    });
    expect(selfHosted.enforcer?.url).toBe('https://cp.internal/thoth/enforce');
    expect(selfHosted.govapi?.url).toBe('https://cp.internal/thoth');
    expect(selfHosted.registerUrl).toBe('https://cp.internal/thoth/v1/endpoints/register');
    const urlOnly = await plan({THOTH_GOVAPI_URL: 'https://cp.internal', THOTH_API_KEY: API_KEY});
    expect(urlOnly).toMatchObject({configured: true, enforcer: undefined, tenantId: undefined, controlPlaneUrl: undefined});
  });

  it('authenticates the enforcer with the API key and GovAPI with its bearer token / API key header where given', async () => {
    const withKey = await plan({THOTH_TENANT_ID: 'acme', THOTH_API_KEY: API_KEY});
    const header = (endpoint: unknown, name: string) => (endpoint as ControlPlaneEndpoint).headers[name]?.reveal();
    expect(header(withKey.enforcer, 'authorization')).toBe(`Bearer ${API_KEY}`);
    expect(header(withKey.govapi, 'authorization')).toBe(`Bearer ${API_KEY}`);
    const govapiOwn = await plan({
      THOTH_TENANT_ID: 'acme',
      THOTH_API_KEY: API_KEY,
      THOTH_GOVAPI_BEARER_TOKEN: 'bt_0123456789abcdef',
      THOTH_GOVAPI_API_KEY: 'gk_0123456789abcdef',
    });
    expect(header(govapiOwn.govapi, 'authorization')).toBe('Bearer bt_0123456789abcdef');
    expect(header(govapiOwn.govapi, 'x-api-key')).toBe('gk_0123456789abcdef');
    expect(header(govapiOwn.enforcer, 'authorization')).toBe(`Bearer ${API_KEY}`);
    const headerOnly = await plan({THOTH_TENANT_ID: 'acme', THOTH_GOVAPI_API_KEY: 'gk_0123456789abcdef'});
    expect(headerOnly.enforcer).toMatchObject({problem: expect.stringContaining('no API key is configured')});
    expect(Object.keys((headerOnly.govapi as ControlPlaneEndpoint).headers)).toEqual(['x-api-key']);
    const nothing = await plan({THOTH_TENANT_ID: 'acme'});
    expect(nothing.govapi).toMatchObject({problem: expect.stringContaining('no credential is configured')});
  });

  it('credentials cannot leak through printing, interpolation, JSON or inspection', async () => {
    const secretPlan = await plan({
      THOTH_TENANT_ID: 'acme',
      THOTH_API_KEY: API_KEY,
      THOTH_GOVAPI_BEARER_TOKEN: 'bt_0123456789abcdef',
      THOTH_GOVAPI_API_KEY: 'gk_0123456789abcdef',
    });
    const header = (secretPlan.enforcer as ControlPlaneEndpoint).headers['authorization']!;
    for (const text of [JSON.stringify(secretPlan), inspect(secretPlan, {depth: 10}), `${header}`, String(header)]) {
      expect(text).not.toContain(API_KEY);
      expect(text).not.toContain('bt_0123456789abcdef');
      expect(text).not.toContain('gk_0123456789abcdef');
    }
    expect(JSON.stringify(secretPlan)).toContain('[secret]');
  });

  it('every route has request and response schemas, and the validators catch a broken body', async () => {
    for (const route of Object.values(ROUTES)) {
      const request = await loadValidator(route.request);
      const response = await loadValidator(route.response);
      expect(request({})).toBe(false);
      expect(response({})).toBe(false);
    }
    const enforce = await loadValidator('control-plane/enforce-response');
    expect(enforce({decision: 'allow', reason: 'ok', ruleId: 'r'})).toBe(true);
    expect(enforce({decision: 'allow', reason: 'ok', ruleId: 'r', approval: {id: 'a', holdToken: 'short'}})).toBe(false);
    expect(enforce({decision: 'permit', reason: 'ok', ruleId: 'r'})).toBe(false);
  });
});
