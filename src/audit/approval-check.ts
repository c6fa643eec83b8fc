import type {KeptEvent, VerifyProblem} from './verify.js';

/** An APPROVAL_USED or APPROVAL_GRANTED (via cli) found while replaying, and where. */
export interface ApprovalEventAt extends KeptEvent {
  file: string;
  chain: string;
  /** The chain it is in was sealed (closed, and the registry agrees). */
  chainSealed: boolean;
}

/** What `audit verify` keeps while replaying: the events the approval cross-check needs, nothing else. */
export function isApprovalEvidence(payload: Record<string, unknown>): boolean {
  return payload['type'] === 'APPROVAL_USED' || (payload['type'] === 'APPROVAL_GRANTED' && payload['via'] === 'cli');
}

/** The fields a grant and its use must agree on (what a session checks before it honours a grant). */
const BOUND_FIELDS = ['agentId', 'toolName', 'argumentsSha256', 'policyVersion'] as const;

/**
 * Every APPROVAL_USED needs an APPROVAL_GRANTED (via cli) for the same approval, agent, tool,
 * arguments and policy version, in a sealed chain; and a grant is used once. One problem per
 * approval at fault, at its (first) use.
 */
export function unapprovedUses(events: readonly ApprovalEventAt[]): VerifyProblem[] {
  const grants = new Map<string, ApprovalEventAt[]>();
  const uses = new Map<string, ApprovalEventAt[]>();
  for (const event of events) {
    const id = event.payload['approvalId'];
    if (typeof id !== 'string') continue;
    const into = event.payload['type'] === 'APPROVAL_USED' ? uses : grants;
    into.set(id, [...(into.get(id) ?? []), event]);
  }
  const problems: VerifyProblem[] = [];
  for (const [id, used] of uses) {
    const first = used[0]!;
    const at = {file: first.file, line: first.line, chain: first.chain, seq: first.seq};
    const candidates = grants.get(id) ?? [];
    const matching = candidates.filter((grant) => BOUND_FIELDS.every((field) => grant.payload[field] === first.payload[field]));
    const sealed = matching.filter((grant) => grant.chainSealed);
    if (sealed.length === 0) {
      const why =
        matching.length > 0
          ? 'its APPROVAL_GRANTED is in a chain that is not sealed'
          : candidates.length > 0
            ? `its APPROVAL_GRANTED names another ${BOUND_FIELDS.filter((field) => candidates[0]!.payload[field] !== first.payload[field]).join(', ')}`
            : 'no APPROVAL_GRANTED (via cli) for it is in this directory';
      problems.push({
        kind: 'unapproved',
        ...at,
        message: `approval ${id} was used (APPROVAL_USED, tool "${String(first.payload['toolName'])}"), but ${why}: nobody is on record approving it (approvals.json edited by hand, the grant's chain removed, or a trail of an older thoth)`,
      });
      continue;
    }
    if (used.length > 1) {
      problems.push({
        kind: 'unapproved',
        ...at,
        message: `approval ${id} was used ${used.length} times (a grant is good for one call): approvals.json was edited to replay it`,
      });
    }
  }
  return problems;
}
