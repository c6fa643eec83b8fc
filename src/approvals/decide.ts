import {auditSettingsFromResolved} from '../audit/settings.js';
import {resolveSettings} from '../settings/resolve.js';
import {recordApprovalDecision, type DecisionAuditEntry} from './decision-audit.js';
import {decideApproval, type ApprovalRecord} from './store.js';

export interface DecisionResult extends ApprovalRecord {
  /** Where the decision is on record; null when the audit trail is off (THOTH_AUDIT=off). */
  audit: DecisionAuditEntry | null;
}

export interface DecideIo {
  env?: NodeJS.ProcessEnv;
  now?: Date;
  warn?: (message: string) => void;
}

/**
 * `thoth approve` / `thoth deny`: the decision is written to the audit trail first, then applied.
 * Both happen under the approvals lock, after every check (unknown, already decided, expired), so
 * no session can use a grant that is not on record, and a failure to record leaves the request
 * pending. What remains is the rare failure to replace approvals.json after the event was
 * written: the trail then holds a decision that never took effect (no APPROVAL_USED follows it,
 * the command fails), which errs on the side of a refused call rather than an unrecorded one.
 */
export async function decideAndRecord(
  home: string,
  id: string,
  verdict: 'approved' | 'denied',
  options: {by: string; note?: string | undefined},
  io: DecideIo = {},
): Promise<DecisionResult> {
  const env = io.env ?? process.env;
  // The proxy's resolution (env > managed preferences > settings.json > profile); an invalid
  // THOTH_AUDIT_* value throws here, before anything is decided.
  const settings = auditSettingsFromResolved(await resolveSettings({env, profileDir: home}));
  let audit: DecisionAuditEntry | null = null;
  const record = await decideApproval(home, id, verdict, {
    by: options.by,
    ...(options.note !== undefined ? {note: options.note} : {}),
    ...(io.now ? {now: io.now} : {}),
    ...(settings.enabled
      ? {
          beforeApply: async (decided: ApprovalRecord) => {
            audit = await recordApprovalDecision(settings, decided, io.warn ? {warn: io.warn} : {});
          },
        }
      : {}),
  });
  if (!settings.enabled) io.warn?.('the audit trail is off (THOTH_AUDIT=off): this decision is not recorded');
  return {...record, audit};
}
