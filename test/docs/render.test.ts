import {describe, expect, it} from 'vitest';

import {renderCommandsReference, type OclifManifest} from '../../scripts/docs/commands-reference.js';
import {headingAnchors, markdownLinks} from '../../scripts/docs/links.js';
import {escapeMarkdown, headingAnchor} from '../../scripts/docs/markdown.js';
import {renderSettingsReference, type SettingsTable} from '../../scripts/docs/settings-reference.js';

const MANIFEST: OclifManifest = {
  version: '9.9.9',
  commands: {
    'zeta:show': {
      id: 'zeta:show',
      summary: 'Show zeta.',
      description: 'First paragraph.\nSecond, with <tenant> and a_* star.',
      args: {},
      flags: {
        json: {name: 'json', type: 'boolean', helpGroup: 'GLOBAL', description: 'Format output as json.'},
        interval: {name: 'interval', type: 'option', hidden: true, default: 250},
        lines: {name: 'lines', type: 'option', char: 'n', default: 10, description: 'How many.'},
        format: {name: 'format', type: 'option', options: ['jsonl', 'ocsf'], multiple: true, exclusive: ['lines']},
      },
      examples: ['<%= config.bin %> zeta show -n 5'],
    },
    alpha: {id: 'alpha', summary: 'Alpha.', strict: false, args: {command: {name: 'command', description: 'what to run'}}, flags: {}},
    hidden: {id: 'hidden', hidden: true, summary: 'Not for people.', args: {}, flags: {}},
  },
};

describe('renderCommandsReference', () => {
  const text = renderCommandsReference(MANIFEST, {zeta: {description: 'Things | about zeta.'}});

  it('sorts commands, leaves hidden commands and flags out, and renders usage, flags and examples', () => {
    expect(text.indexOf('## thoth alpha')).toBeLessThan(text.indexOf('## thoth zeta show'));
    expect(text).not.toContain('thoth hidden');
    expect(text).not.toContain('--interval');
    expect(text).toContain('thoth alpha [COMMAND...]');
    expect(text).toContain('thoth zeta show [flags]');
    expect(text).toContain('- `-n, --lines <value>` (default `10`): How many.');
    expect(text).toContain('- `--format <jsonl|ocsf>` (repeatable, not with `--lines`)');
    expect(text).toContain('$ thoth zeta show -n 5');
    // Ungrouped flags come before the global ones.
    const section = text.slice(text.indexOf('## thoth zeta show'));
    expect(section.indexOf('--lines')).toBeLessThan(section.indexOf('--json'));
  });

  it('escapes what markdown would swallow, and lists topics with links to their commands', () => {
    expect(text).toContain('Second, with \\<tenant> and a\\_\\* star.');
    expect(text).toContain('| `zeta` | [zeta show](#thoth-zeta-show) | Things \\| about zeta. |');
    const anchors = headingAnchors(text);
    for (const {target} of markdownLinks(text).filter(({target}) => target.startsWith('#'))) expect(anchors).toContain(target.slice(1));
  });

  it('is the same text for the same input', () => {
    expect(renderCommandsReference(structuredClone(MANIFEST), {zeta: {description: 'Things | about zeta.'}})).toBe(text);
  });
});

describe('renderSettingsReference', () => {
  const settings: SettingsTable = {
    b: {name: 'THOTH_B', description: 'B with https://x.<tenant>.', parse: String, secret: true, flag: '--b'},
    a: {
      name: 'THOTH_A',
      aliases: ['OLD_A'],
      managedAliases: ['aID'],
      managedWins: true,
      description: 'A.',
      parse: String,
      fallback: ({profileDir}) => ({value: `${profileDir}/a.json`, origin: 'default'}),
    },
    c: {name: 'THOTH_C', description: 'C.', parse: String, fallback: () => ({value: false, origin: 'default (no tenant: local use)'})},
    d: {name: 'THOTH_D', description: 'D.', parse: String, fallback: () => undefined},
  };
  const text = renderSettingsReference(settings);

  it('sorts by name and shows defaults, aliases, managed keys, managed wins and secrets', () => {
    expect(text.indexOf('### `THOTH_A`')).toBeLessThan(text.indexOf('### `THOTH_B`'));
    expect(text).toContain('- Default: `~/.thoth/a.json`');
    expect(text).toContain('- Environment aliases: `OLD_A`');
    expect(text).toContain('key: `THOTH_A`, `aID`');
    expect(text).toContain('- Managed wins:');
    expect(text).toContain('- Default: `false` (no tenant: local use)');
    expect(text).toContain('- Default: none (derived from other settings when they are set)');
    expect(text).toContain('never read from there (a secret)');
    expect(text).toContain('read only from the environment or its flag');
    expect(text).toContain('B with https://x.\\<tenant>.');
    expect(text).toContain('| [`THOTH_A`](#thoth_a) | `~/.thoth/a.json` |  | yes |  |');
  });
});

describe('markdown helpers', () => {
  it('make the anchors GitHub makes', () => {
    expect(headingAnchor('Repair: `wrap-config`')).toBe('repair-wrap-config');
    expect(headingAnchor('`THOTH_CLI_APPROVALS`: command-line approvals off')).toBe('thoth_cli_approvals-command-line-approvals-off');
    expect(headingAnchor('The installers (`npm run dist`)')).toBe('the-installers-npm-run-dist');
    expect([...headingAnchors('# A\n## A\n```\n# not a heading\n```\n## A')]).toEqual(['a', 'a-1', 'a-2']);
  });

  it('find links outside code only, and leave code spans as written when escaping', () => {
    const text = 'See [run](run.md#x) and `[no](no.md)`.\n```\n[no](fenced.md)\n```\n[ref]: policy.md';
    expect(markdownLinks(text)).toEqual([
      {target: 'run.md#x', line: 1},
      {target: 'policy.md', line: 5},
    ]);
    expect(escapeMarkdown('`<a>` and <b>')).toBe('`<a>` and \\<b>');
  });
});
