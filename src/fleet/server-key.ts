import type {PinnedServerKey} from '../control-plane/signed-records.js';
import type {ResolvedSettings} from '../settings/resolve.js';
import {readEnrollment} from './enroll.js';

/**
 * The control-plane signing key this endpoint trusts: THOTH_CONTROL_PLANE_PUBLIC_KEY (a managed
 * value wins over the environment and flags), else the key pinned at enrollment. Read when an
 * approval arrives, so a registration made by this session's own heartbeat counts at once.
 */
export async function pinnedServerKey(
  settings: Pick<ResolvedSettings, 'values' | 'origins' | 'profileDir'>,
): Promise<PinnedServerKey | undefined> {
  const configured = settings.values.controlPlanePublicKey;
  if (configured !== undefined) {
    return {publicKey: configured, source: settings.origins.controlPlanePublicKey.source === 'managed' ? 'managed' : 'setting'};
  }
  const enrollment = await readEnrollment(settings.profileDir);
  return enrollment?.serverKey === undefined ? undefined : {publicKey: enrollment.serverKey.publicKey, source: 'enrollment'};
}
