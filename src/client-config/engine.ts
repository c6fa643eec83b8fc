import fastJsonPatch, {type Operation} from 'fast-json-patch';

import {ThothError, errnoCode, errorMessage} from '../core/errors.js';
import {ExitCode} from '../core/exit-codes.js';
import {loadValidator} from '../util/validators.js';
import {lockFileFor, writePlanned} from './apply.js';
import {ADAPTERS, CLIENT_IDS, type ClientId} from './clients/index.js';
import {parseConfigDocument} from './document.js';
import type {WrapSettings} from './entry-edit.js';
import type {ConfigHost} from './host.js';
import {entryChanges, type EntryChange} from './entry-diff.js';
import {planChange, type PlanRequest, type ServerChange} from './plan.js';
import {discoverTargets, notFound, targetForFile, type ConfigTarget} from './targets.js';

/**
 * `wrap-config` and `unwrap-config` as one library call: find the files, then for each one, under
 * its lock, read → plan → (unless --dry-run) back up and write atomically.
 */

export interface ChangeRequest {
  action: 'wrap' | 'unwrap';
  host: ConfigHost;
  /** A config file; without it, the installed clients' files are used. */
  file?: string;
  client?: ClientId;
  /** Every client found (without --client and without a file: Claude Desktop only). */
  all?: boolean;
  output?: string;
  dryRun?: boolean;
  /** Required for wrap. */
  settings?: WrapSettings;
  keepBackups?: number;
}

export interface FileChange {
  client: ClientId;
  file: string;
  output: string;
  scope: string;
  /** When the client was inferred from the file: which and why. */
  inferred?: string;
  /** The file's content differs from the plan (would change, with --dry-run). */
  changed: boolean;
  written: boolean;
  backup?: string;
  /** RFC 6902 patch from the file as read to the planned file. */
  patch: Operation[];
  /** Per server; a changed one with its command line before and after and the env names that change (entry-diff.ts). */
  servers: Array<ServerChange & Partial<EntryChange>>;
  error?: {code: string; message: string; exitCode: number};
}

export interface ChangeResult {
  action: 'wrap' | 'unwrap';
  dryRun: boolean;
  changed: boolean;
  files: FileChange[];
  /** Where thoth looked when no file was given. */
  searched?: string[];
}

export async function changeConfigs(request: ChangeRequest): Promise<ChangeResult> {
  if (request.action === 'wrap' && !request.settings) throw new Error('wrap needs settings');
  const {targets, searched} = await resolveTargets(request);
  if (request.output !== undefined && targets.length !== 1) {
    throw new ThothError('USAGE', `--output needs exactly one input config (found ${targets.length})`, {
      exitCode: ExitCode.USAGE,
      suggestions: ['Pass the input file, or --client to pick one client.'],
    });
  }
  const files: FileChange[] = [];
  for (const target of targets) {
    try {
      files.push(await changeOne(request, target));
    } catch (error) {
      if (targets.length === 1) throw error;
      const described =
        error instanceof ThothError
          ? {code: error.code, message: error.message, exitCode: error.exitCode}
          : {code: 'UNEXPECTED', message: errorMessage(error), exitCode: ExitCode.UNEXPECTED};
      files.push({
        client: target.client,
        file: target.file,
        output: target.file,
        scope: target.scope,
        changed: false,
        written: false,
        patch: [],
        servers: [],
        error: described,
      });
    }
  }
  const result: ChangeResult = {action: request.action, dryRun: request.dryRun === true, changed: files.some((f) => f.changed), files};
  if (searched) result.searched = searched;
  return result;
}

async function resolveTargets(request: ChangeRequest): Promise<{targets: ConfigTarget[]; searched?: string[]}> {
  const {host} = request;
  if (request.file !== undefined) {
    if (request.all)
      throw new ThothError('USAGE', '--all and a FILE exclude each other', {
        exitCode: ExitCode.USAGE,
        suggestions: ['Pass either a config file or --all.'],
      });
    return {targets: [await targetForFile(host, request.file, request.client)]};
  }
  const clients: readonly ClientId[] = request.client ? [request.client] : request.all ? CLIENT_IDS : ['claude-desktop'];
  const {found, searched} = await discoverTargets(host, clients);
  if (found.length === 0 && !request.all) {
    const labels = clients.map((id) => ADAPTERS[id].label).join(', ');
    throw new ThothError('CONFIG_NOT_FOUND', `no ${labels} config found (looked in ${searched.join(', ')})`, {
      exitCode: ExitCode.NOT_FOUND,
      suggestions: ['Pass the config file, --client NAME for another client, or --all for every client found.'],
    });
  }
  return {targets: found, searched};
}

async function changeOne(request: ChangeRequest, target: ConfigTarget): Promise<FileChange> {
  const {host} = request;
  const adapter = ADAPTERS[target.client];
  const output = request.output === undefined ? target.file : host.path.resolve(host.cwd, request.output);
  // A symlinked config (dotfile managers) is edited where it really is: renaming over the link would replace it.
  const destination = await host.fs.realpath(output);
  const validate = await loadValidator(adapter.schema);
  const planRequest: PlanRequest = request.action === 'wrap' ? {action: 'wrap', settings: request.settings!} : {action: 'unwrap'};

  const work = async (): Promise<FileChange> => {
    const inputBytes = await readExisting(host, target.file);
    const outputBytes = output === target.file ? inputBytes : await readOptional(host, output);
    const document = parseConfigDocument(target.file, inputBytes, {jsonc: adapter.jsonc});
    const plan = planChange(document, adapter, validate, planRequest);
    const secrets = [
      ...(request.settings?.apiKey === undefined ? [] : [{secret: request.settings.apiKey, label: '<redacted API key>'}]),
      ...plan.secrets.map((secret) => ({secret, label: '<redacted>'})),
    ];
    const after = plan.changed
      ? fastJsonPatch.applyPatch(structuredClone(document.value), plan.patch, false, false).newDocument
      : document.value;
    const change: FileChange = {
      client: target.client,
      file: target.file,
      output,
      scope: target.scope,
      changed: plan.changed,
      written: false,
      patch: redact(plan.patch, secrets),
      servers: entryChanges(document.value, after, plan.servers, (text) => redactText(text, secrets)),
    };
    if (target.inferred) change.inferred = target.inferred;
    const needsWrite = outputBytes === undefined || !sameBytes(outputBytes, plan.bytes);
    if (request.dryRun || !needsWrite) return change;
    const written = await writePlanned(host, {
      input: target.file,
      inputBytes,
      output: destination,
      outputBytes,
      data: plan.bytes,
      ...(request.keepBackups === undefined ? {} : {keepBackups: request.keepBackups}),
    });
    change.written = true;
    if (written.backup) change.backup = written.backup;
    return change;
  };
  if (request.dryRun) return work();
  if (!(await host.fs.stat(host.path.dirname(destination)))?.isDirectory) {
    throw new ThothError('CONFIG_NOT_FOUND', `${host.path.dirname(destination)}: no such directory`, {exitCode: ExitCode.NOT_FOUND});
  }
  try {
    return await host.fs.withLock(lockFileFor(destination), work);
  } catch (error) {
    // The lock file, the backup or the new file could not be created: say which file, exit 6.
    const code = errnoCode(error);
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      throw new ThothError('CONFIG_UNWRITABLE', `${destination}: permission denied (${code}); nothing was written`, {
        exitCode: ExitCode.SECURITY,
        suggestions: ['Run as the user who owns the file, or as root for another user.'],
        cause: error,
      });
    }
    throw error;
  }
}

async function readExisting(host: ConfigHost, file: string): Promise<Uint8Array> {
  try {
    return await host.fs.readFile(file);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') throw notFound(file);
    if (errnoCode(error) === 'EACCES' || errnoCode(error) === 'EPERM') {
      throw new ThothError('CONFIG_UNREADABLE', `${file}: permission denied`, {
        exitCode: ExitCode.SECURITY,
        suggestions: ['Run as the user who owns the file, or as root for another user.'],
      });
    }
    throw error;
  }
}

async function readOptional(host: ConfigHost, file: string): Promise<Uint8Array | undefined> {
  try {
    return await host.fs.readFile(file);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return (
    a.length === b.length &&
    Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0
  );
}

/**
 * The API key (--embed-api-key) goes into the file, never onto stdout: patches show a placeholder.
 * So do secrets thoth moves into THOTH_WRAP_ORIGINAL (FilePlan.secrets).
 */
function redact(patch: Operation[], secrets: ReadonlyArray<{secret: string; label: string}>): Operation[] {
  if (secrets.length === 0) return patch;
  const scrub = (value: unknown): unknown => {
    if (typeof value === 'string') return redactText(value, secrets);
    if (Array.isArray(value)) return value.map(scrub);
    if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrub(v)]));
    return value;
  };
  return patch.map((operation) => scrub(operation) as Operation);
}

function redactText(value: string, secrets: ReadonlyArray<{secret: string; label: string}>): string {
  return secrets.reduce((text, {secret, label}) => (text.includes(secret) ? text.replaceAll(secret, label) : text), value);
}
