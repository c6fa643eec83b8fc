import {isUsable, planControlPlane} from '../control-plane/config.js';
import {stateFiles, type HeartbeatState} from './control-plane-state.js';
import {readStateFile} from '../util/state-file.js';
import {readEnrollment} from './enroll.js';
import type {HealthContext, HeartbeatFact} from './health-providers.js';

/**
 * The heartbeat fact of `thoth health`: enrollment (enrollment.json) and the last check-in
 * (heartbeat.json, written by whichever thoth run process holds the heartbeat lease). Heartbeats
 * are sent while thoth run runs, so an old last heartbeat alone is not a problem; a failing one is.
 */
export async function heartbeatFact({settings, now}: HealthContext): Promise<HeartbeatFact> {
  const plan = planControlPlane(settings.values);
  const none = {enrolled: false, lastHeartbeatAt: null};
  if (!plan.configured) return {state: 'ok', summary: 'not enrolled: no tenant configured (local use)', ...none};
  if (plan.govapi === undefined)
    return {state: 'ok', summary: 'not enrolled: no GovAPI URL configured (THOTH_GOVAPI_URL), only the remote enforcer is used', ...none};
  if (!isUsable(plan.govapi))
    return {state: 'fail', summary: `not enrolled: GovAPI ${plan.govapi.url} is configured but ${plan.govapi.problem}`, ...none};

  const url = plan.govapi.url;
  const enrollment = await readEnrollment(settings.profileDir);
  const current =
    enrollment !== undefined &&
    enrollment.govapiUrl === url &&
    enrollment.tenantId === (plan.tenantId ?? null) &&
    (plan.fleetId === undefined || enrollment.fleetId === plan.fleetId);
  if (!current) {
    return {
      state: 'warn',
      summary: `not enrolled with ${url}${enrollment ? ' (the recorded enrollment is for another tenant, fleet or URL)' : ''}: run \`thoth enroll\` (thoth run also registers on its first heartbeat)`,
      ...none,
    };
  }
  const read = await readStateFile<HeartbeatState>(stateFiles.heartbeat(settings.profileDir), 'fleet/heartbeat-state');
  const heartbeat =
    read.state === 'ok' && read.value.govapiUrl === url && read.value.endpointId === enrollment.endpointId ? read.value : undefined;
  const lastHeartbeatAt = heartbeat?.lastSuccessAt ?? null;
  const who = `enrolled with ${url} as ${enrollment.endpointId} since ${enrollment.enrolledAt}`;
  if (!heartbeat || heartbeat.lastAttemptAt === null) {
    return {
      state: 'ok',
      summary: `${who}; no heartbeat yet (thoth run sends them while an MCP client runs it)`,
      enrolled: true,
      lastHeartbeatAt,
    };
  }
  if (heartbeat.consecutiveFailures > 0) {
    const since = lastHeartbeatAt ? `last success ${ago(lastHeartbeatAt, now())}` : 'no success yet';
    return {
      state: heartbeat.lastErrorKind === 'auth' || heartbeat.lastErrorKind === 'tls' ? 'fail' : 'warn',
      summary: `${who}; the last ${heartbeat.consecutiveFailures} heartbeat${heartbeat.consecutiveFailures === 1 ? '' : 's'} failed (${heartbeat.lastError ?? 'unknown error'}); ${since}`,
      enrolled: true,
      lastHeartbeatAt,
    };
  }
  return {
    state: 'ok',
    summary: `${who}; last heartbeat ${lastHeartbeatAt ? ago(lastHeartbeatAt, now()) : 'unknown'}`,
    enrolled: true,
    lastHeartbeatAt,
  };
}

function ago(iso: string, now: Date): string {
  const seconds = Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 1000));
  if (seconds < 120) return `${seconds} s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86_400)} days ago`;
}
