import {describe, expect, it} from 'vitest';

import {
  envDrift,
  flagDrift,
  isThothProcessKey,
  launcherDrift,
  shownValue,
  type Installation,
  type InstallationFacts,
  type LauncherFacts,
} from '../../src/client-config/drift.js';
import {emptyRecord, type WrapRecord} from '../../src/client-config/wrap-record.js';
import type {Launcher} from '../../src/client-config/wrapped-command.js';

const record = (overrides: Partial<WrapRecord> = {}): WrapRecord => ({...emptyRecord(), ...overrides});

describe('envDrift: THOTH_* and thoth-process variables wrap-config did not write', () => {
  it.each<[string, Record<string, unknown>, WrapRecord | undefined, string[]]>([
    ['a clean entry', {GITHUB_TOKEN: 'ghp_x', PATH: '/usr/bin'}, undefined, []],
    [
      'the unwrap record itself',
      {THOTH_WRAP_ORIGINAL: '{"added":["THOTH_USER_ID"]}', THOTH_USER_ID: 'jane@acme.com'},
      record({added: ['THOTH_USER_ID']}),
      [],
    ],
    ['a label wrap-config replaced', {THOTH_FLEET_ID: 'laptops'}, record({replaced: {THOTH_FLEET_ID: 'old'}}), []],
    ['audit switched off', {THOTH_AUDIT: 'off'}, undefined, ['env THOTH_AUDIT=off was not written by wrap-config']],
    [
      'another policy',
      {THOTH_POLICY_FILE: '/tmp/allow-all.json'},
      record({added: ['THOTH_USER_ID']}),
      ['env THOTH_POLICY_FILE=/tmp/allow-all.json was not written by wrap-config'],
    ],
    [
      'a mode and a moved profile',
      {THOTH_ENFORCEMENT_MODE: 'observe', THOTH_HOME: '/tmp/p'},
      undefined,
      ['env THOTH_ENFORCEMENT_MODE=observe was not written by wrap-config', 'env THOTH_HOME=/tmp/p was not written by wrap-config'],
    ],
    [
      'a label wrap-config did not write',
      {THOTH_USER_ID: 'mallory'},
      undefined,
      ['env THOTH_USER_ID=mallory was not written by wrap-config'],
    ],
    [
      'a governance key listed in a forged record',
      {THOTH_AUDIT: 'off'},
      record({added: ['THOTH_AUDIT']}),
      [
        'env THOTH_AUDIT=off is not a variable wrap-config writes (it writes only THOTH_USER_ID, THOTH_FLEET_ID, THOTH_TENANT_ID, THOTH_ENV)',
      ],
    ],
    [
      'code loaded into node',
      {NODE_OPTIONS: '--require /tmp/x.js'},
      undefined,
      ['env NODE_OPTIONS="--require /tmp/x.js" was not written by wrap-config'],
    ],
    [
      'native code and TLS trust',
      {LD_PRELOAD: '/tmp/x.so', DYLD_INSERT_LIBRARIES: '/tmp/x.dylib', NODE_TLS_REJECT_UNAUTHORIZED: '0'},
      undefined,
      [
        'env LD_PRELOAD=/tmp/x.so was not written by wrap-config',
        'env DYLD_INSERT_LIBRARIES=/tmp/x.dylib was not written by wrap-config',
        // A name that merely looks like a credential is masked too: better one value too few in a report.
        'env NODE_TLS_REJECT_UNAUTHORIZED=<hidden> was not written by wrap-config',
      ],
    ],
    [
      'Windows spellings (case-insensitive names)',
      {ProgramData: 'C:\\fake', thoth_audit: 'off'},
      undefined,
      ['env ProgramData="C:\\\\fake" was not written by wrap-config', 'env thoth_audit=off was not written by wrap-config'],
    ],
    [
      'a secret, masked',
      {THOTH_API_KEY: 'sk-live-123', THOTH_GOVAPI_BEARER_TOKEN: 'tok'},
      undefined,
      [
        'env THOTH_API_KEY=<hidden> was not written by wrap-config',
        'env THOTH_GOVAPI_BEARER_TOKEN=<hidden> was not written by wrap-config',
      ],
    ],
  ])('%s', (_name, env, wrapRecord, expected) => {
    expect(envDrift(env, wrapRecord).map((finding) => finding.message)).toEqual(expected);
  });

  it('names the setting a variable tries to set (for the managed-wins report), aliases included', () => {
    expect(
      envDrift({THOTH_AUDIT: 'off', THOTH_GOV_API_URL: 'https://x.example', NODE_OPTIONS: 'x'}, undefined).map((f) => f.attempted),
    ).toEqual([
      {key: 'auditEnabled', name: 'THOTH_AUDIT', source: 'env', origin: 'THOTH_AUDIT'},
      {key: 'govapiUrl', name: 'THOTH_GOVAPI_URL', source: 'env', origin: 'THOTH_GOV_API_URL'},
      undefined,
    ]);
  });

  it("tells thoth-process keys from the server's own", () => {
    expect(['THOTH_X', 'thoth_x', 'NODE_OPTIONS', 'home', 'UserProfile', 'PROGRAMDATA'].every(isThothProcessKey)).toBe(true);
    expect(['PATH', 'GITHUB_TOKEN', 'NODE_ENV', 'APPDATA', 'MYTHOTH_X'].some(isThothProcessKey)).toBe(false);
  });
});

describe('flagDrift: `thoth run` flags wrap-config never writes', () => {
  it.each<[string, Array<{name: string; value?: string}>, string[]]>([
    [
      'the managed flags',
      [
        {name: 'agent-id', value: 'x'},
        {name: 'tenant-id', value: 'acme'},
        {name: 'enforcement-mode', value: 'block'},
        {name: 'session-intent', value: 'i'},
        {name: 'api-key', value: 'sk'},
      ],
      [],
    ],
    [
      'another policy',
      [
        {name: 'agent-id', value: 'x'},
        {name: 'policy', value: '/tmp/allow-all.json'},
      ],
      ['flag --policy /tmp/allow-all.json was not written by wrap-config'],
    ],
    [
      'the trail moved and filtering off',
      [{name: 'audit-dir', value: '/tmp/t'}, {name: 'no-filter-tools'}],
      ['flag --audit-dir /tmp/t was not written by wrap-config', 'flag --no-filter-tools was not written by wrap-config'],
    ],
    [
      'operational flags too',
      [
        {name: 'log-file', value: '/tmp/l'},
        {name: 'max-message-bytes', value: '1'},
        {name: 'shutdown-grace-ms', value: '9'},
      ],
      [
        'flag --log-file /tmp/l was not written by wrap-config',
        'flag --max-message-bytes 1 was not written by wrap-config',
        'flag --shutdown-grace-ms 9 was not written by wrap-config',
      ],
    ],
  ])('%s', (_name, flags, expected) => {
    expect(flagDrift(flags).map((finding) => finding.message)).toEqual(expected);
  });

  it('names the setting a flag tries to set', () => {
    expect(
      flagDrift([
        {name: 'policy', value: 'p'},
        {name: 'no-filter-tools'},
        {name: 'audit-dir', value: 'd'},
        {name: 'log-file', value: 'l'},
      ]).map((f) => f.attempted?.key),
    ).toEqual(['policyFile', 'filterTools', 'auditDir', 'logFile']);
  });
});

describe('launcherDrift: the command must be this installation', () => {
  const NODE = '/usr/local/bin/node';
  const SCRIPT = '/usr/local/lib/node_modules/thoth-mcp/bin/run.js';
  const installation: Installation = {launcher: {command: NODE, prefix: [SCRIPT]}, version: '0.1.0', thothBins: ['/opt/acme/thoth']};
  const own: InstallationFacts = {node: '/usr/local/Cellar/node/20.18.1/bin/node', script: SCRIPT, bins: ['/opt/acme/thoth']};
  const THIS = '(/usr/local/bin/node /usr/local/lib/node_modules/thoth-mcp/bin/run.js, thoth 0.1.0)';

  it.each<[string, Launcher, LauncherFacts, string[]]>([
    ['node + bin/run.js of this installation', {command: NODE, prefix: [SCRIPT]}, {command: own.node, prefix: [SCRIPT]}, []],
    [
      "a symlink to this bin/run.js (npm's /usr/local/bin/thoth)",
      {command: '/usr/local/bin/thoth', prefix: []},
      {command: SCRIPT, prefix: []},
      [],
    ],
    ['an executable named with --thoth-bin', {command: '/opt/acme/thoth', prefix: []}, {command: '/opt/acme/thoth', prefix: []}, []],
    [
      'a fake bin/run.js',
      {command: NODE, prefix: ['/tmp/x/bin/run.js']},
      {command: own.node, prefix: ['/tmp/x/bin/run.js']},
      [`runs /usr/local/bin/node /tmp/x/bin/run.js, not this installation ${THIS}`],
    ],
    [
      'another thoth install, with its version',
      {command: NODE, prefix: ['/opt/old/bin/run.js']},
      {command: own.node, prefix: ['/opt/old/bin/run.js'], install: {root: '/opt/old', version: '0.0.9'}},
      [`runs /usr/local/bin/node /opt/old/bin/run.js (thoth 0.0.9 in /opt/old), not this installation ${THIS}`],
    ],
    [
      'another node',
      {command: '/tmp/node', prefix: [SCRIPT]},
      {command: '/tmp/node', prefix: [SCRIPT]},
      [`runs /tmp/node ${SCRIPT}, not this installation ${THIS}`],
    ],
    [
      'node options before the script',
      {command: NODE, prefix: ['--require', '/tmp/x.js', SCRIPT]},
      {command: own.node, prefix: [undefined, '/tmp/x.js', SCRIPT]},
      [`runs /usr/local/bin/node --require /tmp/x.js ${SCRIPT}, not this installation ${THIS}`],
    ],
    [
      'a package runner',
      {command: 'npx', prefix: ['-y', 'thoth-mcp@9.9.9']},
      {command: '/usr/local/bin/npx', prefix: [undefined, undefined]},
      [`runs npx -y thoth-mcp@9.9.9, not this installation ${THIS}`],
    ],
    [
      'a thoth-named binary that is not declared',
      {command: '/tmp/thoth', prefix: []},
      {command: '/tmp/thoth', prefix: []},
      [`runs /tmp/thoth, not this installation ${THIS}`],
    ],
  ])('%s', (_name, launcher, facts, expected) => {
    expect(launcherDrift(launcher, facts, installation, own).map((finding) => finding.message)).toEqual(expected);
  });
});

describe('shownValue', () => {
  it.each([
    ['THOTH_AUDIT', 'off', 'off'],
    ['THOTH_API_KEY_FILE', '/x/key.json', '<hidden>'],
    ['GITHUB_PERSONAL_ACCESS_TOKEN', 'ghp', '<hidden>'],
    ['NODE_OPTIONS', '--require "x y"', '"--require \\"x y\\""'],
    ['THOTH_X', 'a\nb', '"a\\nb"'],
    ['THOTH_X', 'x'.repeat(200), `${'x'.repeat(79)}…`],
    ['THOTH_X', 5, '5'],
  ])('%s=%j → %s', (name, value, shown) => {
    expect(shownValue(name, value)).toBe(shown);
  });
});
