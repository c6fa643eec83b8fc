import {describe, expect, it} from 'vitest';

import {neverAllowed, type ProtectedPaths} from '../../src/policy/engine.js';
import type {MatcherDocument, PolicyDocument} from '../../src/policy/model.js';
import {LargeNumber} from '../../src/core/json-rpc.js';
import {compile, decideCall} from './policy-helpers.js';

/** A filesystem-server policy, as a security team would write one. */
const FS_POLICY: PolicyDocument = {
  version: 'test-1',
  agents: {
    fs: {
      approved_scope: ['read_file', 'list_directory', 'read_multiple_files'],
      rules: [
        {
          id: 'read-in-workspace',
          tool: ['read_file', 'read_multiple_files'],
          args: {path: {path_within: '~/work'}, paths: {path_within: '~/work'}},
          decision: 'allow',
        },
        {id: 'writes-need-approval', tool: 'write_*', decision: 'step_up', reason: 'writes need a second pair of eyes'},
      ],
    },
  },
  rules: [
    {
      id: 'no-secrets',
      tool: '*',
      args: {'*': {path_glob: ['~/.ssh/**', '/etc/shadow']}},
      decision: 'block',
      reason: 'credential files are off limits',
    },
    {id: 'no-delete', tool: 'delete_*', decision: 'block'},
  ],
};

describe('rules: most restrictive match wins', () => {
  const policy = compile(FS_POLICY);

  it.each([
    // [tool, args, decision, ruleId]
    ['read_file', {path: '~/work/notes.md'}, 'allow', 'scope:approved'],
    ['read_file', {path: '/home/ann/work/../.ssh/id_rsa'}, 'block', 'rule:no-secrets'],
    ['read_file', {path: '~//.ssh/./id_rsa'}, 'block', 'rule:no-secrets'],
    ['read_file', {path: 'file:///home/ann/.ssh/id_rsa'}, 'block', 'rule:no-secrets'],
    ['read_file', {path: '../.ssh/config'}, 'block', 'rule:no-secrets'],
    ['list_directory', {path: '/etc/shadow'}, 'block', 'rule:no-secrets'],
    ['write_file', {path: '~/work/a.txt', content: 'x'}, 'step_up', 'rule:writes-need-approval'],
    // A write that also names a credential file: block beats step_up, whatever the order.
    ['write_file', {path: '~/.ssh/authorized_keys', content: 'ssh-rsa AAA'}, 'block', 'rule:no-secrets'],
    ['delete_file', {path: '~/work/a.txt'}, 'block', 'rule:no-delete'],
    ['move_file', {source: '~/work/a', destination: '~/work/b'}, 'block', 'mode:block'],
  ] as const)('%s %j → %s (%s)', (tool, args, decision, ruleId) => {
    const result = decideCall(policy, tool, args);
    expect(result.decision).toBe(decision);
    expect(result.ruleId).toBe(ruleId);
    expect(result.reason.length).toBeGreaterThan(10);
  });

  it('an allow rule does not shadow a later block rule (order-independent)', () => {
    const allowFirst = compile({
      rules: [
        {id: 'a', tool: 'x', decision: 'allow'},
        {id: 'b', tool: 'x', decision: 'block'},
      ],
    });
    const blockFirst = compile({
      rules: [
        {id: 'b', tool: 'x', decision: 'block'},
        {id: 'a', tool: 'x', decision: 'allow'},
      ],
    });
    expect(decideCall(allowFirst, 'x').ruleId).toBe('rule:b');
    expect(decideCall(blockFirst, 'x').ruleId).toBe('rule:b');
  });

  it('among equally restrictive matches the first gives the reason, agent rules before global ones', () => {
    const policy = compile({
      agents: {fs: {rules: [{id: 'agent-rule', tool: 'x', decision: 'step_up', reason: 'agent reason'}]}},
      rules: [{id: 'global-rule', tool: 'x', decision: 'step_up', reason: 'global reason'}],
    });
    const result = decideCall(policy, 'x');
    expect(result.ruleId).toBe('rule:agent-rule');
    expect(result.trace?.filter((line) => line.includes('matches'))).toHaveLength(2);
  });

  it('an explicit allow rule admits a tool outside the approved scope, only when its conditions hold', () => {
    const policy = compile({
      agents: {fs: {approved_scope: [], rules: [{id: 'tmp', tool: 'write_file', args: {path: {path_within: '/tmp'}}, decision: 'allow'}]}},
    });
    expect(decideCall(policy, 'write_file', {path: '/tmp/x'}).decision).toBe('allow');
    expect(decideCall(policy, 'write_file', {path: '/tmp/../etc/passwd'}).decision).toBe('block');
  });
});

describe('argument conditions', () => {
  const rule = (args: Record<string, MatcherDocument>, decision: 'allow' | 'block' = 'block', extra = {}) =>
    compile({rules: [{id: 'r', tool: 't', args, decision, ...extra}], agents: {fs: {approved_scope: ['t']}}});

  it.each([
    // [args condition, call arguments, rule matches]
    [{n: {min: 10, max: 20}}, {n: 15}, true],
    [{n: {min: 10, max: 20}}, {n: 21}, false],
    [{n: {min: 10}}, {n: '12'}, true],
    [{n: {max: 100}}, {n: ' 1e3 '}, false],
    [{n: {min: 1e16}}, {n: new LargeNumber('12345678901234567890')}, true],
    [{s: {glob: 'rm *'}}, {s: 'rm -rf /'}, true],
    [{s: {glob: '*.PDF', ignore_case: true}}, {s: 'report.pdf'}, true],
    [{s: {glob: '*.PDF'}}, {s: 'report.pdf'}, false],
    [{s: {regex: '^DROP\\s+TABLE', ignore_case: true}}, {s: 'drop  table users'}, true],
    [{s: {regex: ['^a$', '^b$']}}, {s: 'b'}, true],
    [{s: {equals: {k: [1, 2]}}}, {s: {k: [1, 2]}}, true],
    [{s: {one_of: ['dev', 'staging']}}, {s: 'prod'}, false],
    [{s: {max_length: 3}}, {s: 'abcd'}, false],
    [{s: {max_length: 3}}, {s: 'abc'}, true],
    [{'/options/target': {equals: 'prod'}}, {options: {target: 'prod'}}, true],
    [{'/options/target': {equals: 'prod'}}, {options: {}}, false],
    [{'/list/1': {equals: 'b'}}, {list: ['a', 'b']}, true],
    [{s: {present: false}}, {}, true],
    [{s: {present: false}}, {s: 1}, false],
    [{s: {present: true}}, {s: 1}, true],
    [{s: {equals: 1}}, {}, false],
    [{s: {not: {glob: 'safe-*'}}}, {s: 'danger'}, true],
    [{s: {not: {glob: 'safe-*'}}}, {s: 'safe-1'}, false],
    [{'*': {regex: 'secret'}}, {a: {b: ['x', 'top secret']}}, true],
    [{'*': {regex: 'secret'}}, {a: 1}, false],
    // Keys read from JSON are own properties, never the prototype.
    [JSON.parse('{"__proto__": {"equals": 1}}'), {}, false],
    [JSON.parse('{"__proto__": {"equals": 1}}'), JSON.parse('{"__proto__": 1}'), true],
    [{constructor: {present: true}}, {}, false],
  ])('block rule %j on %j matches: %s', (args, callArgs, matches) => {
    const result = decideCall(rule(args as never), 't', callArgs);
    expect(result.decision).toBe(matches ? 'block' : 'allow');
  });

  it('an array argument: any element triggers a block rule, every element must satisfy an allow rule', () => {
    const block = rule({paths: {path_glob: '/etc/**'}});
    expect(decideCall(block, 't', {paths: ['/home/ann/a', '/etc/passwd']}).decision).toBe('block');
    expect(decideCall(block, 't', {paths: ['/home/ann/a', '/home/ann/b']}).decision).toBe('allow');

    const allow = compile({agents: {fs: {rules: [{id: 'ws', tool: 't', args: {paths: {path_within: '~/work'}}, decision: 'allow'}]}}});
    expect(decideCall(allow, 't', {paths: ['~/work/a', '~/work/b']}).decision).toBe('allow');
    expect(decideCall(allow, 't', {paths: ['~/work/a', '/etc/passwd']}).decision).toBe('block');
  });

  it('"match" overrides the quantifier', () => {
    const allOf = rule({paths: {path_glob: '/etc/**'}}, 'block', {match: 'all'});
    expect(decideCall(allOf, 't', {paths: ['/home/ann/a', '/etc/passwd']}).decision).toBe('allow');
    expect(decideCall(allOf, 't', {paths: ['/etc/hosts', '/etc/passwd']}).decision).toBe('block');
  });

  it('values that cannot be interpreted resolve in the restrictive direction', () => {
    const block = rule({path: {path_glob: '/etc/**'}});
    expect(decideCall(block, 't', {path: '/etc/\u0000passwd'}).decision).toBe('block');
    expect(decideCall(block, 't', {path: 42}).decision).toBe('block');
    expect(decideCall(rule({n: {min: 5}}), 't', {n: 'lots'}).decision).toBe('block');

    const allow = compile({agents: {fs: {rules: [{id: 'ws', tool: 't', args: {path: {path_within: '~/work'}}, decision: 'allow'}]}}});
    expect(decideCall(allow, 't', {path: '~/work/\u0000x'}).decision).toBe('block');
    expect(decideCall(allow, 't', {path: '~root/work'}).decision).toBe('block');
    expect(decideCall(allow, 't', {path: ['~/work/ok', {nested: true}]}).decision).toBe('block');
  });

  it('case-insensitive file systems: a rule for ~/.ssh also catches ~/.SSH', () => {
    const doc: PolicyDocument = {
      rules: [{id: 'ssh', tool: '*', args: {path: {path_glob: '~/.ssh/**'}}, decision: 'block'}],
      agents: {fs: {approved_scope: '*'}},
    };
    const linux = compile(doc, {home: '/home/ann', cwd: '/', flavour: 'posix', caseInsensitive: false});
    const mac = compile(doc, {home: '/Users/ann', cwd: '/', flavour: 'posix', caseInsensitive: true});
    const windows = compile(doc, {home: 'C:\\Users\\ann', cwd: 'C:\\', flavour: 'win32', caseInsensitive: true});
    expect(decideCall(linux, 'read', {path: '/home/ann/.SSH/id_rsa'}).decision).toBe('allow');
    expect(decideCall(mac, 'read', {path: '/Users/ANN/.SSH/id_rsa'}).decision).toBe('block');
    expect(decideCall(windows, 'read', {path: 'C:\\USERS\\ann\\.Ssh\\id_rsa'}).decision).toBe('block');
    expect(decideCall(windows, 'read', {path: 'c:/users/ann/.ssh./id_rsa'}).decision).toBe('block');
  });

  it('tool_regex narrows the tool pattern', () => {
    const policy = compile({
      rules: [{id: 'sql', tool_regex: '^(execute|run)_sql$', decision: 'block'}],
      agents: {fs: {approved_scope: '*'}},
    });
    expect(decideCall(policy, 'execute_sql').decision).toBe('block');
    expect(decideCall(policy, 'execute_sqlx').decision).toBe('allow');
  });
});

describe('intent, size and thoth files come before rules', () => {
  const policy = compile({
    intents: {phi_eligibility_check: {description: 'eligibility only', tools: ['check_eligibility', 'lookup_*']}},
    agents: {phi: {approved_scope: '*', max_argument_bytes: 64}},
    rules: [{id: 'allow-all', tool: '*', decision: 'allow'}],
  });

  it('a tool outside the intent is never allowed, even by an allow rule or in step_up mode', () => {
    for (const mode of ['block', 'step_up', 'progressive'] as const) {
      const result = decideCall(policy, 'export_records', {}, {agentId: 'phi', mode, intent: 'phi_eligibility_check'});
      expect(result.decision).toBe('block');
      expect(result.ruleId).toBe('intent:phi_eligibility_check');
      expect(result.reason).toContain('minimum necessary');
    }
    expect(decideCall(policy, 'lookup_member', {}, {agentId: 'phi', intent: 'phi_eligibility_check'}).decision).toBe('allow');
  });

  it('an intent the policy does not define allows nothing', () => {
    const result = decideCall(policy, 'check_eligibility', {}, {agentId: 'phi', intent: 'marketing'});
    expect(result).toMatchObject({decision: 'block', ruleId: 'intent:undefined'});
  });

  it('arguments over max_argument_bytes are blocked', () => {
    const result = decideCall(policy, 'lookup_member', {note: 'x'.repeat(100)}, {agentId: 'phi', intent: 'phi_eligibility_check'});
    expect(result).toMatchObject({decision: 'block', ruleId: 'limit:max_argument_bytes'});
  });

  it('max_argument_bytes counts UTF-8 bytes, not characters, at the boundary', () => {
    // {"note":"…"} is 11 bytes around the note: 53 more bytes fit in 64.
    const at = (note: string) => decideCall(policy, 'lookup_member', {note}, {agentId: 'phi', intent: 'phi_eligibility_check'});
    expect(at('x'.repeat(53)).decision).toBe('allow');
    expect(at('x'.repeat(54)).ruleId).toBe('limit:max_argument_bytes');
    // 27 characters of 2 bytes (54 bytes) go over; 26 (52 bytes) do not; 13 of 4 bytes (surrogate pairs) take 52.
    expect(at('é'.repeat(27)).ruleId).toBe('limit:max_argument_bytes');
    expect(at('é'.repeat(26)).decision).toBe('allow');
    expect(at('😀'.repeat(13)).decision).toBe('allow');
    expect(at('😀'.repeat(14)).ruleId).toBe('limit:max_argument_bytes');
    // Three bytes each: 17 characters are 51 bytes, 18 are 54.
    expect(at('€'.repeat(17)).decision).toBe('allow');
    expect(at('€'.repeat(18)).ruleId).toBe('limit:max_argument_bytes');
  });

  it("arguments naming thoth's own files are blocked", () => {
    const protectedPaths: ProtectedPaths = {
      directories: ['/home/ann/.thoth'],
      files: ['/etc/test-policy.json'],
      tokens: ['.thoth', 'test-policy.json'],
    };
    const hooks = {protectedPaths};
    expect(decideCall(policy, 'lookup_member', {path: '~/.thoth/approvals.json'}, {agentId: 'phi', hooks}).ruleId).toBe(
      'builtin:protect-thoth-files',
    );
    expect(decideCall(policy, 'lookup_member', {path: '/home/ann/work/../.THOTH/x'}, {agentId: 'phi', hooks}).decision).toBe('allow');
    expect(decideCall(policy, 'lookup_member', {p: 'file:///home/ann/%2Ethoth/pins'}, {agentId: 'phi', hooks}).ruleId).toBe(
      'builtin:protect-thoth-files',
    );
    expect(decideCall(policy, 'lookup_member', {p: '/etc//test-policy.json'}, {agentId: 'phi', hooks}).ruleId).toBe(
      'builtin:protect-thoth-files',
    );
    expect(decideCall(policy, 'lookup_member', {message: 'what is in ~/.thoth?'}, {agentId: 'phi', hooks}).decision).toBe('allow');
  });

  it('a changed pin blocks before anything else', () => {
    const result = decideCall(policy, 'lookup_member', {}, {agentId: 'phi', hooks: {pinProblem: () => 'changed'}});
    expect(result.ruleId).toBe('pin:changed');
    expect(result.reason).toContain('thoth pins accept --agent-id phi --tool lookup_member');
  });
});

describe('modes for calls no rule decided', () => {
  const policy = compile({agents: {fs: {approved_scope: ['read_file']}, bare: {}}});

  it.each([
    ['block', 'read_file', 'allow', 'scope:approved'],
    ['block', 'write_file', 'block', 'mode:block'],
    ['step_up', 'write_file', 'step_up', 'mode:step_up'],
    ['step_up', 'read_file', 'allow', 'scope:approved'],
  ] as const)('%s mode: %s → %s', (mode, tool, decision, ruleId) => {
    expect(decideCall(policy, tool, {}, {mode})).toMatchObject({decision, ruleId});
  });

  it('the trace names the agent id of each call, also for agents the policy does not name (they share one compiled agent)', () => {
    for (const agentId of ['first-unnamed', 'second-unnamed', 'first-unnamed', 'bare']) {
      const trace = decideCall(policy, 'read_file', {}, {agentId, mode: 'block'}).trace;
      expect((trace ?? []).filter((line) => line.startsWith('scope:'))).toEqual([`scope: agent "${agentId}" has no approved scope`]);
    }
  });

  it('an agent without approved scope has nothing pre-approved', () => {
    expect(decideCall(policy, 'read_file', {}, {agentId: 'bare', mode: 'block'}).reason).toContain('has no approved scope');
  });

  it('observe allows everything and records what block mode would have done', () => {
    const blocked = decideCall(policy, 'write_file', {}, {mode: 'observe'});
    expect(blocked).toMatchObject({decision: 'allow', observed: 'block', ruleId: 'mode:block'});
    expect(blocked.reason).toMatch(/^observe mode: allowed, but block mode would have refused it/);
    const intent = decideCall(compile({intents: {x: {tools: 'a'}}}), 'b', {}, {mode: 'observe', intent: 'x'});
    expect(intent).toMatchObject({decision: 'allow', observed: 'block', ruleId: 'intent:x'});
    expect(decideCall(policy, 'read_file', {}, {mode: 'observe'})).toMatchObject({decision: 'allow', observed: 'allow'});
  });

  it('every decision carries a trace that ends with the outcome', () => {
    const result = decideCall(policy, 'write_file', {}, {mode: 'step_up'});
    expect(result.trace?.[0]).toContain('/etc/test-policy.json');
    expect(result.trace?.at(-1)).toBe('→ step_up (mode:step_up)');
  });
});

describe('neverAllowed (tools/list filtering)', () => {
  const policy = compile({
    intents: {read_only: {tools: ['read_*', 'list_*']}},
    agents: {
      fs: {
        approved_scope: ['read_file'],
        rules: [{id: 'tmp-writes', tool: 'write_file', args: {path: {path_within: '/tmp'}}, decision: 'allow'}],
      },
    },
    rules: [
      {id: 'never-exec', tool: 'exec*', decision: 'block'},
      {id: 'sometimes', tool: 'rm', args: {force: {equals: true}}, decision: 'block'},
    ],
  });

  it.each([
    // [mode, intent, tool, hidden]
    ['block', undefined, 'read_file', false],
    ['block', undefined, 'list_directory', true],
    ['block', undefined, 'write_file', false],
    ['block', undefined, 'exec_command', true],
    ['step_up', undefined, 'list_directory', false],
    ['step_up', undefined, 'exec_command', true],
    ['progressive', undefined, 'rm', false],
    ['step_up', 'read_only', 'write_file', true],
    ['step_up', 'read_only', 'list_directory', false],
    ['observe', 'read_only', 'write_file', false],
    ['observe', undefined, 'exec_command', false],
  ] as const)('%s mode, intent %s: %s hidden = %s', (mode, intent, tool, hidden) => {
    expect(neverAllowed(policy, 'fs', mode, intent, tool) !== undefined).toBe(hidden);
  });

  it('what is hidden is also refused when called', () => {
    for (const tool of ['list_directory', 'exec_command']) expect(decideCall(policy, tool, {}, {mode: 'block'}).decision).toBe('block');
    expect(decideCall(policy, 'write_file', {path: '~/x'}, {mode: 'step_up', intent: 'read_only'}).decision).toBe('block');
  });
});

describe("thoth's own files and approval commands (as thoth run protects them)", () => {
  it('blocks paths into the profile or the policy, and shell commands that mention them or approve calls', async () => {
    const {protectedPaths} = await import('../../src/policy/session.js');
    const policy = compile({agents: {sh: {approved_scope: '*'}}});
    const hooks = {protectedPaths: protectedPaths(policy, '/home/ann/.thoth', '/home/ann')};
    const verdict = (args: unknown) => decideCall(policy, 'run_command', args, {agentId: 'sh', hooks}).ruleId;
    expect(verdict({command: 'cat ~/.thoth/approvals.json'})).toBe('builtin:protect-thoth-files');
    expect(verdict({command: 'cp x /home/ann/.thoth/policy.json && echo ok'})).toBe('builtin:protect-thoth-files');
    expect(verdict({command: 'cat "/HOME/ann/.thoth"'})).toBe('builtin:protect-thoth-files');
    expect(verdict({command: 'thoth approve k3m9x2q7ta'})).toBe('builtin:protect-thoth-files');
    expect(verdict({command: 'npx thoth  pins accept --agent-id fs --all'})).toBe('builtin:protect-thoth-files');
    expect(verdict({command: '"/usr/local/bin/node" "/opt/thoth/bin/run.js" approve k3m9x2q7ta'})).toBe('builtin:protect-thoth-files');
    expect(verdict({script: `${'x'.repeat(100_000)}\nthoth deny abc`})).toBe('builtin:protect-thoth-files');
    expect(verdict({path: '/etc/test-policy.json'})).toBe('builtin:protect-thoth-files');
    expect(verdict({command: 'ls ~/.thothful'})).toBe('scope:approved');
    expect(verdict({command: 'thoth status'})).toBe('scope:approved');
    expect(verdict({text: 'I will ask you to approve it'})).toBe('scope:approved');
    const reason = decideCall(policy, 'run_command', {script: `thoth approve x ${'y'.repeat(500)}`}, {agentId: 'sh', hooks}).reason;
    expect(reason.length).toBeLessThan(400);
  });

  it('also protects the audit directory and key when the settings put them outside the profile (whoever reads the key can seal a grant)', async () => {
    const {protectedPaths} = await import('../../src/policy/protected-paths.js');
    const policy = compile({agents: {fs: {approved_scope: '*'}}});
    const own = {directories: ['/var/log/thoth-audit'], files: ['/srv/keys/thoth-hmac.json']};
    const verdict = (args: unknown, withOwn = true) =>
      decideCall(policy, 'read_file', args, {
        agentId: 'fs',
        hooks: {protectedPaths: protectedPaths(policy, '/home/ann/.thoth', '/home/ann', withOwn ? own : {})},
      }).ruleId;
    expect(verdict({path: '/srv/keys/thoth-hmac.json'})).toBe('builtin:protect-thoth-files');
    expect(verdict({path: '/var/log/thoth-audit/registry.jsonl'})).toBe('builtin:protect-thoth-files');
    expect(verdict({command: 'cat /srv/keys/thoth-hmac.json'})).toBe('builtin:protect-thoth-files');
    expect(verdict({path: '/srv/keys/other.json'})).toBe('scope:approved');
    // Without them (before this change) the key was an ordinary file.
    expect(verdict({path: '/srv/keys/thoth-hmac.json'}, false)).toBe('scope:approved');
  });
});
