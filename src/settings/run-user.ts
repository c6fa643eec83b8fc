import {userInfo} from 'node:os';

import {ThothError} from '../core/errors.js';
import {ExitCode} from '../core/exit-codes.js';
import {describeOrigin, type ResolvedSettings} from './resolve.js';

export interface RunUser {
  /** Undefined on Windows (no uids). */
  uid: number | undefined;
  username: string;
}

export function currentRunUser(): RunUser {
  const info = userInfo();
  return {uid: typeof process.getuid === 'function' ? process.getuid() : undefined, username: info.username};
}

/**
 * The non-root requirement for `thoth run`: refuses (ExitCode.SECURITY) when
 * THOTH_REQUIRE_NON_ROOT holds and the process is root, or when THOTH_EXPECTED_PROXY_USER /
 * THOTH_EXPECTED_PROXY_UID name someone else. The default (true in staging/prod when a tenant is
 * configured) lives in the settings table; without a tenant, root only earns a warning, which is
 * returned for the caller to print on stderr.
 */
export function assertRunUserAllowed(settings: ResolvedSettings, who: RunUser = currentRunUser()): {warnings: string[]} {
  const {values, origins} = settings;
  const warnings: string[] = [];
  const isRoot = who.uid === 0;
  if (isRoot && values.requireNonRoot) {
    throw new ThothError(
      'RUN_AS_ROOT',
      `thoth run refuses to run as root: THOTH_REQUIRE_NON_ROOT is true (${describeOrigin(origins.requireNonRoot)})`,
      {
        exitCode: ExitCode.SECURITY,
        suggestions: [
          'Start the MCP client as the signed-in user, not as root (MDM scripts: `launchctl asuser <uid> sudo -u <user> ...`).',
          'Only for a test machine: set THOTH_REQUIRE_NON_ROOT=false.',
        ],
      },
    );
  }
  if (values.expectedProxyUser !== undefined && !sameUser(values.expectedProxyUser, who.username)) {
    throw new ThothError(
      'RUN_AS_WRONG_USER',
      `thoth run is running as "${who.username}" but THOTH_EXPECTED_PROXY_USER is "${values.expectedProxyUser}" (${describeOrigin(origins.expectedProxyUser)})`,
      {
        exitCode: ExitCode.SECURITY,
        suggestions: [`Start the MCP client as ${values.expectedProxyUser}, or correct THOTH_EXPECTED_PROXY_USER.`],
      },
    );
  }
  if (values.expectedProxyUid !== undefined && who.uid !== undefined && who.uid !== values.expectedProxyUid) {
    throw new ThothError(
      'RUN_AS_WRONG_USER',
      `thoth run is running as uid ${who.uid} but THOTH_EXPECTED_PROXY_UID is ${values.expectedProxyUid} (${describeOrigin(origins.expectedProxyUid)})`,
      {
        exitCode: ExitCode.SECURITY,
        suggestions: [`Start the MCP client as uid ${values.expectedProxyUid}, or correct THOTH_EXPECTED_PROXY_UID.`],
      },
    );
  }
  if (isRoot) {
    warnings.push(
      values.tenantId === undefined
        ? 'running as root: fine for a local try-out; fleet use (a tenant configured) refuses root in staging/prod'
        : `running as root because THOTH_REQUIRE_NON_ROOT is false (${describeOrigin(origins.requireNonRoot)})`,
    );
  }
  return {warnings};
}

/** Windows user names are case-insensitive and may come as DOMAIN\\user. */
function sameUser(expected: string, actual: string): boolean {
  if (process.platform !== 'win32') return expected === actual;
  const strip = (name: string) => name.toLowerCase().replace(/^.*\\/, '');
  return strip(expected) === strip(actual);
}
