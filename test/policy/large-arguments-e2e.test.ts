import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {invalidAuditEvents} from '../helpers/audit-schemas.js';
import {tempDir} from '../helpers/tmp.js';
import {compile, decideCall} from './policy-helpers.js';
import {callText, startSession} from './session.js';

/** Ordinary text with paths and shell-like punctuation among its words. */
function text(bytes: number): string {
  const sentence = 'Build log: compiled ~/work/src/index.ts and ./docs/notes.md (ok); next | step > done. ';
  return sentence.repeat(Math.ceil(bytes / sentence.length)).slice(0, bytes);
}

describe('transparency for large arguments', () => {
  it('max_argument_bytes defaults to the message bound: a 4 MB argument is decided on its merits', () => {
    const policy = compile({defaults: {mode: 'block', approved_scope: '*'}});
    expect(decideCall(policy, 'echo', {message: text(4 * 1024 * 1024)}).ruleId).toBe('scope:approved');
    // An explicit limit still applies.
    const limited = compile({defaults: {mode: 'block', approved_scope: '*', max_argument_bytes: 1024 * 1024}});
    expect(decideCall(limited, 'echo', {message: text(4 * 1024 * 1024)}).ruleId).toBe('limit:max_argument_bytes');
  });

  it('thoth run with default settings relays a 4 MB echo to server-everything and back', async () => {
    const home = await tempDir();
    const session = await startSession({home, flags: ['--agent-id', 'everything']});
    try {
      const message = text(4 * 1024 * 1024);
      const echoed = await callText(session.client, 'echo', {message});
      expect(echoed.length).toBe(`Echo: ${message}`.length);
      expect(echoed === `Echo: ${message}`).toBe(true);
    } finally {
      await session.close();
    }
    expect(await invalidAuditEvents(join(home, 'audit'))).toEqual([]);
  });
});
