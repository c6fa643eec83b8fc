import {readdirSync} from 'node:fs';
import {join} from 'node:path';

import fc from 'fast-check';
import {parse} from 'jsonc-parser';
import {describe, expect, it} from 'vitest';

import {ADAPTERS, type ClientId} from '../../src/client-config/clients/index.js';
import {parseConfigDocument} from '../../src/client-config/document.js';
import {parseEntryCommand, type WrapSettings} from '../../src/client-config/entry-edit.js';
import {serverEntries} from '../../src/client-config/plan.js';
import {applyTextEdits, insertPropertyEdit} from '../../src/client-config/text-edits.js';
import {parseCommand, isThothName} from '../../src/client-config/wrapped-command.js';
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
    fc.constantFrom(
      'npx',
      'npx.cmd',
      'uvx',
      'node',
      'docker',
      'python3',
      'C:\\Program Files\\nodejs\\npx.cmd',
      '/Users/jane/.local/bin/uvx',
      '${HOME}/bin/x',
    ),
    fc.string({minLength: 1, maxLength: 12}),
  )
  .filter((command) => !isThothName(command));
const argArb = fc.oneof(
  fc.constantFrom('-y', '--', 'run', '--agent-id', '@modelcontextprotocol/server-memory', '${input:key}', 'C:\\Users\\jane'),
  fc.string({maxLength: 10}),
);
/** Keys wrap-config may be asked to write (--env). */
const envKeyArb = fc.constantFrom('API_KEY', 'THOTH_USER_ID', 'THOTH_TENANT_ID', 'PATH', 'TOKEN', 'A_B', 'toString', 'constructor');
/** Keys an original entry may have: also ones thoth would read itself, which wrap-config holds out (and unwrap puts back). */
const originalEnvKeyArb = fc.constantFrom(
  'API_KEY',
  'THOTH_USER_ID',
  'THOTH_TENANT_ID',
  'PATH',
  'TOKEN',
  'A_B',
  'toString',
  'constructor',
  'THOTH_AUDIT',
  'NODE_OPTIONS',
  'HOME',
  'thoth_policy_file',
);

const stdioEntryArb = fc
  .record(
    {
      command: commandArb,
      args: fc.array(argArb, {maxLength: 6}),
      env: fc.dictionary(originalEnvKeyArb, fc.string({maxLength: 8}), {maxKeys: 4}),
      cwd: fc.string({maxLength: 6}),
      extensionId: fc.constant('ant.dir.example'),
    },
    {requiredKeys: ['command']},
  )
  // An entry already in the wrapped form *is* wrapped (that is how thoth recognises its own and
  // hand-made wraps): the laws are about configs thoth has not wrapped yet.
  .filter((entry) => parseCommand(entry.command, entry.args ?? []).kind === 'plain')
  .chain((entry) =>
    fc
      .shuffledSubarray(Object.keys(entry), {minLength: Object.keys(entry).length})
      .map((order) => Object.fromEntries(order.map((k) => [k, (entry as Record<string, Json>)[k]!]))),
  );
const remoteEntryArb = fc.record({url: fc.webUrl()});
const disabledEntryArb = fc.record({command: commandArb, args: fc.array(argArb, {maxLength: 2}), disabled: fc.constant(true)});

function configArb(client: ClientId): fc.Arbitrary<{value: {[key: string]: Json}; style: Style}> {
  const serversKey = client === 'vscode' ? 'servers' : 'mcpServers';
  const entryArb =
    client === 'claude-desktop'
      ? fc.oneof({weight: 6, arbitrary: stdioEntryArb}, {weight: 1, arbitrary: remoteEntryArb})
      : fc.oneof({weight: 6, arbitrary: stdioEntryArb}, {weight: 1, arbitrary: remoteEntryArb}, {weight: 1, arbitrary: disabledEntryArb});
  const servers = fc
    .uniqueArray(fc.tuple(nameArb, entryArb), {selector: ([name]) => name, maxLength: 7})
    .map((pairs) => Object.fromEntries(pairs) as {[key: string]: Json});
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
    const out: WrapSettings = settings({
      env: rest.env,
      launcher: thothBin ? {command: '/usr/local/bin/thoth', prefix: []} : settings().launcher,
    });
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
          if (parsed.kind === 'wrapped')
            expect(isThothName(parsed.inner.command) || parsed.inner.command === '/usr/local/bin/node').toBe(false);
        }
      }),
      {numRuns: 150},
    );
  });
});

/** What an agent with a file tool does to its own wrapped entries. */
interface Tamper {
  env: boolean;
  flag: boolean;
  launcher: boolean;
}

const tamperArb: fc.Arbitrary<Tamper> = fc.record({env: fc.boolean(), flag: fc.boolean(), launcher: fc.boolean()});

/**
 * Edits every wrapped entry of `bytes` in the file's own layout: a THOTH_AUDIT=off member at the
 * end of an existing env, --no-filter-tools right after "run", another command.
 */
function tamper(client: ClientId, bytes: Uint8Array, how: Tamper): Uint8Array {
  const adapter = ADAPTERS[client];
  const document = parseConfigDocument('config.json', bytes, {jsonc: adapter.jsonc});
  const layout = {eol: document.eol, indentUnit: document.indentUnit};
  const edits = [];
  for (const entry of serverEntries(document, adapter)) {
    const parsed = parseEntryCommand(entry.value);
    if (parsed.kind !== 'wrapped') continue;
    const member = (key: string) => entry.node.children?.find((property) => property.children?.[0]?.value === key)?.children?.[1];
    const env = member('env');
    if (how.env && env?.type === 'object') edits.push(...insertPropertyEdit(document.text, env, 'THOTH_AUDIT', 'off', layout));
    const args = member('args')?.children ?? [];
    const run = args[parsed.launcher.prefix.length];
    const after = args[parsed.launcher.prefix.length + 1];
    if (how.flag && run && after)
      edits.push({
        offset: after.offset,
        length: 0,
        content: `"--no-filter-tools"${document.text.slice(run.offset + run.length, after.offset)}`,
      });
    const command = member('command');
    if (how.launcher && command) edits.push({offset: command.offset, length: command.length, content: '"/tmp/fake/node"'});
  }
  return new TextEncoder().encode(document.bom + applyTextEdits(document.text, edits));
}

describe.each(CLIENTS)('repairing tampered %s configs', (client) => {
  it('wrap-config rewrites a tampered entry to exactly the clean wrap; unwrap gives back the original, not the tampering', async () => {
    await fc.assert(
      fc.asyncProperty(configArb(client), settingsArb, tamperArb, async (config, wrapSettings, how) => {
        const original = render(config);
        const once = await wrap(client, original, wrapSettings);
        const tampered = tamper(client, once.bytes, how);
        const repaired = await wrap(client, tampered, wrapSettings);
        expect(text(repaired.bytes)).toBe(text(once.bytes));
        expect((await wrap(client, repaired.bytes, wrapSettings)).changed).toBe(false);
        expect(text((await unwrap(client, tampered)).bytes)).toBe(text(original));
      }),
      {numRuns: 150},
    );
  });
});

function pick(bytes: Uint8Array, pointer: string): {command: string; args: string[]} {
  let current = parse(text(bytes).replace(/^\uFEFF/, ''), [], {allowTrailingComma: true}) as Record<string, unknown>;
  for (const segment of pointer.slice(1).split('/'))
    current = current[segment.replaceAll('~1', '/').replaceAll('~0', '~')] as Record<string, unknown>;
  return current as never;
}
