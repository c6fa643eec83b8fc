import {readdir, stat} from 'node:fs/promises';
import {join} from 'node:path';

import {approvalsFile} from '../approvals/store.js';
import {HEALTH_AUDIT_BOUND, verifyRecentAudit, type AuditCheckBound} from '../audit/bounded-verify.js';
import type {VerifyOptions, VerifyProblem} from '../audit/verify.js';
import {ThothError} from '../core/errors.js';
import {pinsDirectory} from '../pins/store.js';
import {describeOrigin} from '../settings/resolve.js';
import type {AuditFact, HealthContext} from './health-providers.js';

export interface AuditFactOptions {
  bound?: AuditCheckBound;
  isWriterAlive?: VerifyOptions['isWriterAlive'];
}

/**
 * The audit chain, verified within a bound (src/audit/bounded-verify.ts: the registry, then the
 * newest chains up to 50 chains / 32 MiB) so that health stays quick however old the trail is.
 * intact → ok; only crash artefacts (a torn last line, a chain whose writer died) → warn;
 * tampering, or a trail whose key is gone → fail; nothing written yet → ok, but only on a profile
 * where no session has run: no trail although sessions left their traces (the audit key, pins,
 * progressive baselines, approvals) → warn, the trail was deleted or moved.
 */
export async function auditFact(context: HealthContext, options: AuditFactOptions = {}): Promise<AuditFact> {
  const {values, origins} = context.settings;
  const dir = values.auditDir;
  if (!values.auditEnabled) {
    return {
      state: 'warn',
      summary: `the audit trail is off (THOTH_AUDIT, ${describeOrigin(origins.auditEnabled)}): tool calls are not recorded`,
      path: dir,
    };
  }
  const bound = options.bound ?? HEALTH_AUDIT_BOUND;
  let result;
  try {
    result = await verifyRecentAudit(
      {dir, keyFile: values.auditKeyFile},
      bound,
      options.isWriterAlive ? {isWriterAlive: options.isWriterAlive} : {},
    );
  } catch (error) {
    if (error instanceof ThothError && error.code === 'AUDIT_KEY_NOT_FOUND') {
      return {state: 'fail', summary: `the trail in ${dir} cannot be verified: ${error.message}`, path: dir};
    }
    throw error;
  }
  if (result.empty) {
    const traces = await sessionTraces(values.auditKeyFile, context.settings.profileDir);
    if (traces.length === 0) return {state: 'ok', summary: 'no audit log yet', path: dir};
    // warn, not fail: a person may have removed the trail on purpose (disk space, a reset) and
    // nothing is left to verify; the issue asks for a warning, which already makes health
    // degraded (exit 11) for MDM to act on. Tampering inside a trail that exists stays fail.
    const where = (await isDirectory(dir)) ? `${dir} is empty` : `${dir} does not exist`;
    return {
      state: 'warn',
      summary: `no audit trail: ${where}, although sessions have run on this profile (${traces.join('; ')}): the trail was deleted or moved (a moved trail: set THOTH_AUDIT_DIR to it)`,
      path: dir,
    };
  }

  const {report, totalChains, checkedChains} = result;
  const coverage =
    checkedChains === totalChains
      ? `${totalChains} chain${totalChains === 1 ? '' : 's'} and the registry, ${report.records} records`
      : `the registry and the newest ${checkedChains} of ${totalChains} chains, ${report.records} records (bounded to ${bound.maxChains} chains / ${mebibytes(bound.maxBytes)}; \`thoth audit verify\` checks all)`;
  if (report.status === 'intact') return {state: 'ok', summary: `intact: ${coverage}`, path: dir};
  const [first] = report.problems;
  const where = first === undefined ? '' : `: ${describeProblem(first)}`;
  const more = report.problems.length > 1 ? ` (and ${report.problems.length - 1} more)` : '';
  if (report.status === 'tampered') {
    return {state: 'fail', summary: `tampered${where}${more}; verified ${coverage}`, path: dir};
  }
  return {state: 'warn', summary: `left incomplete by a crash${where}${more}; verified ${coverage}`, path: dir};
}

/** What sessions leave behind besides the trail, each as a short phrase; empty on a fresh profile. */
async function sessionTraces(keyFile: string, profileDir: string): Promise<string[]> {
  const traces: string[] = [];
  if (await exists(keyFile)) traces.push(`the audit key ${keyFile} exists`);
  if (await hasEntries(pinsDirectory(profileDir))) traces.push('tool pins exist');
  if (await hasEntries(join(profileDir, 'baselines'))) traces.push('progressive baselines exist');
  if (await exists(approvalsFile(profileDir))) traces.push('approvals exist');
  return traces;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then(
    (info) => info.isDirectory(),
    () => false,
  );
}

async function hasEntries(dir: string): Promise<boolean> {
  return readdir(dir).then(
    (names) => names.length > 0,
    () => false,
  );
}

function describeProblem(problem: VerifyProblem): string {
  return `${problem.file}${problem.line === undefined ? '' : `:${problem.line}`}: ${problem.message}`;
}

function mebibytes(bytes: number): string {
  return `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MiB`;
}
