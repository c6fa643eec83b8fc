import {resolveSettings} from '../settings/resolve.js';
import {
  locatePolicy,
  policyCandidates,
  policyFromSnapshot,
  readPolicySnapshot,
  type PolicyLoadResult,
  type PolicyLocation,
} from './load.js';

export interface RunPolicyOptions {
  /** The profile directory (--thoth-home); default $THOTH_HOME or ~/.thoth. */
  profileDir?: string | undefined;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  platform?: NodeJS.Platform;
  /** A directory standing for the file-system root in front of the managed location (tests). */
  managedRoot?: string;
}

/**
 * Where the policy `thoth run` would enforce is, found as it finds it (load.ts policyCandidates):
 * a file named by a managed THOTH_POLICY_FILE, the managed location, THOTH_POLICY_FILE from the
 * environment or settings.json, the profile's policy.json, else the built-in default.
 */
export async function locateRunPolicy(options: RunPolicyOptions = {}): Promise<PolicyLocation> {
  const settings = await resolveSettings({
    ...(options.env === undefined ? {} : {env: options.env}),
    ...(options.profileDir === undefined ? {} : {profileDir: options.profileDir}),
  });
  const named = settings.values.policyFile;
  const env: NodeJS.ProcessEnv = {...(options.env ?? process.env), THOTH_HOME: settings.profileDir};
  // The resolved setting stands for THOTH_POLICY_FILE in every layer.
  delete env['THOTH_POLICY_FILE'];
  return locatePolicy(
    policyCandidates({
      ...(named === undefined ? {} : settings.origins.policyFile.source === 'managed' ? {managedFile: named} : {flag: named}),
      env,
      ...(options.cwd === undefined ? {} : {cwd: options.cwd}),
      ...(options.platform === undefined ? {} : {platform: options.platform}),
      ...(options.managedRoot === undefined ? {} : {managedRoot: options.managedRoot}),
    }),
  );
}

/** "the managed policy location", "the profile", "THOTH_POLICY_FILE": where a located file came from. */
export function describeLocation(location: PolicyLocation): string {
  if (location.kind === 'builtin') return 'the built-in default';
  switch (location.candidate.kind) {
    case 'managed':
      return 'the managed policy location';
    case 'profile':
      return 'the profile';
    default:
      return 'THOTH_POLICY_FILE';
  }
}

/** The policy `thoth run` would enforce here, loaded (and failing) as it loads it. */
export async function loadRunPolicy(options: RunPolicyOptions = {}): Promise<PolicyLoadResult> {
  return policyFromSnapshot(await readPolicySnapshot(await locateRunPolicy(options)));
}
