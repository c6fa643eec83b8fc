import type {RunOptions} from '../core/run-flags.js';
import {bootstrapProfile} from '../profile/bootstrap.js';
import {thothHome} from '../profile/paths.js';
import {
  assertValidSettings,
  describeOverride,
  resolveSettings,
  type ResolveSettingsOptions,
  type ResolvedSettings,
  type SettingFlags,
} from './resolve.js';
import {assertRunUserAllowed, currentRunUser, type RunUser} from './run-user.js';

const AUDIT_SETTING_PROBLEM = /^THOTH_AUDIT(_[A-Z_]+)? from /;

/** The flags of `thoth run` that are settings; `filterTools` is false only with --no-filter-tools. */
export type RunSettingFlags = Pick<RunOptions, 'tenantId' | 'enforcementMode' | 'apiKey' | 'policy' | 'logFile' | 'auditDir'> & {
  filterTools?: boolean;
};

/** The flags of `thoth run` that are settings (the rest shape the relay, not the settings). */
export function settingFlagsFromRun(options: RunSettingFlags): SettingFlags {
  return {
    tenantId: options.tenantId,
    enforcementMode: options.enforcementMode,
    apiKey: options.apiKey,
    policyFile: options.policy,
    logFile: options.logFile,
    // Through the resolver like every other setting, so that a managed THOTH_AUDIT_DIR / THOTH_FILTER_TOOLS wins over them.
    auditDir: options.auditDir,
    filterTools: options.filterTools === false ? false : undefined,
  };
}

export interface RunSettings {
  settings: ResolvedSettings;
  /** For stderr (the diagnostics), never stdout: bootstrap notes, settings warnings, root in local use. */
  warnings: string[];
}

/**
 * Everything `thoth run` needs from this area, in one call made before the server is spawned
 * (a forbidden user must not start it): bootstrap the profile, resolve the settings with the run
 * flags on top, then fail closed on an invalid setting (ThothError INVALID_INPUT) or a forbidden
 * user (ThothError SECURITY).
 */
export async function prepareRunSettings(
  options: RunSettingFlags,
  io: Omit<ResolveSettingsOptions, 'flags'> & {who?: RunUser} = {},
): Promise<RunSettings> {
  const env = io.env ?? process.env;
  const profileDir = io.profileDir ?? thothHome(env, io.home);
  const bootstrap = await bootstrapProfile(profileDir, io.platform ? {platform: io.platform} : {});
  const settings = await resolveSettings({...io, profileDir, flags: settingFlagsFromRun(options)});
  // The audit trail's own settings keep the audit trail's documented behaviour: an invalid
  // THOTH_AUDIT_* value does not stop the start; governance then fails closed (every call refused,
  // the reason in each error and on stderr).
  assertValidSettings({...settings, problems: settings.problems.filter((problem) => !AUDIT_SETTING_PROBLEM.test(problem))});
  const user = assertRunUserAllowed(settings, io.who ?? currentRunUser());
  // Refused overrides also go into the session's audit trail (SETTING_OVERRIDE_REFUSED, governance/compose.ts).
  const refused = settings.overrides.map(describeOverride);
  return {settings, warnings: [...bootstrap.warnings, ...settings.warnings, ...refused, ...user.warnings]};
}
