import type {RunOptions} from '../proxy/run-flags.js';
import {bootstrapProfile} from '../profile/bootstrap.js';
import {thothHome} from '../profile/paths.js';
import {assertValidSettings, resolveSettings, type ResolveSettingsOptions, type ResolvedSettings, type SettingFlags} from './resolve.js';
import {assertRunUserAllowed, currentRunUser, type RunUser} from './run-user.js';

/** The flags of `thoth run` that are settings (the rest shape the relay, not the settings). */
export function settingFlagsFromRun(options: Pick<RunOptions, 'tenantId' | 'enforcementMode' | 'apiKey' | 'policy' | 'logFile'>): SettingFlags {
  return {tenantId: options.tenantId, enforcementMode: options.enforcementMode, apiKey: options.apiKey, policyFile: options.policy, logFile: options.logFile};
}

export interface RunSettings {
  settings: ResolvedSettings;
  /** For stderr (the diagnostics), never stdout: bootstrap notes, settings warnings, root in local use. */
  warnings: string[];
}

/**
 * Everything `thoth run` needs from this area, in one call made after the server was spawned:
 * bootstrap the profile, resolve the settings with the run flags on top, then fail closed on an
 * invalid setting (ThothError INVALID_INPUT) or a forbidden user (ThothError SECURITY).
 */
export async function prepareRunSettings(
  options: Pick<RunOptions, 'tenantId' | 'enforcementMode' | 'apiKey' | 'policy' | 'logFile'>,
  io: Omit<ResolveSettingsOptions, 'flags'> & {who?: RunUser} = {},
): Promise<RunSettings> {
  const env = io.env ?? process.env;
  const profileDir = io.profileDir ?? thothHome(env, io.home);
  const bootstrap = await bootstrapProfile(profileDir, io.platform ? {platform: io.platform} : {});
  const settings = await resolveSettings({...io, profileDir, flags: settingFlagsFromRun(options)});
  assertValidSettings(settings);
  const user = assertRunUserAllowed(settings, io.who ?? currentRunUser());
  return {settings, warnings: [...bootstrap.warnings, ...settings.warnings, ...user.warnings]};
}
