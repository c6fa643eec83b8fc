import {join} from 'node:path';

import {describe, expect, it} from 'vitest';

import {parseEnvelope, REPO_ROOT, runThoth} from '../helpers/cli.js';
import {MISBEHAVING_SERVER} from '../helpers/mcp.js';
import {RawSession} from '../helpers/raw-session.js';
import {tempDir} from '../helpers/tmp.js';

/**
 * What a new Node major can break without failing any functional test: thoth must run on the
 * Node that runs the tests (so that `npm run test:node-versions` really tests Node 22 and 24),
 * and Node itself must print nothing: no deprecation or experimental warning, no V8 flag it
 * rejects (bin/run.js sets one at run time). --pending-deprecation also reports the deprecations
 * that Node only documents so far, before a later major turns them on.
 */
const NODE_NOISE = /\(node:\d+\)|DeprecationWarning|ExperimentalWarning|unrecognized flag|Warning: /;
const NODE_OPTIONS = '--pending-deprecation';

describe(`thoth on this Node (${process.version})`, () => {
  it('the CLI under test runs on the Node that runs the tests', async () => {
    const version = await runThoth(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout).toContain(` node-${process.version}`);
  });

  it('thoth run: stdout carries only JSON-RPC messages, stderr no warning of Node or V8', async () => {
    const home = await tempDir();
    const dir = join(home, 'trail');
    const session = new RawSession(['--agent-id', 'm', '--audit-dir', dir], [process.execPath, MISBEHAVING_SERVER], {
      THOTH_HOME: home,
      NODE_OPTIONS,
    });
    await session.initialize();
    session.send({jsonrpc: '2.0', id: 1, method: 'tools/list'});
    expect(await session.nextJson()).toMatchObject({id: 1, result: {tools: expect.any(Array)}});
    session.send({jsonrpc: '2.0', id: 2, method: 'tools/call', params: {name: 'echo', arguments: {text: 'hi'}}});
    expect(await session.nextJson()).toMatchObject({id: 2, result: {content: [{type: 'text'}]}});
    session.closeStdin();
    expect((await session.exited).code).toBe(0);
    expect(session.stdoutLines.length).toBeGreaterThanOrEqual(3);
    for (const line of session.stdoutLines) expect(JSON.parse(line)).toMatchObject({jsonrpc: '2.0'});
    expect(session.stderr).not.toMatch(NODE_NOISE);

    // The oclif commands, on the trail that session left.
    const env = {THOTH_HOME: home, THOTH_REQUIRE_NON_ROOT: 'false', NODE_OPTIONS};
    const verify = await runThoth(['audit', 'verify', dir, '--json'], {env});
    expect(parseEnvelope<{status: string}>(verify.stdout).result?.status).toBe('intact');
    expect(verify.stderr).not.toMatch(NODE_NOISE);
    for (const args of [
      ['--help'],
      ['config', 'show', '--json'],
      ['policy', 'validate', join(REPO_ROOT, 'fixtures/policies/phi-intent.json'), '--json'],
    ]) {
      const result = await runThoth(args, {env});
      expect(result.code, `${args.join(' ')}\n${result.stderr}`).toBe(0);
      expect(result.stderr, args.join(' ')).not.toMatch(NODE_NOISE);
    }
  });
});
