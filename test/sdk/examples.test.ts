import {spawn} from 'node:child_process';
import {existsSync} from 'node:fs';
import {readFile, writeFile} from 'node:fs/promises';
import {join} from 'node:path';

import {describe, expect, it} from 'vitest';

import {REPO_ROOT} from '../helpers/cli.js';
import {anthropicToolResults, openaiToolMessages, startScriptedModel, type ScriptStep} from '../helpers/scripted-model.js';
import {tempDir} from '../helpers/tmp.js';
import {approveThePendingCall, expectTrailVerifies, toolCallEvents} from './helpers.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs an example as a user would (`node examples/…`, importing `thoth-mcp/sdk` from the built package). */
function runExample(file: string, env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'examples', file), 'Tidy up the workspace'], {
      cwd: REPO_ROOT,
      env: {PATH: process.env['PATH'], HOME: process.env['HOME'], ...env},
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 50_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({code, stdout, stderr});
    });
  });
}

/**
 * The model lists, reads and tries to delete; then writes a summary, which needs approval; a
 * person approves it from their own terminal (this test process), and the model retries.
 */
function tidyUp(home: string, results: (request: Record<string, unknown>) => string[]): {steps: ScriptStep[]; seen: string[][]} {
  const seen: string[][] = [];
  const steps: ScriptStep[] = [
    () => ({
      calls: [
        {name: 'list_files', input: {}},
        {name: 'read_file', input: {path: 'notes.txt'}},
        {name: 'delete_file', input: {path: 'notes.txt'}},
      ],
    }),
    (request) => {
      seen.push(results(request));
      return {calls: [{name: 'write_file', input: {path: 'summary.txt', text: 'one note'}}]};
    },
    async (request) => {
      seen.push(results(request));
      await approveThePendingCall(home, 'write_file');
      return {calls: [{name: 'write_file', input: {path: 'summary.txt', text: 'one note'}}]};
    },
    (request) => {
      seen.push(results(request));
      return {text: 'The workspace is tidy.'};
    },
  ];
  return {steps, seen};
}

async function expectTidiedUp(home: string, workspace: string, run: Run, seen: string[][]): Promise<void> {
  expect(run.code, run.stderr).toBe(0);
  expect(run.stdout).toBe('The workspace is tidy.\n');
  // The delete was refused, the write ran once approved.
  expect(await readFile(join(workspace, 'notes.txt'), 'utf8')).toBe('remember the milk');
  expect(await readFile(join(workspace, 'summary.txt'), 'utf8')).toBe('one note');
  expect(seen[0]).toEqual(['["notes.txt"]', 'remember the milk', expect.stringContaining('thoth: tool "delete_file" was blocked')]);
  expect(seen[1]?.[0]).toMatch(/thoth: tool "write_file" needs approval: writes need a person's approval/);
  expect(seen[2]?.[0]).toContain('"written":8');
  // The operator's channel (stderr) names the command; the model's does not.
  expect(run.stderr).toMatch(/to allow this one call, run in your own terminal: thoth approve [a-z0-9]+/);
  expect(seen.flat().join('\n')).not.toContain('thoth approve ');

  const events = await expectTrailVerifies(home);
  expect(toolCallEvents(events).filter(([type]) => type === 'TOOL_CALL_PRE')).toEqual(
    expect.arrayContaining([
      ['TOOL_CALL_PRE', 'list_files', 'allow'],
      ['TOOL_CALL_PRE', 'read_file', 'allow'],
      ['TOOL_CALL_PRE', 'delete_file', 'block'],
      ['TOOL_CALL_PRE', 'write_file', 'step_up'],
      ['TOOL_CALL_PRE', 'write_file', 'allow'],
    ]),
  );
  expect(events.find((event) => event.type === 'SESSION_START')).toMatchObject({
    agentId: 'file-agent',
    sdk: {program: expect.stringMatching(/-agent\.mjs$/)},
  });
}

async function workspaceWithNotes(): Promise<string> {
  const workspace = await tempDir();
  await writeFile(join(workspace, 'notes.txt'), 'remember the milk');
  return workspace;
}

describe('the examples run against the scripted model', () => {
  it('examples/anthropic-agent.mjs (the tool runner of @anthropic-ai/sdk)', async () => {
    expect(existsSync(join(REPO_ROOT, 'dist', 'sdk', 'index.js')), 'build first: node scripts/build.mjs').toBe(true);
    const home = await tempDir();
    const workspace = await workspaceWithNotes();
    const {steps, seen} = tidyUp(home, (request) => anthropicToolResults(request).map((result) => result.text));
    const model = await startScriptedModel(steps);
    let run: Run;
    try {
      run = await runExample('anthropic-agent.mjs', {
        THOTH_HOME: home,
        WORKSPACE: workspace,
        ANTHROPIC_BASE_URL: model.anthropicBaseUrl,
        ANTHROPIC_API_KEY: 'test-key',
      });
    } finally {
      await model.close();
    }
    await expectTidiedUp(home, workspace, run, seen);
  });

  it('examples/openai-agent.mjs (runTools of openai)', async () => {
    const home = await tempDir();
    const workspace = await workspaceWithNotes();
    const {steps, seen} = tidyUp(home, (request) => openaiToolMessages(request).map((message) => message.content));
    const model = await startScriptedModel(steps);
    let run: Run;
    try {
      run = await runExample('openai-agent.mjs', {
        THOTH_HOME: home,
        WORKSPACE: workspace,
        OPENAI_BASE_URL: model.openaiBaseUrl,
        OPENAI_API_KEY: 'test-key',
      });
    } finally {
      await model.close();
    }
    await expectTidiedUp(home, workspace, run, seen);
  });
});
