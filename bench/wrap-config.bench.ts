/**
 * wrap-config on a Claude Desktop config with 500 servers: the time beyond process start-up.
 * Each repetition runs `thoth --version` (start-up alone) and the wrap back to back, on the same
 * machine in the same run; the table reports medians and their difference.
 */
import {spawn} from 'node:child_process';
import {copyFile, mkdtemp, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';

import type {BenchContext, BenchSection} from './main.js';
import {ADAPTERS} from '../src/client-config/clients/index.js';
import {parseConfigDocument} from '../src/client-config/document.js';
import {planChange} from '../src/client-config/plan.js';
import {loadValidator} from '../src/util/validators.js';

const THOTH = fileURLToPath(new URL('../bin/run.js', import.meta.url));
const SERVERS = 500;

/** A realistic config: npx/uvx/docker/absolute commands, env blocks with secrets, a few remote entries. */
function config(count: number): string {
  const servers: Record<string, unknown> = {};
  for (let i = 0; i < count; i++) {
    const kind = i % 10;
    if (kind === 9) servers[`remote-${i}`] = {url: `https://mcp${i}.example.com/sse`};
    else if (kind % 3 === 0)
      servers[`npx-${i}`] = {
        command: 'npx',
        args: ['-y', `@example/server-${i}`, `/Users/jane/project-${i}`],
        env: {API_TOKEN: `tok_${i.toString(16).padStart(12, '0')}`},
      };
    else if (kind % 3 === 1)
      servers[`uvx-${i}`] = {command: '/Users/jane/.local/bin/uvx', args: [`mcp-server-${i}`, '--db-path', `/Users/jane/db-${i}.sqlite`]};
    else servers[`docker-${i}`] = {command: 'docker', args: ['run', '-i', '--rm', `ghcr.io/example/mcp-${i}:latest`]};
  }
  return `${JSON.stringify({mcpServers: servers, preferences: {menuBarEnabled: false}, globalShortcut: 'Alt+Space'}, null, 2)}\n`;
}

function time(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, [THOTH, ...args], {env, stdio: ['ignore', 'ignore', 'pipe']});
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
      // --dry-run exits 10 when it would change something: that is the expected outcome here.
      if (code !== 0 && code !== 10) reject(new Error(`thoth ${args.join(' ')} exited ${code}: ${stderr}`));
      else resolve(elapsed);
    });
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const round = (ms: number) => Math.round(ms * 10) / 10;

export default async function bench(context: BenchContext): Promise<BenchSection> {
  const repetitions = context.quick ? 3 : 9;
  const dir = await mkdtemp(join(tmpdir(), 'thoth-bench-wrap-'));
  try {
    const pristine = join(dir, 'pristine.json');
    const file = join(dir, 'claude_desktop_config.json');
    const text = config(SERVERS);
    await writeFile(pristine, text);
    const env = {PATH: process.env['PATH'], HOME: dir, THOTH_HOME: join(dir, '.thoth')};
    const wrapArgs = [
      'wrap-config',
      file,
      '--client',
      'claude-desktop',
      '--tenant-id',
      'acme',
      '--enforcement-mode',
      'block',
      '--env',
      'THOTH_USER_ID=jane@acme.com',
    ];

    const startup: number[] = [];
    const dryRun: number[] = [];
    const write: number[] = [];
    const governed: number[] = [];
    await time(['--version'], env); // warm the file cache once
    for (let i = 0; i < repetitions; i++) {
      await copyFile(pristine, file);
      startup.push(await time(['--version'], env));
      dryRun.push(await time([...wrapArgs, '--dry-run', '--json'], env));
      write.push(await time(wrapArgs, env));
      governed.push(await time(wrapArgs, env)); // already governed: read, plan, nothing to write
    }

    // The engine alone, in process: parse, validate, plan 500 entries, validate again, patch.
    const adapter = ADAPTERS['claude-desktop'];
    const validate = await loadValidator(adapter.schema);
    const bytes = new TextEncoder().encode(text);
    const settings = {
      launcher: {command: process.execPath, prefix: [THOTH]},
      intentMap: {},
      env: {THOTH_USER_ID: 'jane@acme.com'},
      tenantId: 'acme',
      enforcementMode: 'block',
    };
    const inProcess: number[] = [];
    for (let i = 0; i < repetitions + 2; i++) {
      const started = process.hrtime.bigint();
      planChange(parseConfigDocument(file, bytes, {jsonc: false}), adapter, validate, {action: 'wrap', settings});
      inProcess.push(Number(process.hrtime.bigint() - started) / 1e6);
    }

    const base = median(startup);
    const row = (measurement: string, values: number[]) => ({
      measurement,
      'median ms': round(median(values)),
      'beyond start-up ms': round(median(values) - base),
      'ratio to start-up': round(median(values) / base),
    });
    return {
      title: `wrap-config: Claude Desktop config with ${SERVERS} servers (${(text.length / 1024).toFixed(0)} KiB), ${repetitions} repetitions`,
      rows: [
        {measurement: 'thoth --version (start-up baseline)', 'median ms': round(base), 'beyond start-up ms': 0, 'ratio to start-up': 1},
        row('wrap-config --dry-run --json', dryRun),
        row('wrap-config (write, backup, lock)', write),
        row('wrap-config, already governed', governed),
        {
          measurement: 'engine in process (parse → plan → validate → patch)',
          'median ms': round(median(inProcess)),
          'beyond start-up ms': '',
          'ratio to start-up': '',
        },
      ],
      notes: ['"beyond start-up" = median of the command minus median of `thoth --version`, measured alternately in the same run.'],
    };
  } finally {
    await rm(dir, {recursive: true, force: true});
  }
}
