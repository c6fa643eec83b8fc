import {readdirSync} from 'node:fs';
import {join} from 'node:path';

import fc from 'fast-check';
import {parse} from 'jsonc-parser';
import {describe, expect, it} from 'vitest';

import type {ClientId} from '../../src/config/clients/index.js';
import type {WrapSettings} from '../../src/config/entry-edit.js';
import {parseCommand, isThothName} from '../../src/config/wrapped-command.js';
import {FIXTURES, fixture, settings, text, unwrap, wrap} from './helpers.js';

/**
 * The two laws of the config engine, on every fixture and on hundreds of generated configs in
 * many layouts: wrapping twice changes nothing the second time (byte for byte), and unwrapping a
 * wrapped file gives back the original bytes.
 */

const SETTINGS = settings({tenantId: 'acme', enforcementMode: 'block', env: {THOTH_USER_ID: 'jane@acme.com', API_KEY: 'thoth-managed'}});
const CLIENTS: ClientId[] = ['claude-desktop', 'claude-code', 'cursor', 'vscode', 'windsurf'];

describe('laws on every fixture', () => {
  for (const client of CLIENTS) {
    for (const name of readdirSync(join(FIXTURES, client)).sort()) {
      it(`${client}/${name}`, async () => {
        const original = fixture(`${client}/${name}`);
        let once;
        try {
          once = await wrap(client, original, SETTINGS);
        } catch {
          return; // invalid fixtures: covered by the golden error messages and the CLI tests
        }
        const twice = await wrap(client, once.bytes, SETTINGS);
        expect(twice.changed).toBe(false);
        expect(Buffer.from(twice.bytes).equals(Buffer.from(once.bytes))).toBe(true);
        const back = await unwrap(client, once.bytes);
        if (!/wrapped/.test(name)) expect(text(back.bytes)).toBe(text(original));
      });
    }
  }
});

// ---- generated configs ------------------------------------------------------------------------

interface Style {
  indent: string; // '' = everything on one line
  eol: '\n' | '\r\n';
  inlineArrays: boolean;
  colon: string;
  bom: boolean;
  finalNewline: boolean;
  comments: boolean; // JSONC only
  trailingCommas: boolean; // JSONC only
  lineComments: boolean; // JSONC only: `// note` at the end of every member's line
}

type Json = string | number | boolean | null | Json[] | {[key: string]: Json};

/** Serialises with a given layout; key order is the object's own order. */
function serialise(value: Json, style: Style, depth = 0, inArray = false): string {
  const pad = (level: number) => (style.indent === '' ? '' : `${style.eol}${style.indent.repeat(level)}`);
  const note = style.lineComments && style.indent !== '' ? ' // note' : '';
  const comma = style.indent === '' ? ', ' : `,${note}`;
  const trailing = style.trailingCommas ? `,${note}` : note;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    if (style.inlineArrays || style.indent === '') return `[${value.map((v) => serialise(v, style, depth + 1, true)).join(', ')}]`;
    return `[${value.map((v) => `${pad(depth + 1)}${serialise(v, style, depth + 1, true)}`).join(comma)}${trailing}${pad(depth)}]`;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 0) return '{}';
    const comment = style.comments && style.indent !== '' && !inArray ? `// level ${depth + 1}${pad(depth + 1)}` : '';
    const members = entries.map(([k, v]) => `${pad(depth + 1)}${JSON.stringify(k)}${style.colon}${serialise(v, style, depth + 1)}`);
    if (comment) members[0] = `${pad(depth + 1)}${comment}${members[0]!.slice(pad(depth + 1).length)}`;
    return `{${members.join(comma)}${trailing}${pad(depth)}}`;
  }
  return JSON.stringify(value);
}

const styleArb = (jsonc: boolean): fc.Arbitrary<Style> =>
  fc.record({
    indent: fc.constantFrom('  ', '    ', '\t', ''),
    eol: fc.constantFrom('\n' as const, '\r\n' as const),
    inlineArrays: fc.boolean(),
    colon: fc.constantFrom(': ', ':'),
    bom: fc.boolean(),
    finalNewline: fc.boolean(),
    comments: jsonc ? fc.boolean() : fc.constant(false),
    trailingCommas: jsonc ? fc.boolean() : fc.constant(false),
    lineComments: jsonc ? fc.boolean() : fc.constant(false),
  });

const nameArb = fc.oneof(
  fc.stringMatching(/^[a-z][a-z0-9_-]{0,11}$/),
  fc.string({minLength: 1, maxLength: 8}),
  fc.constantFrom('-dash-first', 'a/b~c', 'ü-ñ', 'run', '--', 'constructor', 'valueOf', 'hasOwnProperty'),
);
const commandArb = fc
  .oneof(
    fc.constantFrom('npx', 'npx.cmd', 'uvx', 'node', 'docker', 'python3', 'C:\\Program Files\\nodejs\\npx.cmd', '/Users/jane/.local/bin/uvx', '${HOME}/bin/x'),
    fc.string({minLength: 1, maxLength: 12}),
  )
  .filter((command) => !isThothName(command));
const argArb = fc.oneof(fc.constantFrom('-y', '--', 'run', '--agent-id', '@modelcontextprotocol/server-memory', '${input:key}', 'C:\\Users\\jane'), fc.string({maxLength: 10}));
const envKeyArb = fc.constantFrom('API_KEY', 'THOTH_USER_ID', 'THOTH_TENANT_ID', 'PATH', 'TOKEN', 'A_B', 'toString', 'constructor');

const stdioEntryArb = fc
  .record(
    {
      command: commandArb,
      args: fc.array(argArb, {maxLength: 6}),
      env: fc.dictionary(envKeyArb, fc.string({maxLength: 8}), {maxKeys: 4}),
      cwd: fc.string({maxLength: 6}),
      extensionId: fc.constant('ant.dir.example'),
    },
    {requiredKeys: ['command']},
  )
  // An entry already in the wrapped form *is* wrapped (that is how thoth recognises its own and
  // hand-made wraps): the laws are about configs thoth has not wrapped yet.
  .filter((entry) => parseCommand(entry.command, entry.args ?? []).kind === 'plain')
  .chain((entry) => fc.shuffledSubarray(Object.keys(entry), {minLength: Object.keys(entry).length}).map((order) => Object.fromEntries(order.map((k) => [k, (entry as Record<string, Json>)[k]!]))));
const remoteEntryArb = fc.record({url: fc.webUrl()});
const disabledEntryArb = fc.record({command: commandArb, args: fc.array(argArb, {maxLength: 2}), disabled: fc.constant(true)});

function configArb(client: ClientId): fc.Arbitrary<{value: {[key: string]: Json}; style: Style}> {
  const serversKey = client === 'vscode' ? 'servers' : 'mcpServers';
  const entryArb = client === 'claude-desktop' ? fc.oneof({weight: 6, arbitrary: stdioEntryArb}, {weight: 1, arbitrary: remoteEntryArb}) : fc.oneof({weight: 6, arbitrary: stdioEntryArb}, {weight: 1, arbitrary: remoteEntryArb}, {weight: 1, arbitrary: disabledEntryArb});
  const servers = fc.uniqueArray(fc.tuple(nameArb, entryArb), {selector: ([name]) => name, maxLength: 7}).map((pairs) => Object.fromEntries(pairs) as {[key: string]: Json});
  const value = fc.record(
    {[serversKey]: servers, preferences: fc.constant({menuBarEnabled: false} as Json), globalShortcut: fc.constant('Alt+Space' as Json)},
    {requiredKeys: []},
  ) as fc.Arbitrary<{[key: string]: Json}>;
  return fc.record({value, style: styleArb(client === 'vscode')});
}

function render({value, style}: {value: {[key: string]: Json}; style: Style}): Uint8Array {
  const body = serialise(value, style);
  return new TextEncoder().encode(`${style.bom ? '\uFEFF' : ''}${body}${style.finalNewline ? style.eol : ''}`);
}

const settingsArb: fc.Arbitrary<WrapSettings> = fc
  .record({
    tenantId: fc.option(fc.constantFrom('acme', 'globex'), {nil: undefined}),
    enforcementMode: fc.option(fc.constantFrom('progressive', 'block', 'observe'), {nil: undefined}),
    intent: fc.option(fc.constantFrom('phi_eligibility_check', 'calendar_management'), {nil: undefined}),
    env: fc.dictionary(envKeyArb, fc.string({maxLength: 6}), {maxKeys: 3}),
    thothBin: fc.boolean(),
  })
  .map(({thothBin, ...rest}) => {
    const out: WrapSettings = settings({env: rest.env, launcher: thothBin ? {command: '/usr/local/bin/thoth', prefix: []} : settings().launcher});
    if (rest.tenantId) out.tenantId = rest.tenantId;
    if (rest.enforcementMode) out.enforcementMode = rest.enforcementMode;
    if (rest.intent) out.intent = rest.intent;
    return out;
  });

const RUNS = 300;

describe.each(CLIENTS)('laws on generated %s configs', (client) => {
  it(`wrap is idempotent and unwrap(wrap(x)) = x, byte for byte (${RUNS} configs)`, async () => {
    await fc.assert(
      fc.asyncProperty(configArb(client), settingsArb, async (config, wrapSettings) => {
        const original = render(config);
        const once = await wrap(client, original, wrapSettings);
        const twice = await wrap(client, once.bytes, wrapSettings);
        expect(twice.changed).toBe(false);
        expect(text(twice.bytes)).toBe(text(once.bytes));
        const back = await unwrap(client, once.bytes);
        expect(text(back.bytes)).toBe(text(original));
        if (client !== 'vscode') JSON.parse(text(once.bytes).replace(/^\uFEFF/, ''));
        // Every server that runs is now behind thoth, with its original command line recoverable.
        const servers = config.value[client === 'vscode' ? 'servers' : 'mcpServers'] as Record<string, Record<string, Json>> | undefined;
        for (const change of once.servers) {
          const entry = servers?.[change.server];
          const runs = entry && typeof entry['command'] === 'string' && entry['disabled'] !== true;
          expect(change.action).toBe(runs ? 'wrapped' : 'skipped');
        }
      }),
      {numRuns: RUNS},
    );
  });

  it('re-wrapping with other settings keeps one level of wrapping and still unwraps to the original bytes', async () => {
    await fc.assert(
      fc.asyncProperty(configArb(client), settingsArb, settingsArb, async (config, first, second) => {
        const original = render(config);
        const once = await wrap(client, original, first);
        const again = await wrap(client, once.bytes, second);
        const back = await unwrap(client, again.bytes);
        expect(text(back.bytes)).toBe(text(original));
        for (const change of again.servers) {
          if (change.action === 'skipped') continue;
          const entry = pick(again.bytes, change.pointer);
          const parsed = parseCommand(entry.command, entry.args);
          expect(parsed.kind).toBe('wrapped');
          if (parsed.kind === 'wrapped') expect(isThothName(parsed.inner.command) || parsed.inner.command === '/usr/local/bin/node').toBe(false);
        }
      }),
      {numRuns: 150},
    );
  });
});

function pick(bytes: Uint8Array, pointer: string): {command: string; args: string[]} {
  let current = parse(text(bytes).replace(/^\uFEFF/, ''), [], {allowTrailingComma: true}) as Record<string, unknown>;
  for (const segment of pointer.slice(1).split('/')) current = current[segment.replaceAll('~1', '/').replaceAll('~0', '~')] as Record<string, unknown>;
  return current as never;
}
