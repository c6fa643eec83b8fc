import {existsSync} from 'node:fs';
import {readFile, readdir} from 'node:fs/promises';
import {dirname, join, relative, resolve, sep} from 'node:path';

import {describe, expect, it} from 'vitest';

import {headingAnchors, isExternal, markdownLinks} from '../../scripts/docs/links.js';
import {renderReferences} from '../../scripts/docs/references.js';
import {SETTINGS} from '../../src/settings/definitions.js';
import {REPO_ROOT} from '../helpers/cli.js';

/** The README is the front door: what thoth is, install, quick start, links. */
const README_MAX_BYTES = 16 * 1024;

/** Names of internal documents no reader can look up. */
const INTERNAL_NAMES = [/seed 0/i, /seed 1/i, /\bseeds\b/i, /DESIGN\.md/i, /shared\//i];

/**
 * README.md, every page under docs/, and the MDM guide (which lives beside the scripts it
 * describes), as repository-relative paths with forward slashes.
 */
async function userDocs(): Promise<string[]> {
  const found: string[] = ['README.md', 'mdm/README.md'];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(join(REPO_ROOT, dir), {withFileTypes: true})) {
      const path = `${dir}/${entry.name}`;
      // Drafts are notes waiting to be folded into the pages, not pages.
      if (entry.isDirectory() && entry.name !== '_drafts') await walk(path);
      else if (entry.isFile() && entry.name.endsWith('.md')) found.push(path);
    }
  };
  await walk('docs');
  return found.sort();
}

function read(path: string): Promise<string> {
  return readFile(join(REPO_ROOT, path), 'utf8');
}

function toRepoPath(absolute: string): string {
  return relative(REPO_ROOT, absolute).split(sep).join('/');
}

describe('README.md', () => {
  it(`is at most ${README_MAX_BYTES} bytes`, async () => {
    const bytes = (await readFile(join(REPO_ROOT, 'README.md'))).length;
    expect(bytes, `README.md is ${bytes} bytes: move detail into docs/`).toBeLessThanOrEqual(README_MAX_BYTES);
  });
});

describe('README.md, docs/ and mdm/README.md', () => {
  it('link only to files that exist, and to anchors that are headings of their target', async () => {
    const problems: string[] = [];
    const anchorsOf = new Map<string, Set<string>>();
    const anchors = async (path: string): Promise<Set<string>> => {
      if (!anchorsOf.has(path)) anchorsOf.set(path, headingAnchors(await read(path)));
      return anchorsOf.get(path)!;
    };
    for (const file of await userDocs()) {
      for (const {target, line} of markdownLinks(await read(file))) {
        if (isExternal(target)) continue;
        const [pathPart = '', anchor] = target.split('#', 2);
        const resolved = pathPart === '' ? join(REPO_ROOT, file) : resolve(REPO_ROOT, dirname(file), decodeURIComponent(pathPart));
        const where = `${file}:${line}: ${target}`;
        if (!resolved.startsWith(REPO_ROOT)) {
          problems.push(`${where} leaves the repository`);
          continue;
        }
        if (!existsSync(resolved)) {
          problems.push(`${where}: no such file`);
          continue;
        }
        if (anchor !== undefined && resolved.endsWith('.md') && !(await anchors(toRepoPath(resolved))).has(anchor)) {
          problems.push(`${where}: no heading "#${anchor}" in ${toRepoPath(resolved)}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('name no internal documents (seeds, DESIGN.md, shared/), nor does the source text the references are generated from', async () => {
    const problems: string[] = [];
    for (const file of await userDocs()) {
      const text = await read(file);
      text.split('\n').forEach((line, index) => {
        for (const pattern of INTERNAL_NAMES) if (pattern.test(line)) problems.push(`${file}:${index + 1}: ${line.trim()}`);
      });
    }
    expect(problems).toEqual([]);
  });

  it('start with a title and a paragraph saying what the page covers', async () => {
    const problems: string[] = [];
    for (const file of await userDocs()) {
      // The generated references carry a comment between the two.
      const blocks = (await read(file))
        .split(/\n\s*\n/)
        .map((block) => block.trim())
        .filter((block) => block !== '' && !block.startsWith('<!--'));
      if (!/^# \S/.test(blocks[0] ?? '')) problems.push(`${file}: does not start with a "# " title`);
      if (!/^[\p{L}`*[(]/u.test(blocks[1] ?? '')) problems.push(`${file}: the title is not followed by a paragraph`);
    }
    expect(problems).toEqual([]);
  });

  it('docs/README.md links every page', async () => {
    const index = await read('docs/README.md');
    const linked = new Set(markdownLinks(index).map(({target}) => toRepoPath(resolve(REPO_ROOT, 'docs', target.split('#')[0]!))));
    const missing = (await userDocs()).filter((file) => file.startsWith('docs/') && file !== 'docs/README.md' && !linked.has(file));
    expect(missing).toEqual([]);
  });
});

describe('generated references', () => {
  it('docs/reference/commands.md and settings.md are what the generator writes now', async () => {
    for (const file of await renderReferences(REPO_ROOT)) {
      const committed = existsSync(join(REPO_ROOT, file.path)) ? await read(file.path) : '(missing)';
      // A byte comparison with a message that says how to fix it, instead of a diff of two long files.
      expect(committed === file.text, `${file.path} is stale: run \`npm run docs:generate\` and commit the result`).toBe(true);
    }
  });

  it('cover every visible command with each of its visible flags and arguments', async () => {
    const manifest = JSON.parse(await read('oclif.manifest.json')) as {
      commands: Record<
        string,
        {id: string; hidden?: boolean; args: Record<string, {name: string}>; flags: Record<string, {name: string; hidden?: boolean}>}
      >;
    };
    const [commands] = await renderReferences(REPO_ROOT);
    const sections = new Map(
      commands!.text
        .split(/^## /m)
        .slice(1)
        .map((section) => [section.slice(0, section.indexOf('\n')), section] as const),
    );
    const visible = Object.values(manifest.commands).filter((command) => !command.hidden);
    expect(visible.length).toBeGreaterThan(0);
    for (const command of visible) {
      const section = sections.get(`thoth ${command.id.replaceAll(':', ' ')}`);
      expect(section, `no section for ${command.id}`).toBeDefined();
      for (const flag of Object.values(command.flags)) {
        if (flag.hidden) expect(section, `${command.id} shows hidden --${flag.name}`).not.toMatch(new RegExp(`--${flag.name}\\b`));
        else expect(section, `${command.id} lacks --${flag.name}`).toMatch(new RegExp(`- \`(-., )?--(\\[no-\\])?${flag.name}\\b`));
      }
      for (const arg of Object.values(command.args))
        expect(section, `${command.id} lacks ${arg.name}`).toContain(`\`${arg.name.toUpperCase()}\``);
    }
  });

  it('cover every setting, with its flag, aliases, and whether managed preferences win', async () => {
    const [, settings] = await renderReferences(REPO_ROOT);
    const sections = new Map(
      settings!.text
        .split(/^### /m)
        .slice(1)
        .map((section) => [section.slice(0, section.indexOf('\n')), section] as const),
    );
    for (const definition of Object.values(SETTINGS)) {
      const section = sections.get(`\`${definition.name}\``);
      expect(section, `no section for ${definition.name}`).toBeDefined();
      if (definition.flag) expect(section).toContain(`Flag: \`${definition.flag}\``);
      for (const alias of definition.aliases ?? []) expect(section).toContain(`\`${alias}\``);
      expect(section!.includes('Managed wins:'), `${definition.name}: managed wins`).toBe(definition.managedWins === true);
      expect(section!.includes('Secret:'), `${definition.name}: secret`).toBe(definition.secret === true);
    }
  });
});
