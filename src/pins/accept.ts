import {assertOutsideGovernedSession} from '../approvals/governed-session.js';
import type {AncestryIo} from '../util/process-ancestry.js';
import {auditSettingsFromResolved} from '../audit/settings.js';
import {writeStandaloneChain, type StandaloneEntry} from '../audit/standalone.js';
import type {DecisionContext} from '../core/decision.js';
import {sha256Digits} from '../core/canonical-json.js';
import {resolveSettings, type ResolveSettingsOptions} from '../settings/resolve.js';
import {acceptChanges, type AcceptResult} from './store.js';

export interface RecordedAcceptResult extends AcceptResult {
  /** Where the acceptance is on record; null when nothing was accepted or the trail is off (THOTH_AUDIT=off). */
  audit: StandaloneEntry | null;
}

export interface AcceptIo {
  env?: NodeJS.ProcessEnv;
  /** Tests: how the parent processes are read (see approvals/governed-session.ts). */
  ancestry?: AncestryIo;
  now?: Date;
  warn?: (message: string) => void;
  /** Tests: the settings resolver's inputs (managed preferences). */
  resolve?: Omit<ResolveSettingsOptions, 'env' | 'profileDir'>;
}

/**
 * `thoth pins accept`: accepting a changed tool definition is a security decision, so it is
 * recorded when it is made, whether or not a session is running: one PIN_ACCEPTED (via cli, who
 * accepted, the previous and the new hash) per tool, in a sealed chain of its own, written under
 * the pin file's lock before the file changes. If the trail cannot be written nothing is
 * accepted. A session that notices the acceptance later records PIN_ACCEPTED via session in its
 * own chain: that says when the session started allowing the tool again, not a second decision.
 */
export async function acceptAndRecord(
  home: string,
  agentId: string,
  tools: readonly string[] | undefined,
  options: {by: string},
  io: AcceptIo = {},
): Promise<RecordedAcceptResult> {
  const env = io.env ?? process.env;
  // A changed definition is the server's doing: the agent it serves must not accept it.
  await assertOutsideGovernedSession('thoth pins accept', 'the agent would accept a tool definition its own server changed', {
    env,
    ...(io.ancestry ? {ancestry: io.ancestry} : {}),
  });
  const resolved = await resolveSettings({...io.resolve, env, profileDir: home});
  // An invalid THOTH_AUDIT_* value throws here, before anything is accepted.
  const settings = auditSettingsFromResolved(resolved);
  let audit: StandaloneEntry | null = null;
  const result = await acceptChanges(home, agentId, tools, io.now ?? new Date(), {
    ...(settings.enabled
      ? {
          beforeApply: async (accepted, acceptedAt) => {
            // No session is involved: the mode is the one this computer's settings give a session (PIN_ACCEPTED requires one).
            const context: DecisionContext = {
              agentId,
              sessionId: '',
              mode: resolved.values.enforcementMode ?? 'progressive',
              sessionToolCalls: [],
            };
            if (resolved.values.tenantId !== undefined) context.tenantId = resolved.values.tenantId;
            if (resolved.values.userId !== undefined) context.userId = resolved.values.userId;
            audit = await writeStandaloneChain(
              settings,
              {agentId},
              accepted.map((tool) => ({
                type: 'PIN_ACCEPTED',
                context,
                fields: {
                  via: 'cli',
                  toolName: tool.name,
                  pinSha256: sha256Digits(tool.to),
                  previousSha256: sha256Digits(tool.from),
                  acceptedBy: options.by,
                  acceptedAt,
                },
              })),
              {
                description: `the acceptance of ${accepted.map((tool) => `"${tool.name}"`).join(', ')} of agent "${agentId}"`,
                suggestion: 'The pinned definitions are unchanged: calls to the changed tools stay refused.',
              },
              io.warn ? {warn: io.warn} : {},
            );
          },
        }
      : {}),
  });
  if (!settings.enabled && result.accepted.length > 0)
    io.warn?.('the audit trail is off (THOTH_AUDIT=off): this acceptance is not recorded');
  return {...result, audit};
}
