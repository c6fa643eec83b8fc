import {readFile, stat} from 'node:fs/promises';
import {join, resolve, win32} from 'node:path';

import type {ErrorObject} from 'ajv';
import type {ParseError} from 'jsonc-parser';

import {errnoCode} from '../cli/errors.js';
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
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  /** A directory standing for the file-system root in front of the managed location (tests). */
  managedRoot?: string;
  /** Relative `--policy` / THOTH_POLICY_FILE paths resolve against it. */
  cwd?: string;
}

export interface PolicyLoadOptions extends PolicyLocationOptions {
  compile?: CompileOptions;
}

export interface PolicyCandidate {
  kind: PolicySourceKind;
  path: string;
  /** Named explicitly (flag, env): a missing file is an error, not a reason to look further. */
  required: boolean;
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
export function managedPolicyPath(platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env, root?: string): string {
  if (platform === 'win32') {
    const programData = env['ProgramData'] ?? env['PROGRAMDATA'] ?? 'C:\\ProgramData';
    const path = win32.join(programData, 'thoth', 'policy.json');
    return root === undefined ? path : join(root, path.replace(/^[a-z]:/i, '').replaceAll('\\', '/'));
  }
  const path = platform === 'darwin' ? '/Library/Application Support/thoth/policy.json' : '/etc/thoth/policy.json';
  return root === undefined ? path : join(root, path);
}

/** The sources, highest precedence first: flag, THOTH_POLICY_FILE, managed, profile, built-in. */
export function policyCandidates(options: PolicyLocationOptions = {}): PolicyCandidate[] {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const candidates: PolicyCandidate[] = [];
  if (options.flag !== undefined && options.flag !== '') candidates.push({kind: 'flag', path: resolve(cwd, options.flag), required: true});
  const fromEnv = env[POLICY_ENV];
  if (fromEnv !== undefined && fromEnv !== '') candidates.push({kind: 'env', path: resolve(cwd, fromEnv), required: true});
  candidates.push({kind: 'managed', path: managedPolicyPath(options.platform, env, options.managedRoot), required: false});
  candidates.push({kind: 'profile', path: join(thothHome(env), 'policy.json'), required: false});
  return candidates;
}

/**
 * Finds and loads the policy. A named file that is missing, a file that exists but cannot be
 * read, and a file that does not validate are all failures: the caller fails closed rather
 * than falling back to a weaker policy.
 */
export async function loadPolicy(options: PolicyLoadOptions = {}): Promise<PolicyLoadResult> {
  for (const candidate of policyCandidates(options)) {
    const source: PolicySource = {kind: candidate.kind, path: candidate.path};
    try {
      await stat(candidate.path);
    } catch (error) {
      const code = errnoCode(error);
      const missing = code === 'ENOENT' || code === 'ENOTDIR';
      if (missing && !candidate.required) continue;
      if (!missing) return fail(source, '', `cannot be read (${code ?? String(error)})`, 'make it readable by this user');
      const via = candidate.kind === 'flag' ? '--policy' : POLICY_ENV;
      return fail(source, '', `does not exist (named by ${via})`, `create it or point ${via} at an existing policy`);
    }
    return loadPolicyFile(candidate.path, candidate.kind, options.compile);
  }
  const compiled = compilePolicy(BUILTIN_POLICY, BUILTIN_SOURCE, options.compile);
  if (!compiled.ok) throw new Error(`the built-in policy does not compile: ${compiled.problems.map((p) => p.message).join('; ')}`);
  return {ok: true, policy: compiled.policy};
}

export async function loadPolicyFile(path: string, kind: PolicySourceKind = 'flag', compileOptions?: CompileOptions): Promise<PolicyLoadResult> {
  const source: PolicySource = {kind, path};
  let text: string;
  try {
    const info = await stat(path);
    if (!info.isFile()) return fail(source, '', 'is not a file', 'point at a policy .json file');
    if (info.size > MAX_POLICY_BYTES) return fail(source, '', `is ${info.size} bytes, more than the ${MAX_POLICY_BYTES} a policy may have`, 'split it or remove unused rules');
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = errnoCode(error);
    return fail(source, '', code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? String(error)})`, code === 'ENOENT' ? 'create it or fix the path' : 'make it readable by this user');
  }
  return parsePolicyText(text, source, compileOptions);
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
    const problems = errors.map((error): PolicyProblem => ({file: source.path, pointer: '', ...offsetToPosition(body, error.offset), message: `invalid JSON: ${describeParseError(printParseErrorCode(error.error))}`}));
    return failWith(source, problems, 'fix the syntax (JSON with comments and trailing commas is accepted)');
  }
  const validate = await loadValidator('policy');
  if (!validate(document)) {
    const problems = describeSchemaErrors(validate.errors ?? [], body).map((problem): PolicyProblem => ({file: source.path, ...problem}));
    return failWith(source, dedupe(problems), 'see schemas/policy.schema.json for the allowed fields');
  }
  const compiled = compilePolicy(document as PolicyDocument, source, compileOptions);
  if (!compiled.ok) {
    const asErrors = compiled.problems.map((problem) => ({instancePath: problem.pointer, keyword: 'thoth', params: {}, schemaPath: '', message: problem.message}) as ErrorObject);
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
  return {ok: false, failure: {source, problems, message: `policy ${where}${more}: ${fix}; check it with: thoth policy validate ${source.path}`}};
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

