import {open, stat} from 'node:fs/promises';
import {join} from 'node:path';

import {eventsIn, segmentFiles} from '../audit/reader.js';
import {ThothError, errorMessage} from '../core/errors.js';
import type {FactState, HealthContext, OverrideAttempt, OverridesFact} from './health-providers.js';

/**
 * Attempts to change a setting managed preferences set (SettingDefinition.managedWins) are
 * refused, so they never make an endpoint unhealthy: they make it `degraded` (warn), so that the
 * administrator sees that something on it tried. Three places show them:
 *
 * - config: a wrapped entry's own env or flags (from the governance fact; those are drift too);
 * - trail: SETTING_OVERRIDE_REFUSED events that `thoth run` sessions wrote in the last
 *   OVERRIDE_WINDOW_MS, e.g. from variables the MCP client's own environment carries
 *   (`launchctl setenv`), which no config shows;
 * - environment: this command's own environment and flags.
 *
 * The trail is read within a bound (segments written in the window, newest first, at most
 * OVERRIDE_SCAN_BYTES) so that health stays quick; it is read, not verified (the audit fact
 * verifies the chain).
 */
export const OVERRIDE_WINDOW_MS = 7 * 24 * 60 * 60 * 1000;
export const OVERRIDE_SCAN_BYTES = 8 * 1024 * 1024;
const EVENT_TYPE = 'SETTING_OVERRIDE_REFUSED';

export interface TrailOverrideOptions {
  windowMs?: number;
  maxBytes?: number;
}

/** The override attempts of the trail and of this command's environment (the provider `thoth health` uses). */
export async function trailOverrides(context: HealthContext, options: TrailOverrideOptions = {}): Promise<OverridesFact> {
  const attempts: OverrideAttempt[] = context.settings.overrides.map((override) => ({
    seen: 'environment',
    setting: override.name,
    attempted: {...override.attempted},
    managed: override.managed,
    where: 'thoth health',
    at: null,
    count: 1,
  }));
  let state: FactState = 'ok';
  let unread = '';
  const {values} = context.settings;
  if (values.auditEnabled) {
    try {
      attempts.push(
        ...(await scanTrail(
          values.auditDir,
          context.now().getTime() - (options.windowMs ?? OVERRIDE_WINDOW_MS),
          options.maxBytes ?? OVERRIDE_SCAN_BYTES,
        )),
      );
    } catch (error) {
      state = 'unknown';
      unread = `the audit trail in ${values.auditDir} could not be read for refused overrides: ${errorMessage(error).split('\n')[0]}`;
    }
  }
  const fact = judgeOverrides(attempts);
  if (state === 'unknown' && fact.state === 'ok') return {state, summary: unread, attempts};
  return unread === '' ? fact : {...fact, summary: `${fact.summary}; ${unread}`};
}

/** warn when anything tried, with one clause per attempt. */
export function judgeOverrides(attempts: OverrideAttempt[]): OverridesFact {
  if (attempts.length === 0) return {state: 'ok', summary: 'no attempt to override a managed setting', attempts};
  const clauses = attempts.map((attempt) => {
    const what = attempt.attempted.source === 'flag' ? attempt.attempted.origin : `env ${attempt.attempted.origin}`;
    const where =
      attempt.seen === 'config'
        ? `in ${attempt.where}`
        : attempt.seen === 'trail'
          ? `refused by ${attempt.where} sessions (${attempt.count}×, last ${attempt.at ?? '?'})`
          : `in the environment of ${attempt.where}`;
    return `${attempt.setting} by ${what} ${where}`;
  });
  return {
    state: 'warn',
    summary: `${attempts.length} attempt${attempts.length === 1 ? '' : 's'} to override a managed setting (the managed value applies): ${clauses.join('; ')}`,
    attempts,
  };
}

async function scanTrail(dir: string, since: number, maxBytes: number): Promise<OverrideAttempt[]> {
  let names: string[];
  try {
    names = await segmentFiles(dir);
  } catch (error) {
    // No trail yet: nothing was refused.
    if (error instanceof ThothError && error.code === 'AUDIT_DIR_NOT_FOUND') return [];
    throw error;
  }
  const recent: Array<{path: string; name: string; size: number; mtimeMs: number}> = [];
  for (const name of names) {
    const path = join(dir, name);
    const info = await stat(path);
    if (info.mtimeMs >= since) recent.push({path, name, size: info.size, mtimeMs: info.mtimeMs});
  }
  recent.sort((a, b) => b.mtimeMs - a.mtimeMs);
  const byKey = new Map<string, OverrideAttempt>();
  let budget = maxBytes;
  for (const segment of recent) {
    if (budget <= 0) break;
    const handle = await open(segment.path, 'r');
    let data: Buffer;
    try {
      // The newest bytes of a segment are the ones in the window.
      const length = Math.min(segment.size, budget);
      data = Buffer.alloc(length);
      await handle.read(data, 0, length, segment.size - length);
    } finally {
      await handle.close();
    }
    budget -= data.length;
    if (!data.includes(EVENT_TYPE)) continue;
    // A read that starts mid-segment begins with part of a line: eventsIn skips what is not a record.
    for (const {event} of eventsIn(data, segment.name)) {
      if (event.type !== EVENT_TYPE || !(Date.parse(event.timestamp) >= since)) continue;
      const attempt = attemptOf(event);
      if (!attempt) continue;
      const key = [attempt.where, attempt.setting, attempt.attempted.source, attempt.attempted.origin].join('\u0000');
      const seen = byKey.get(key);
      if (!seen) byKey.set(key, attempt);
      else {
        seen.count += 1;
        if ((attempt.at ?? '') > (seen.at ?? '')) seen.at = attempt.at;
      }
    }
  }
  return [...byKey.values()];
}

function attemptOf(event: Record<string, unknown>): OverrideAttempt | undefined {
  const {setting, attemptedSource, attempted, managedOrigin, agentId, timestamp} = event;
  if (
    typeof setting !== 'string' ||
    (attemptedSource !== 'env' && attemptedSource !== 'flag') ||
    typeof attempted !== 'string' ||
    typeof managedOrigin !== 'string'
  )
    return undefined;
  return {
    seen: 'trail',
    setting,
    attempted: {source: attemptedSource, origin: attempted},
    managed: managedOrigin,
    where: String(agentId),
    at: String(timestamp),
    count: 1,
  };
}
