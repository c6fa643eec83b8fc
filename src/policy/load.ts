import {createHash} from 'node:crypto';
import {readFile, stat} from 'node:fs/promises';
import {join, resolve, win32} from 'node:path';

import type {ErrorObject} from 'ajv';
import type {ParseError} from 'jsonc-parser';

import {errnoCode} from '../core/errors.js';
import {thothHome} from '../profile/paths.js';
import type {SchemaProblem} from '../util/validators.js';
import {BUILTIN_POLICY} from './builtin-policy.js';
import {compilePolicy, type CompileOptions} from './compile.js';
import type {CompiledPolicy, PolicyDocument, PolicyProblem, PolicySource, PolicySourceKind} from './model.js';

export const POLICY_ENV = 'THOTH_POLICY_FILE';
export const BUILTIN_SOURCE: PolicySource = {kind: 'builtin', path: '<built-in>'};
const MAX_POLICY_BYTES = 16 * 1024 * 1024;

export interface PolicyLocationOptions {
  /** `--policy FILE`. */
  flag?: string | undefined;
  /** A policy file named by a managed preference (THOTH_POLICY_FILE set by MDM): it wins over flag and environment. */
  managedFile?: string | undefined;
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  /** A directory standing for the file-system root in front of the managed location (tests). */
  managedRoot?: string;
  /** Relative `--policy` / THOTH_POLICY_FILE paths resolve against it. */
  cwd?: string;
  /**
   * A policy document handed over in memory (the SDK's `policy` object): it takes the place of
   * `--policy`, so the managed location still comes first. Ignored, like the flag, when a managed
   * preference names the file.
   */
  inline?: InlinePolicy | undefined;
}

/** A policy document that is not a file: `label` names it wherever a path would (`<sdk policy object>`). */
export interface InlinePolicy {
  label: string;
  text: string;
}

export interface PolicyLoadOptions extends PolicyLocationOptions {
  compile?: CompileOptions;
}

export interface PolicyCandidate {
  kind: PolicySourceKind;
  path: string;
  /** Named explicitly (flag, env): a missing file is an error, not a reason to look further. */
  required: boolean;
  /** The document itself when it is held in memory (InlinePolicy): never looked up on disk, never changes. */
  inline?: string;
}

export interface PolicyFailure {
  source: PolicySource;
  problems: PolicyProblem[];
  /** One line naming the file, the field and the fix. */
  message: string;
}

export type PolicyLoadResult = {ok: true; policy: CompiledPolicy} | {ok: false; failure: PolicyFailure};

/**
 * Where an MDM installs the policy. Only an administrator can write there, which is what makes
 * it "managed".
 */
export function managedPolicyPath(
  platform: NodeJS.Platform = process.platform,
  env: NodeJS.ProcessEnv = process.env,
  root?: string,
): string {
  if (platform === 'win32') {
    const programData = env['ProgramData'] ?? env['PROGRAMDATA'] ?? 'C:\\ProgramData';
    const path = win32.join(programData, 'thoth', 'policy.json');
    return root === undefined ? path : join(root, path.replace(/^[a-z]:/i, '').replaceAll('\\', '/'));
  }
  const path = platform === 'darwin' ? '/Library/Application Support/thoth/policy.json' : '/etc/thoth/policy.json';
  return root === undefined ? path : join(root, path);
}

/**
 * The sources, highest precedence first. The managed location comes first: only an administrator
 * can write there, so a policy an MDM installed governs whatever a client entry's flags or
 * environment name (an agent that can edit the client's config could otherwise swap in its own
 * policy). Then --policy, THOTH_POLICY_FILE, the profile, and the built-in policy. A file named by
 * a managed preference (THOTH_POLICY_FILE set by MDM, `managedFile`) is managed too and comes
 * before the managed location.
 */
export function policyCandidates(options: PolicyLocationOptions = {}): PolicyCandidate[] {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const candidates: PolicyCandidate[] = [];
  if (options.managedFile !== undefined && options.managedFile !== '')
    candidates.push({kind: 'managed', path: resolve(cwd, options.managedFile), required: true});
  candidates.push({kind: 'managed', path: managedPolicyPath(options.platform, env, options.managedRoot), required: false});
  if (options.managedFile === undefined || options.managedFile === '') {
    if (options.inline !== undefined)
      candidates.push({kind: 'flag', path: options.inline.label, required: true, inline: options.inline.text});
    else if (options.flag !== undefined && options.flag !== '')
      candidates.push({kind: 'flag', path: resolve(cwd, options.flag), required: true});
    const fromEnv = env[POLICY_ENV];
    if (fromEnv !== undefined && fromEnv !== '') candidates.push({kind: 'env', path: resolve(cwd, fromEnv), required: true});
  }
  candidates.push({kind: 'profile', path: join(thothHome(env), 'policy.json'), required: false});
  return candidates;
}

/** What the file system says about a policy file: enough to tell whether it may have changed. */
export interface FileStamp {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  isFile: boolean;
}

/** The file-system calls policy loading makes; injected so that reload tests can drive them. */
export interface PolicyFs {
  /** Rejects with the errno error (ENOENT, EACCES, ...). */
  stat(path: string): Promise<FileStamp>;
  readFile(path: string): Promise<Buffer>;
}

export const nodePolicyFs: PolicyFs = {
  async stat(path) {
    const info = await stat(path);
    return {dev: info.dev, ino: info.ino, size: info.size, mtimeMs: info.mtimeMs, ctimeMs: info.ctimeMs, isFile: info.isFile()};
  },
  readFile: (path) => readFile(path),
};

/**
 * Which source governs, by precedence: the first candidate that exists, or the first one that
 * must exist and does not (a named file), or one that cannot even be looked at; else built-in.
 * `index` is the candidate's position (the built-in default comes after every candidate).
 */
export type PolicyLocation =
  | {kind: 'file'; index: number; candidate: PolicyCandidate; stamp: FileStamp}
  | {kind: 'absent'; index: number; candidate: PolicyCandidate}
  | {kind: 'unreadable'; index: number; candidate: PolicyCandidate; code: string}
  | {kind: 'builtin'; index: number};

/** A located policy and, for a usable file, its bytes: what is hashed is exactly what is compiled. */
export interface PolicySnapshot {
  location: PolicyLocation;
  /** The file's bytes (regular files within the size limit that could be read). */
  content?: Buffer;
  /** Why the bytes could not be read (errno code). */
  readError?: string;
  /** Identifies what was seen: the SHA-256 of the bytes, or the state when there are none. */
  fingerprint: string;
}

export async function locatePolicy(
  candidates: readonly PolicyCandidate[],
  fs: Pick<PolicyFs, 'stat'> = nodePolicyFs,
): Promise<PolicyLocation> {
  for (const [index, candidate] of candidates.entries()) {
    if (candidate.inline !== undefined) return {kind: 'file', index, candidate, stamp: inlineStamp(candidate.inline)};
    try {
      return {kind: 'file', index, candidate, stamp: await fs.stat(candidate.path)};
    } catch (error) {
      const code = errnoCode(error);
      const missing = code === 'ENOENT' || code === 'ENOTDIR';
      if (missing && !candidate.required) continue;
      if (missing) return {kind: 'absent', index, candidate};
      return {kind: 'unreadable', index, candidate, code: code ?? String(error)};
    }
  }
  return {kind: 'builtin', index: candidates.length};
}

/**
 * What an in-memory document is stamped with: constant, so the watcher never sees it change, and
 * its size, so the size limit applies to it as to a file.
 */
export function inlineStamp(text: string): FileStamp {
  return {dev: 0, ino: 0, size: Buffer.byteLength(text), mtimeMs: 0, ctimeMs: 0, isFile: true};
}

/** Reads the located file's bytes, unless there is nothing to read or it cannot be a policy. */
export async function readPolicySnapshot(location: PolicyLocation, fs: Pick<PolicyFs, 'readFile'> = nodePolicyFs): Promise<PolicySnapshot> {
  switch (location.kind) {
    case 'builtin':
      return {location, fingerprint: 'builtin'};
    case 'absent':
      return {location, fingerprint: 'absent'};
    case 'unreadable':
      return {location, fingerprint: `unreadable:${location.code}`};
    case 'file': {
      const {stamp} = location;
      if (!stamp.isFile) return {location, fingerprint: 'not-a-file'};
      if (stamp.size > MAX_POLICY_BYTES) return {location, fingerprint: `oversize:${stamp.size}`};
      if (location.candidate.inline !== undefined) {
        const content = Buffer.from(location.candidate.inline, 'utf8');
        return {location, content, fingerprint: `sha256:${createHash('sha256').update(content).digest('hex')}`};
      }
      try {
        const content = await fs.readFile(location.candidate.path);
        return {location, content, fingerprint: `sha256:${createHash('sha256').update(content).digest('hex')}`};
      } catch (error) {
        const code = errnoCode(error) ?? String(error);
        return {location, readError: code, fingerprint: `read-error:${code}`};
      }
    }
  }
}

/**
 * Compiles what a snapshot holds. A named file that is missing, a file that exists but cannot be
 * read, and a file that does not validate are all failures: the caller fails closed rather than
 * falling back to a weaker policy.
 */
export async function policyFromSnapshot(snapshot: PolicySnapshot, compileOptions?: CompileOptions): Promise<PolicyLoadResult> {
  const {location} = snapshot;
  if (location.kind === 'builtin') return builtinPolicy(compileOptions);
  const source: PolicySource = {kind: location.candidate.kind, path: location.candidate.path};
  if (location.kind === 'absent') {
    const via = location.candidate.kind === 'flag' ? '--policy' : POLICY_ENV;
    return fail(source, '', `does not exist (named by ${via})`, `create it or point ${via} at an existing policy`);
  }
  if (location.kind === 'unreadable') return fail(source, '', `cannot be read (${location.code})`, 'make it readable by this user');
  const unusable = unusableFile(location.stamp, source);
  if (unusable) return unusable;
  if (snapshot.content === undefined) {
    const code = snapshot.readError ?? 'unknown error';
    return code === 'ENOENT'
      ? fail(source, '', 'does not exist', 'create it or fix the path')
      : fail(source, '', `cannot be read (${code})`, 'make it readable by this user');
  }
  return parsePolicyText(snapshot.content.toString('utf8'), source, compileOptions);
}

/** Finds and loads the policy (see policyCandidates for the order, policyFromSnapshot for failures). */
export async function loadPolicy(options: PolicyLoadOptions = {}): Promise<PolicyLoadResult> {
  const location = await locatePolicy(policyCandidates(options));
  return policyFromSnapshot(await readPolicySnapshot(location), options.compile);
}

export function builtinPolicy(compileOptions?: CompileOptions): PolicyLoadResult {
  const compiled = compilePolicy(BUILTIN_POLICY, BUILTIN_SOURCE, compileOptions);
  if (!compiled.ok) throw new Error(`the built-in policy does not compile: ${compiled.problems.map((p) => p.message).join('; ')}`);
  return {ok: true, policy: compiled.policy};
}

export async function loadPolicyFile(
  path: string,
  kind: PolicySourceKind = 'flag',
  compileOptions?: CompileOptions,
): Promise<PolicyLoadResult> {
  const source: PolicySource = {kind, path};
  let text: string;
  try {
    const info = await stat(path);
    const unusable = unusableFile({size: info.size, isFile: info.isFile()}, source);
    if (unusable) return unusable;
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = errnoCode(error);
    return fail(
      source,
      '',
      code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? String(error)})`,
      code === 'ENOENT' ? 'create it or fix the path' : 'make it readable by this user',
    );
  }
  return parsePolicyText(text, source, compileOptions);
}

function unusableFile(stamp: Pick<FileStamp, 'size' | 'isFile'>, source: PolicySource): PolicyLoadResult | undefined {
  if (!stamp.isFile) return fail(source, '', 'is not a file', 'point at a policy .json file');
  if (stamp.size > MAX_POLICY_BYTES)
    return fail(
      source,
      '',
      `is ${stamp.size} bytes, more than the ${MAX_POLICY_BYTES} a policy may have`,
      'split it or remove unused rules',
    );
  return undefined;
}

/** Parses (JSONC), validates (schema) and compiles policy text. */
export async function parsePolicyText(text: string, source: PolicySource, compileOptions?: CompileOptions): Promise<PolicyLoadResult> {
  // Loaded here, not at import: the built-in policy (no file) never needs them.
  const [{parse, printParseErrorCode}, {describeSchemaErrors, loadValidator, offsetToPosition}] = await Promise.all([
    import('jsonc-parser'),
    import('../util/validators.js'),
  ]);
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const errors: ParseError[] = [];
  const document = parse(body, errors, {allowTrailingComma: true, disallowComments: false, allowEmptyContent: false}) as unknown;
  if (errors.length > 0) {
    const problems = errors.map((error): PolicyProblem => ({
      file: source.path,
      pointer: '',
      ...offsetToPosition(body, error.offset),
      message: `invalid JSON: ${describeParseError(printParseErrorCode(error.error))}`,
    }));
    return failWith(source, problems, 'fix the syntax (JSON with comments and trailing commas is accepted)');
  }
  const validate = await loadValidator('policy');
  if (!validate(document)) {
    const problems = describeSchemaErrors(validate.errors ?? [], body).map((problem): PolicyProblem => ({file: source.path, ...problem}));
    return failWith(source, dedupe(problems), 'see schemas/policy.schema.json for the allowed fields');
  }
  const compiled = compilePolicy(document as PolicyDocument, source, compileOptions);
  if (!compiled.ok) {
    const asErrors = compiled.problems.map(
      (problem) => ({instancePath: problem.pointer, keyword: 'thoth', params: {}, schemaPath: '', message: problem.message}) as ErrorObject,
    );
    const problems = describeSchemaErrors(asErrors, body).map((problem): PolicyProblem => ({file: source.path, ...problem}));
    return failWith(source, problems, 'fix the field named');
  }
  return {ok: true, policy: compiled.policy};
}

/** One line: `file:line:column at /pointer: message` (as formatSchemaProblem). */
export function formatPolicyProblem(problem: PolicyProblem | (SchemaProblem & {file: string})): string {
  const where = problem.line === undefined ? problem.file : `${problem.file}:${problem.line}:${problem.column ?? 1}`;
  return `${where} at ${problem.pointer === '' ? '/' : problem.pointer}: ${problem.message}`;
}

function fail(source: PolicySource, pointer: string, what: string, fix: string): {ok: false; failure: PolicyFailure} {
  const problem: PolicyProblem = {file: source.path, pointer, message: what};
  return {ok: false, failure: {source, problems: [problem], message: `policy ${source.path} ${what}: ${fix}`}};
}

function failWith(source: PolicySource, unsorted: PolicyProblem[], fix: string): {ok: false; failure: PolicyFailure} {
  // In file order, so the first one reported is the first one a reader meets.
  const problems = [...unsorted].sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity) || (a.column ?? 0) - (b.column ?? 0));
  const first = problems[0];
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
  const where = first ? formatPolicyProblem(first) : source.path;
  return {
    ok: false,
    failure: {source, problems, message: `policy ${where}${more}: ${fix}; check it with: thoth policy validate ${source.path}`},
  };
}

function dedupe(problems: PolicyProblem[]): PolicyProblem[] {
  const seen = new Set<string>();
  return problems.filter((problem) => {
    const key = `${problem.pointer}\u0000${problem.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function describeParseError(code: string): string {
  return code.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
}
