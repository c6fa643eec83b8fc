import {stat} from 'node:fs/promises';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {ExitCode} from '../../src/core/exit-codes.js';
import {prepareRunSettings} from '../../src/settings/for-run.js';
import {tempDir} from '../helpers/tmp.js';

describe('prepareRunSettings (what thoth run calls)', () => {
  it('bootstraps the profile and puts the run flags on top of the environment', async () => {
    const home = await tempDir();
    const {settings, warnings} = await prepareRunSettings(
      {tenantId: 'flag-tenant', enforcementMode: 'block', policy: 'policy.json'},
      {env: {THOTH_TENANT_ID: 'env-tenant'}, home, cwd: home, platform: 'linux', who: {uid: 501, username: 'alice'}},
    );
    expect((await stat(join(home, '.thoth', 'proxy_api_key.json'))).mode & 0o777).toBe(0o600);
    expect(settings.values).toMatchObject({
      tenantId: 'flag-tenant',
      enforcementMode: 'block',
      policyFile: join(home, 'policy.json'),
      requireNonRoot: true,
    });
    expect(settings.origins.tenantId).toEqual({source: 'flag', origin: '--tenant-id'});
    expect(warnings).toEqual([]);
  });

  it('fails closed: root in fleet use (SECURITY), an invalid setting (INVALID_INPUT)', async () => {
    const home = await tempDir();
    const io = {env: {}, home, platform: 'linux' as const};
    await expect(prepareRunSettings({tenantId: 'acme'}, {...io, who: {uid: 0, username: 'root'}})).rejects.toMatchObject({
      exitCode: ExitCode.SECURITY,
      code: 'RUN_AS_ROOT',
    });
    await expect(
      prepareRunSettings({}, {...io, env: {THOTH_REQUIRE_NON_ROOT: 'maybe'}, who: {uid: 501, username: 'alice'}}),
    ).rejects.toMatchObject({
      exitCode: ExitCode.INVALID_INPUT,
      message: 'invalid setting: THOTH_REQUIRE_NON_ROOT from THOTH_REQUIRE_NON_ROOT: must be true or false (got "maybe")',
    });
    const local = await prepareRunSettings({}, {...io, who: {uid: 0, username: 'root'}});
    expect(local.warnings).toEqual([expect.stringMatching(/^running as root: fine for a local try-out/)]);
  });

  it('leaves an invalid THOTH_AUDIT_* value to governance (which refuses every call), as the audit trail documents', async () => {
    const home = await tempDir();
    const io = {home, platform: 'linux' as const, who: {uid: 501, username: 'alice'}};
    const {settings} = await prepareRunSettings({}, {...io, env: {THOTH_AUDIT_FSYNC: 'sometimes'}});
    expect(settings.problems).toEqual(['THOTH_AUDIT_FSYNC from THOTH_AUDIT_FSYNC: must be batched or always (got "sometimes")']);
    await expect(prepareRunSettings({}, {...io, env: {THOTH_AUDIT_FSYNC: 'sometimes', THOTH_ENV: 'qa'}})).rejects.toMatchObject({
      message: 'invalid setting: THOTH_ENV from THOTH_ENV: must be one of dev, staging, prod (got "qa")',
    });
  });
});
