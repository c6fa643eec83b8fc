import {existsSync, readFileSync} from 'node:fs';
import {dirname, join, relative, resolve} from 'node:path';

import ts from 'typescript';
import {describe, expect, it} from 'vitest';

import {REPO_ROOT} from '../helpers/cli.js';

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  exports: Record<string, {types: string; default: string}>;
  files: string[];
};

/** The modules src/sdk/index.ts loads when a program imports it: static imports only (`import type` and `import()` excluded). */
function staticImportGraph(entry: string): string[] {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/^(?:import|export)\s+(?!type\b)[^'";]*?from\s*['"]([^'"]+)['"]/gm)) {
      const specifier = match[1]!;
      if (!specifier.startsWith('.')) {
        seen.add(specifier);
        continue;
      }
      visit(resolve(dirname(file), specifier.replace(/\.js$/, '.ts')));
    }
  };
  visit(entry);
  return [...seen].map((file) => (file.startsWith('/') ? relative(join(REPO_ROOT, 'src'), file) : file)).sort();
}

describe('the thoth-mcp/sdk package entry', () => {
  it('is exported with its types, from files the package ships', () => {
    expect(pkg.exports['./sdk']).toEqual({types: './dist/sdk/index.d.ts', default: './dist/sdk/index.js'});
    expect(pkg.files).toContain('dist');
    for (const file of Object.values(pkg.exports['./sdk']!)) expect(existsSync(join(REPO_ROOT, file)), `${file}: build first`).toBe(true);
  });

  it('loads neither oclif, nor child processes, nor the governance core when imported (the core loads with the first session)', () => {
    const graph = staticImportGraph(join(REPO_ROOT, 'src', 'sdk', 'index.ts'));
    expect(graph).toContain('sdk/session.ts');
    const heavy = graph.filter((module) =>
      /^(@oclif|node:child_process|node:crypto|run\/|proxy\/|settings\/|audit\/|policy\/(?!builtin-policy)|control-plane\/|fleet\/)/.test(
        module,
      ),
    );
    expect(heavy).toEqual([]);
    expect(graph).not.toContain('sdk/start.ts');
    expect(graph).not.toContain('sdk/govern-call.ts');
  });

  it('type-checks a consumer through the exports map (NodeNext resolution of dist/sdk/index.d.ts)', () => {
    const file = join(REPO_ROOT, 'fixtures', 'sdk', 'consumer.mts');
    const program = ts.createProgram([file], {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      strict: true,
      exactOptionalPropertyTypes: true,
      noEmit: true,
      skipLibCheck: true,
      types: ['node'],
    });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(diagnostics).toEqual([]);
    const resolved = program.getSourceFiles().map((source) => relative(REPO_ROOT, source.fileName));
    expect(resolved).toContain('dist/sdk/index.d.ts');
  });
});
