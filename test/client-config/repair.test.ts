import {parse} from 'jsonc-parser';
import {describe, expect, it} from 'vitest';

import {ThothError} from '../../src/core/errors.js';
import {parseEnvFlags} from '../../src/client-config/settings.js';
import {fixture, settings, text, unwrap, wrap} from './helpers.js';

/**
 * wrap-config repairs a wrapped entry an agent tampered with (fixtures/configs/*\/wrapped-drift.json;
 * the repaired files are goldens), and unwrap gives back the user's entry without the tampering.
 */
const SETTINGS = settings({tenantId: 'acme', enforcementMode: 'block', env: {THOTH_USER_ID: 'jane@acme.com'}});

function servers(bytes: Uint8Array, key = 'mcpServers'): Record<string, Record<string, unknown>> {
  return (
    parse(text(bytes).replace(/^\uFEFF/, ''), [], {allowTrailingComma: true}) as Record<string, Record<string, Record<string, unknown>>>
  )[key]!;
}

describe('repairing drift', () => {
  it('rewrites every drifted entry (env, flags, npx and fake launchers) and then leaves the file alone', async () => {
    const repaired = await wrap('claude-desktop', fixture('claude-desktop/wrapped-drift.json'), SETTINGS);
    expect(repaired.servers.map((server) => [server.server, server.action, server.reason])).toEqual([
      [
        'filesystem',
        'rewrapped',
        'removed flag --policy, flag --no-filter-tools, env THOTH_AUDIT, env THOTH_POLICY_FILE (not written by wrap-config)',
      ],
      ['github', 'rewrapped', 'replaced the launcher npx -y thoth-mcp@9.9.9'],
      [
        'sqlite',
        'rewrapped',
        'removed env NODE_OPTIONS (not written by wrap-config); replaced the launcher /usr/local/bin/node /tmp/x/bin/run.js',
      ],
    ]);
    const after = servers(repaired.bytes);
    for (const entry of Object.values(after)) {
      expect(entry['command']).toBe('/usr/local/bin/node');
      expect((entry['args'] as string[]).slice(0, 2)).toEqual(['/opt/thoth/lib/node_modules/thoth-mcp/bin/run.js', 'run']);
      expect((entry['args'] as string[]).filter((arg) => ['--policy', '--no-filter-tools', '--audit-dir'].includes(arg))).toEqual([]);
      expect(
        Object.keys(entry['env'] as object)
          .filter((key) => /^THOTH_|^NODE_OPTIONS$/.test(key))
          .sort(),
      ).toEqual(['THOTH_USER_ID', 'THOTH_WRAP_ORIGINAL']);
    }
    const again = await wrap('claude-desktop', repaired.bytes, SETTINGS);
    expect([again.changed, again.servers.map((server) => server.action)]).toEqual([false, ['unchanged', 'unchanged', 'unchanged']]);
  });

  it('unwrap gives back the entries without what was added after wrapping (before or after a repair)', async () => {
    const expected = {
      filesystem: {command: 'npx', args: ['-y', '@modelcontextprotocol/server-filesystem', '/Users/jane/Desktop']},
      github: {
        command: 'npx',
        args: ['-y', '@modelcontextprotocol/server-github'],
        env: {GITHUB_PERSONAL_ACCESS_TOKEN: 'ghp_FAKE0000000000000000000000000000000000'},
      },
      sqlite: {command: '/Users/jane/.local/bin/uvx', args: ['mcp-server-sqlite', '--db-path', '/Users/jane/test.db'], env: {}},
    };
    const tampered = fixture('claude-desktop/wrapped-drift.json');
    expect(servers((await unwrap('claude-desktop', tampered)).bytes)).toEqual(expected);
    const repaired = await wrap('claude-desktop', tampered, SETTINGS);
    expect(servers((await unwrap('claude-desktop', repaired.bytes)).bytes)).toEqual(expected);
  });

  it('VS Code (JSONC): the comments of other members stay where they were', async () => {
    const repaired = await wrap('vscode', fixture('vscode/wrapped-drift.json'), SETTINGS);
    expect(text(repaired.bytes)).toContain(
      '"PERPLEXITY_API_KEY": "${input:perplexity-key}", // resolved by VS Code\n        "THOTH_USER_ID"',
    );
    expect(text(repaired.bytes)).not.toMatch(/added later|\/tmp\/hidden|\/tmp\/thoth|THOTH_ENFORCEMENT_MODE/);
    expect(servers(repaired.bytes, 'servers')['fetch']).toMatchObject({command: '/usr/local/bin/node', envFile: '${workspaceFolder}/.env'});
  });

  it("holds the original entry's own THOTH_* and NODE_OPTIONS out of the wrapped entry, and unwrap puts them back byte for byte", async () => {
    const original = fixture('claude-desktop/thoth-env.json');
    const wrapped = await wrap('claude-desktop', original, SETTINGS);
    const memory = servers(wrapped.bytes)['memory']!;
    expect(Object.keys(memory['env'] as object)).toEqual(['MEMORY_FILE_PATH', 'THOTH_USER_ID', 'THOTH_WRAP_ORIGINAL']);
    expect(Object.keys(servers(wrapped.bytes)['time']!['env'] as object)).toEqual(['THOTH_USER_ID', 'THOTH_WRAP_ORIGINAL']);
    expect(text((await unwrap('claude-desktop', wrapped.bytes)).bytes)).toBe(text(original));
  });

  it('falls back to adding a held key at the end of env when the env was edited since wrapping', async () => {
    const wrapped = await wrap('claude-desktop', fixture('claude-desktop/thoth-env.json'), SETTINGS);
    const edited = text(wrapped.bytes).replace(
      '"MEMORY_FILE_PATH": "/Users/jane/memory.json"',
      '"MEMORY_FILE_PATH": "/Users/jane/elsewhere/memory.json"',
    );
    const back = servers((await unwrap('claude-desktop', new TextEncoder().encode(edited))).bytes);
    expect(back['memory']).toEqual({
      command: 'npx',
      args: ['-y', '@modelcontextprotocol/server-memory'],
      env: {MEMORY_FILE_PATH: '/Users/jane/elsewhere/memory.json', THOTH_AUDIT: 'off', NODE_OPTIONS: '--max-old-space-size=512'},
    });
  });
});

describe('wrap-config --env', () => {
  it('writes the labels thoth reads, and refuses any other variable thoth itself reads', () => {
    expect(
      parseEnvFlags([
        'THOTH_USER_ID=jane@acme.com',
        'THOTH_FLEET_ID=laptops',
        'THOTH_ENV=staging',
        'THOTH_TENANT_ID=acme',
        'GITHUB_TOKEN=x',
      ]),
    ).toEqual({
      THOTH_USER_ID: 'jane@acme.com',
      THOTH_FLEET_ID: 'laptops',
      THOTH_ENV: 'staging',
      THOTH_TENANT_ID: 'acme',
      GITHUB_TOKEN: 'x',
    });
    for (const [item, message] of [
      [
        'THOTH_AUDIT=off',
        /^--env THOTH_AUDIT: wrap-config writes only THOTH_USER_ID, THOTH_FLEET_ID, THOTH_TENANT_ID, THOTH_ENV of the variables thoth itself reads; set THOTH_AUDIT in managed preferences/,
      ],
      ['THOTH_POLICY_FILE=/p.json', /set THOTH_POLICY_FILE in managed preferences or ~\/\.thoth\/settings\.json instead$/],
      ['NODE_OPTIONS=--require x', /^--env NODE_OPTIONS: .*it would configure the thoth process, not only the server$/],
    ] as const) {
      let error: unknown;
      try {
        parseEnvFlags([item]);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ThothError);
      expect((error as ThothError).exitCode).toBe(2);
      expect((error as ThothError).message).toMatch(message);
    }
  });
});

describe('secrets thoth takes out of an entry', () => {
  it('never appear in the patch wrap-config prints (--dry-run, --json), though the file keeps them for unwrap', async () => {
    const {changeConfigs} = await import('../../src/client-config/engine.js');
    const {MAC, machine} = await import('./layout.js');
    const m = await machine(MAC);
    const file = '/Users/jane/Library/Application Support/Claude/claude_desktop_config.json';
    const config = {
      mcpServers: {
        github: {command: 'npx', args: ['-y', 'server-github'], env: {THOTH_API_KEY: 'sk-live-abcdefghijklmnop', GITHUB_TOKEN: 'ghp_x'}},
      },
    };
    await m.write(file, JSON.stringify(config, null, 2));
    const dry = await changeConfigs({action: 'wrap', host: m.host, settings: SETTINGS, dryRun: true});
    const shown = JSON.stringify(dry.files[0]!.patch);
    expect(shown).toContain('THOTH_WRAP_ORIGINAL');
    expect(shown).toContain('<redacted>');
    expect(shown).not.toContain('sk-live-abcdefghijklmnop');
    const wrapped = await changeConfigs({action: 'wrap', host: m.host, settings: SETTINGS});
    expect(JSON.stringify(wrapped.files[0]!.patch)).not.toContain('sk-live-abcdefghijklmnop');
    expect(await m.read(file)).toContain('sk-live-abcdefghijklmnop');
    await changeConfigs({action: 'unwrap', host: m.host});
    expect(JSON.parse(await m.read(file))).toEqual(config);
  });
});
