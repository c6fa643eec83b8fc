import {resolve} from 'node:path';

import {auditSettingsFromResolved, type AuditSettings} from '../audit/settings.js';
import {ThothError} from '../core/errors.js';
import {ExitCode} from '../core/exit-codes.js';
import {describeOrigin, resolveSettings, type ResolvedSettings, type ResolveSettingsOptions} from '../settings/resolve.js';
import {recordApprovalDecision, type DecisionAuditEntry} from './decision-audit.js';
import {assertOutsideGovernedSession} from './governed-session.js';
import type {AncestryIo} from '../util/process-ancestry.js';
import {approvalCommandFor} from './step-up.js';
import {decideApproval, type ApprovalRecord} from './store.js';

export interface DecisionResult extends ApprovalRecord {
  /** Where the decision is on record; null when the audit trail is off (THOTH_AUDIT=off, deny only). */
  audit: DecisionAuditEntry | null;
}

export interface DecideIo {
  env?: NodeJS.ProcessEnv;
  /** Tests: how the parent processes are read (see governed-session.ts). */
  ancestry?: AncestryIo;
  now?: Date;
  warn?: (message: string) => void;
  /** Tests: the settings resolver's other inputs (managed preferences). */
  resolve?: Omit<ResolveSettingsOptions, 'env' | 'profileDir'>;
}

export interface DecideOptions {
  by: string;
  note?: string | undefined;
  /** --audit-dir: the audit directory of the session that asked, when it is not the default one. */
  auditDir?: string | undefined;
}

/**
 * `thoth approve` / `thoth deny`: the decision is written to the audit trail first, then applied.
 * Both happen under the approvals lock, after every check (unknown, already decided, expired), so
 * no session can use a grant that is not on record, and a failure to record leaves the request
 * pending. What remains is the rare failure to replace approvals.json after the event was
 * written: the trail then holds a decision that never took effect (no APPROVAL_USED follows it,
 * the command fails), which errs on the side of a refused call rather than an unrecorded one.
 *
 * The sealed APPROVAL_GRANTED is the grant's authority (a session checks it before honouring the
 * grant: grant-proof.ts), so it goes where the session that asked looks: the audit directory it
 * recorded with the request. The command writes there only when told to (--audit-dir), never
 * because approvals.json says so: that file is anyone's to edit.
 */
export async function decideAndRecord(
  home: string,
  id: string,
  verdict: 'approved' | 'denied',
  options: DecideOptions,
  io: DecideIo = {},
): Promise<DecisionResult> {
  const env = io.env ?? process.env;
  // First of all: the agent waiting for this decision must not be the one taking it.
  const verb = verdict === 'approved' ? 'thoth approve' : 'thoth deny';
  await assertOutsideGovernedSession(
    verb,
    verdict === 'approved' ? 'the agent would approve its own call' : 'an agent would decide on its own calls',
    {env, ...(io.ancestry ? {ancestry: io.ancestry} : {})},
  );
  // The proxy's resolution (env > managed preferences > settings.json > profile); an invalid
  // THOTH_AUDIT_* value throws here, before anything is decided.
  const resolved = await resolveSettings({...io.resolve, env, profileDir: home});
  assertCliApprovalsOn(resolved, verb);
  const settings = auditSettingsFromResolved(resolved, {dir: options.auditDir});
  if (!settings.enabled && verdict === 'approved') {
    throw new ThothError(
      'APPROVAL_NOT_RECORDED',
      'the audit trail is off (THOTH_AUDIT=off): a grant counts only once the audit trail holds it, so thoth approve cannot grant anything',
      {
        exitCode: ExitCode.SECURITY,
        suggestions: [
          'Turn the audit trail on (unset THOTH_AUDIT, or set it to on) and approve again.',
          'Refusing (thoth deny) works with the trail off.',
        ],
      },
    );
  }
  let audit: DecisionAuditEntry | null = null;
  const record = await decideApproval(home, id, verdict, {
    by: options.by,
    ...(options.note !== undefined ? {note: options.note} : {}),
    ...(io.now ? {now: io.now} : {}),
    ...(settings.enabled
      ? {
          beforeApply: async (decided: ApprovalRecord) => {
            assertSameAuditDir(decided, settings, home, verdict);
            const entry = await recordApprovalDecision(settings, decided, io.warn ? {warn: io.warn} : {});
            audit = entry;
            return entry;
          },
        }
      : {}),
  });
  if (!settings.enabled) io.warn?.('the audit trail is off (THOTH_AUDIT=off): this decision is not recorded');
  return {...record, audit};
}

/**
 * THOTH_CLI_APPROVALS=off (a fleet's choice): decisions come from the client's prompt or the
 * control plane only. An invalid value refuses too: the setting exists to take a power away.
 */
function assertCliApprovalsOn(resolved: ResolvedSettings, verb: string): void {
  const problem = resolved.problems.find((text) => text.startsWith('THOTH_CLI_APPROVALS from '));
  if (problem !== undefined) {
    throw new ThothError('SETTINGS_INVALID', `invalid setting: ${problem}; ${verb} refuses until it is fixed`, {
      exitCode: ExitCode.INVALID_INPUT,
      suggestions: ['Set THOTH_CLI_APPROVALS to on or off (`thoth config show` says where it comes from).'],
    });
  }
  if (resolved.values.cliApprovals) return;
  throw new ThothError(
    'CLI_APPROVALS_OFF',
    `command-line approvals are turned off on this computer (THOTH_CLI_APPROVALS=off, ${describeOrigin(resolved.origins.cliApprovals)}): ${verb} cannot decide`,
    {
      exitCode: ExitCode.SECURITY,
      suggestions: ["Approve or refuse in the prompt your MCP client shows, or through your organisation's control plane."],
    },
  );
}

/** A grant recorded where the session does not look would be ignored: say where to record it instead. */
function assertSameAuditDir(record: ApprovalRecord, settings: AuditSettings, home: string, verdict: 'approved' | 'denied'): void {
  if (record.auditDir === undefined || resolve(record.auditDir) === resolve(settings.dir)) return;
  const verb = verdict === 'approved' ? 'approve' : 'deny';
  throw new ThothError(
    'APPROVAL_AUDIT_DIR_MISMATCH',
    `approval ${record.id} was requested by a session that keeps its audit trail in ${record.auditDir}; this command would record the decision in ${settings.dir}, where that session does not look`,
    {
      exitCode: ExitCode.USAGE,
      suggestions: [`Run: ${approvalCommandFor(verb, record.id, {home, auditDir: record.auditDir})}`],
    },
  );
}
