import {readdirSync, readFileSync, statSync} from 'node:fs';
import {dirname, join, relative, resolve, sep} from 'node:path';

import {describe, expect, it} from 'vitest';

import {REPO_ROOT} from '../helpers/cli.js';

/**
 * The folders of src/ are layers: shared vocabulary at the bottom, features in the middle, the
 * wiring of a `thoth run` session and the commands at the top. A module may import (statically,
 * dynamically, or only its types) from its own folder and from folders below it, never above.
 * A new folder must be placed here deliberately.
 */
const LAYERS = [
  // Vocabulary every feature speaks: JSON-RPC, calls and decisions, errors and exit codes, limits, run flags.
  'core',
  // Helpers with no domain knowledge: atomic writes, locks, validators, terminal-safe text, processes.
  'util',
  // The ports between the relay and governance, and the governor that drives a decision.
  'governance',
  // The profile directory (~/.thoth), then the one settings resolver.
  'profile',
  'settings',
  // Features, each using only those before it.
  'audit',
  'approvals',
  'pins',
  'policy',
  'proxy',
  'client-config',
  'control-plane',
  'fleet',
  // The self-hosted control plane (`thoth server`): speaks the contract of control-plane/ from the other side.
  'server',
  // Wiring: what assembles a `thoth run` session from the features.
  'run',
  // The SDK: a second front door at the level of run's wiring, governing tool functions inside an agent.
  'sdk',
  // The command line.
  'cli',
  'commands',
  // Schema validators compiled at build time (imported by computed path).
  'generated',
] as const;

const SRC = join(REPO_ROOT, 'src');
const IMPORT =
  /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?[^'";]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/gm;

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) {
      if (entry !== 'generated') sourceFiles(path, out);
    } else if (path.endsWith('.ts')) {
      out.push(path);
    }
  }
  return out;
}

function layerOf(path: string): string {
  return relative(SRC, path).split(sep)[0]!;
}

describe('src/ folders are layers', () => {
  it('every folder of src/ has a place in the order', () => {
    const folders = readdirSync(SRC).filter((entry) => statSync(join(SRC, entry)).isDirectory());
    expect(folders.filter((folder) => !(LAYERS as readonly string[]).includes(folder))).toEqual([]);
  });

  it('imports only go down (or stay in their folder)', () => {
    const violations: string[] = [];
    for (const file of sourceFiles(SRC)) {
      const from = layerOf(file);
      for (const match of readFileSync(file, 'utf8').matchAll(IMPORT)) {
        const specifier = match[1] ?? match[2]!;
        const to = layerOf(resolve(dirname(file), specifier));
        if (to === from || to.startsWith('..')) continue;
        if (LAYERS.indexOf(to as (typeof LAYERS)[number]) > LAYERS.indexOf(from as (typeof LAYERS)[number])) {
          violations.push(`${relative(SRC, file)} imports ${specifier} (${from} → ${to}, which sits above it)`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it('the check sees imports (a file with none would make it vacuous)', () => {
    const relay = readFileSync(join(SRC, 'proxy', 'relay.ts'), 'utf8');
    expect([...relay.matchAll(IMPORT)].length).toBeGreaterThan(5);
  });
});
