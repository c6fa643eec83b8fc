import {describe, expect, it} from 'vitest';

import type {EndpointIdentity} from '../../src/fleet/identity.js';
import {loadValidator} from '../../src/util/validators.js';
import {parseEnvelope, runThoth} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';

describe('thoth identity', () => {
  it('shows the id and the winning source; --json matches schemas/identity.schema.json', async () => {
    const env = {THOTH_HOME: await tempDir(), JAMF_COMPUTER_ID: '1042'};
    const text = await runThoth(['identity'], {env});
    expect(text.code).toBe(0);
    expect(text.stdout).toBe('1042\nsource: jamf (env: JAMF_COMPUTER_ID)\n');
    const json = await runThoth(['identity', '--json'], {env});
    const result = parseEnvelope<EndpointIdentity>(json.stdout).result!;
    expect(result).toEqual({endpointId: '1042', source: 'jamf', detail: 'env: JAMF_COMPUTER_ID', derived: false, skipped: []});
    const validate = await loadValidator('identity');
    expect(validate(result), JSON.stringify(validate.errors)).toBe(true);
  });

  it('on this Linux machine derives the id from the machine id and never prints the raw value', async () => {
    const run = await runThoth(['identity', '--json'], {env: {THOTH_HOME: await tempDir()}});
    const result = parseEnvelope<EndpointIdentity>(run.stdout).result!;
    const {readFile} = await import('node:fs/promises');
    const raw = await readFile('/etc/machine-id', 'utf8').then(
      (text) => text.trim(),
      () => undefined,
    );
    if (raw !== undefined && /^[0-9a-f]{32}$/.test(raw)) {
      expect(result).toMatchObject({source: 'machine-id', detail: '/etc/machine-id', derived: true});
      expect(run.stdout).not.toContain(raw);
    } else {
      expect(['machine-id', 'hostname']).toContain(result.source);
    }
  });
});
