/**
 * `npm run bench`: runs every bench/*.bench.ts in turn and prints their tables. Each bench file
 * default-exports `(context) => Promise<BenchSection>` and measures thoth against a direct
 * baseline in the same run: report ratios, never absolute targets (the machine is shared).
 */
import {readdir} from 'node:fs/promises';
import {fileURLToPath, pathToFileURL} from 'node:url';
import {join} from 'node:path';

export interface BenchSection {
  title: string;
  /** One row per measurement; the first column names it. */
  rows: Array<Record<string, string | number>>;
  notes?: string[];
}

export interface BenchContext {
  /** Shorter runs when BENCH_QUICK=1 (used by tests of the bench itself). */
  quick: boolean;
}

const here = fileURLToPath(new URL('.', import.meta.url));
const only = process.argv.slice(2);
const files = (await readdir(here)).filter((f) => f.endsWith('.bench.ts')).sort();
const context: BenchContext = {quick: process.env['BENCH_QUICK'] === '1'};

// A name that is a bench's whole name selects that bench alone (`sdk` is not also `proxy-sdk`).
const selected = (file: string): boolean =>
  only.length === 0 || only.some((name) => (files.includes(`${name}.bench.ts`) ? file === `${name}.bench.ts` : file.includes(name)));

for (const file of files) {
  if (!selected(file)) continue;
  const module = (await import(pathToFileURL(join(here, file)).href)) as {default: (context: BenchContext) => Promise<BenchSection>};
  const section = await module.default(context);
  printSection(section);
}

function printSection(section: BenchSection): void {
  process.stdout.write(`\n## ${section.title}\n\n`);
  const columns = [...new Set(section.rows.flatMap((row) => Object.keys(row)))];
  process.stdout.write(`| ${columns.join(' | ')} |\n|${columns.map(() => '---').join('|')}|\n`);
  for (const row of section.rows) process.stdout.write(`| ${columns.map((c) => String(row[c] ?? '')).join(' | ')} |\n`);
  for (const note of section.notes ?? []) process.stdout.write(`\n${note}\n`);
}
