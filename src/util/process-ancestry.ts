import {execFile as nodeExecFile} from 'node:child_process';
import {readFile as nodeReadFile} from 'node:fs/promises';
import {join} from 'node:path';

import {errnoCode, errorMessage} from '../core/errors.js';

/**
 * Which processes an approving command runs under. `thoth approve` must not be run by the agent
 * whose call it approves: an agent with a shell tool runs commands as a child of the server that
 * `thoth run` governs, so a `thoth run` among the ancestors gives it away. (An environment marker
 * alone would not: a shell can unset it.) Linux reads /proc; macOS asks `ps` and Windows asks
 * CIM for the whole process table once, through an injected runner, never through a shell.
 */
export interface ProcessEntry {
  pid: number;
  ppid: number;
  /** argv where the OS keeps it (Linux); otherwise the command line split at white space, quotes stripped. */
  words: string[];
}

/** Runs a program without a shell; resolves with its stdout. */
export type ExecFile = (file: string, args: readonly string[]) => Promise<string>;

export interface AncestryIo {
  platform?: NodeJS.Platform;
  /** Where the walk starts (the approving process itself). */
  pid?: number;
  readFile?: (path: string) => Promise<Buffer>;
  execFile?: ExecFile;
  env?: NodeJS.ProcessEnv;
}

/** The process table could not be read: the caller refuses rather than guess. */
export class ProcessInspectionError extends Error {}

const MAX_DEPTH = 128;

/**
 * The first ancestor (parent, grandparent, ...) that is a `thoth run`, or undefined. Throws
 * ProcessInspectionError when the process table cannot be read at all.
 */
export async function governingAncestor(io: AncestryIo = {}): Promise<ProcessEntry | undefined> {
  const platform = io.platform ?? process.platform;
  const lookup = platform === 'linux' || platform === 'android' ? linuxLookup(io) : await tableLookup(platform, io);
  const self = await lookup(io.pid ?? process.pid);
  if (!self) throw new ProcessInspectionError(`process ${io.pid ?? process.pid} (this command) is not in the process table`);
  const seen = new Set<number>([self.pid]);
  let pid = self.ppid;
  for (let depth = 0; depth < MAX_DEPTH && pid > 0 && !seen.has(pid); depth++) {
    seen.add(pid);
    const entry = await lookup(pid);
    // Gone meanwhile, or not ours to see (hidepid): nothing above it can be inspected.
    if (!entry) return undefined;
    if (isThothRun(entry.words)) return entry;
    pid = entry.ppid;
  }
  return undefined;
}

/**
 * `thoth run` by its argv: the thoth entry script (`…/bin/run.js`) or a `thoth` launcher,
 * followed by `run`. Anything before it (node, its flags, npx) does not matter.
 */
export function isThothRun(words: readonly string[]): boolean {
  for (let i = 0; i < words.length - 1; i++) {
    if (words[i + 1] === 'run' && isThothEntry(words[i]!)) return true;
  }
  return false;
}

function isThothEntry(word: string): boolean {
  const normalised = word.replaceAll('\\', '/');
  if (/(^|\/)bin\/run\.js$/.test(normalised)) return true;
  const base = normalised.slice(normalised.lastIndexOf('/') + 1).toLowerCase();
  return base === 'thoth' || base === 'thoth.exe' || base === 'thoth.cmd' || base === 'thoth.ps1';
}

/** A command line as `ps` or CIM report it, in words: white space separates, quotes are dropped. */
export function commandWords(commandLine: string): string[] {
  return commandLine
    .split(/\s+/)
    .map((word) => word.replace(/^["']+|["']+$/g, ''))
    .filter((word) => word !== '');
}

/**
 * /proc/<pid>/stat: `pid (comm) state ppid …`. comm may hold spaces and parentheses, so the
 * fields are counted from the last `)`.
 */
export function parseLinuxStat(text: string): {pid: number; ppid: number} {
  const close = text.lastIndexOf(')');
  const pid = Number.parseInt(text, 10);
  const fields = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const ppid = Number(fields[1]);
  if (close === -1 || !Number.isSafeInteger(pid) || !Number.isSafeInteger(ppid))
    throw new ProcessInspectionError(`unexpected /proc stat line: ${text.slice(0, 80)}`);
  return {pid, ppid};
}

/** /proc/<pid>/cmdline: argv, each followed by a NUL. */
export function parseLinuxCmdline(data: Buffer): string[] {
  const words = data.toString('utf8').split('\0');
  if (words.at(-1) === '') words.pop();
  return words;
}

function linuxLookup(io: AncestryIo): (pid: number) => Promise<ProcessEntry | undefined> {
  const read = io.readFile ?? ((path: string) => nodeReadFile(path));
  return async (pid) => {
    let stat: Buffer;
    let cmdline: Buffer;
    try {
      [stat, cmdline] = await Promise.all([read(`/proc/${pid}/stat`), read(`/proc/${pid}/cmdline`)]);
    } catch (error) {
      const code = errnoCode(error);
      if (code === 'ENOENT' || code === 'ESRCH' || code === 'EACCES' || code === 'EPERM') return undefined;
      throw new ProcessInspectionError(`/proc/${pid} cannot be read: ${errorMessage(error)}`);
    }
    return {...parseLinuxStat(stat.toString('utf8')), words: parseLinuxCmdline(cmdline)};
  };
}

/**
 * `ps -A -ww -o pid=,ppid=,command=` (macOS, BSD): one process per line, pid and ppid right
 * aligned, then the command line. A header line, if any, is skipped.
 */
export function parsePsTable(stdout: string): Map<number, ProcessEntry> {
  const table = new Map<number, ProcessEntry>();
  for (const line of stdout.split(/\r?\n/)) {
    const match = /^\s*(\d+)\s+(\d+)(?:\s+(.*))?$/.exec(line);
    if (!match) continue;
    const pid = Number(match[1]);
    table.set(pid, {pid, ppid: Number(match[2]), words: commandWords(match[3] ?? '')});
  }
  return table;
}

/** The CIM query thoth runs on Windows (PowerShell 5.1 and 7): every process, as JSON. */
export const WINDOWS_PROCESS_QUERY =
  "$ProgressPreference = 'SilentlyContinue'; Get-CimInstance -ClassName Win32_Process | Select-Object ProcessId,ParentProcessId,CommandLine | ConvertTo-Json -Compress";

/** ConvertTo-Json of Win32_Process rows: an array (a single object when there is one row); CommandLine may be null. */
export function parseCimProcesses(stdout: string): Map<number, ProcessEntry> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout.replace(/^\uFEFF/, ''));
  } catch (error) {
    throw new ProcessInspectionError(`the process list from CIM is not JSON (${errorMessage(error)})`);
  }
  const rows = Array.isArray(parsed) ? parsed : [parsed];
  const table = new Map<number, ProcessEntry>();
  for (const row of rows as Array<Record<string, unknown>>) {
    const pid = row?.['ProcessId'];
    const ppid = row?.['ParentProcessId'];
    if (typeof pid !== 'number' || typeof ppid !== 'number') continue;
    const commandLine = row['CommandLine'];
    table.set(pid, {pid, ppid, words: typeof commandLine === 'string' ? commandWords(commandLine) : []});
  }
  return table;
}

async function tableLookup(platform: NodeJS.Platform, io: AncestryIo): Promise<(pid: number) => Promise<ProcessEntry | undefined>> {
  const run = io.execFile ?? defaultExecFile;
  let table: Map<number, ProcessEntry>;
  try {
    if (platform === 'win32') {
      // Absolute paths: a PATH the agent chose must not pick the program that answers.
      const systemRoot = io.env?.['SystemRoot'] ?? process.env['SystemRoot'] ?? 'C:\\Windows';
      const powershell = join(systemRoot, 'System32', 'WindowsPowerShell', 'v1.0', 'powershell.exe');
      const encoded = Buffer.from(WINDOWS_PROCESS_QUERY, 'utf16le').toString('base64');
      table = parseCimProcesses(await run(powershell, ['-NoProfile', '-NonInteractive', '-EncodedCommand', encoded]));
    } else {
      table = parsePsTable(await run('/bin/ps', ['-A', '-ww', '-o', 'pid=,ppid=,command=']));
    }
  } catch (error) {
    if (error instanceof ProcessInspectionError) throw error;
    throw new ProcessInspectionError(`the process list could not be read: ${errorMessage(error)}`);
  }
  return async (pid) => table.get(pid);
}

const defaultExecFile: ExecFile = (file, args) =>
  new Promise((resolve, reject) => {
    nodeExecFile(file, [...args], {timeout: 10_000, maxBuffer: 32 * 1024 * 1024, windowsHide: true, encoding: 'utf8'}, (error, stdout) => {
      if (error) reject(error);
      else resolve(stdout);
    });
  });
