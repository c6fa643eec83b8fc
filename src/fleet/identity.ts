import {readFile} from 'node:fs/promises';
import {hostname as osHostname} from 'node:os';
import {join} from 'node:path';

import {errnoCode, errorMessage} from '../core/errors.js';
import {runCommand as realRunCommand, type CommandRunner} from '../settings/command-runner.js';
import {queryRegistry} from '../settings/reg-query.js';
import {describeOrigin, type ResolvedSettings} from '../settings/resolve.js';
import {appSpecificId} from './identity-derive.js';
import {isPlaceholderId, machineIdBytes, parseIoregPlatformUuid, parseMachineIdFile} from './identity-parsers.js';

export type IdentitySource = 'endpoint-id' | 'intune' | 'jamf' | 'machine-id' | 'hostname';

export interface EndpointIdentity {
  endpointId: string;
  source: IdentitySource;
  /** Which variable, managed key, file or command supplied it. */
  detail: string;
  /** True when the id is the app-specific derivation of the machine id (the raw id is never shown). */
  derived: boolean;
  /** Sources tried before the winner, and why each was passed over. */
  skipped: {source: IdentitySource; detail: string; reason: string}[];
}

export interface IdentityOptions {
  settings: Pick<ResolvedSettings, 'values' | 'origins'>;
  platform?: NodeJS.Platform;
  /** Linux: the root under which /etc/machine-id is read (tests). */
  fsRoot?: string;
  runCommand?: CommandRunner;
  env?: NodeJS.ProcessEnv;
  hostname?: () => string;
}

type Attempt = {id: string; detail: string; derived: boolean} | {skip: string; detail: string};

const IOREG = '/usr/sbin/ioreg';
const CRYPTOGRAPHY_KEY = 'HKLM\\SOFTWARE\\Microsoft\\Cryptography';

/**
 * Endpoint identity in the documented order: THOTH_ENDPOINT_ID overrides all; then the managed
 * device ids (Intune, then Jamf, including `jssID` = $JSSID from thoth's managed preferences);
 * then the OS machine identity, published only as an app-specific derivation; then the hostname.
 */
export async function resolveEndpointIdentity(options: IdentityOptions): Promise<EndpointIdentity> {
  const {values, origins} = options.settings;
  const skipped: EndpointIdentity['skipped'] = [];
  const explicit: [IdentitySource, string | undefined, string][] = [
    ['endpoint-id', values.endpointId, describeOrigin(origins.endpointId)],
    ['intune', values.intuneDeviceId, describeOrigin(origins.intuneDeviceId)],
    ['jamf', values.jamfComputerId, describeOrigin(origins.jamfComputerId)],
  ];
  for (const [source, value, detail] of explicit) {
    if (value !== undefined) return {endpointId: value, source, detail, derived: false, skipped};
  }
  for (const attempt of await machineIdAttempts(options)) {
    if ('id' in attempt) return {endpointId: attempt.id, source: 'machine-id', detail: attempt.detail, derived: attempt.derived, skipped};
    skipped.push({source: 'machine-id', detail: attempt.detail, reason: attempt.skip});
  }
  const env = options.env ?? process.env;
  const fromEnv = env['HOSTNAME']?.trim();
  const name = fromEnv !== undefined && fromEnv !== '' ? fromEnv : (options.hostname ?? osHostname)().trim();
  return {
    endpointId: name === '' ? 'unknown-host' : name,
    source: 'hostname',
    detail: fromEnv ? 'HOSTNAME' : 'hostname',
    derived: false,
    skipped,
  };
}

async function machineIdAttempts(options: IdentityOptions): Promise<Attempt[]> {
  const platform = options.platform ?? process.platform;
  const run = options.runCommand ?? realRunCommand;
  if (platform === 'darwin')
    return [
      await fromCommandOutput(() => run(IOREG, ['-rd1', '-c', 'IOPlatformExpertDevice']), 'IOPlatformUUID (ioreg)', parseIoregPlatformUuid),
    ];
  if (platform === 'win32') {
    const detail = `MachineGuid (${CRYPTOGRAPHY_KEY}, 64-bit view)`;
    try {
      const key = await queryRegistry(CRYPTOGRAPHY_KEY, {value: 'MachineGuid', run, ...(options.env ? {env: options.env} : {})});
      const value = key?.values.find((entry) => entry.name.toLowerCase() === 'machineguid')?.data;
      return [usable(value, detail)];
    } catch (error) {
      return [{skip: `reg.exe failed: ${errorMessage(error)}`, detail}];
    }
  }
  const root = options.fsRoot ?? '/';
  const attempts: Attempt[] = [];
  for (const file of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    let content: string;
    try {
      content = await readFile(join(root, file), 'utf8');
    } catch (error) {
      attempts.push({
        skip: errnoCode(error) === 'ENOENT' ? 'does not exist' : `cannot be read (${errnoCode(error) ?? errorMessage(error)})`,
        detail: file,
      });
      continue;
    }
    const attempt = usable(parseMachineIdFile(content), file);
    attempts.push(attempt);
    if ('id' in attempt) break;
  }
  return attempts;
}

async function fromCommandOutput(
  run: () => Promise<{code: number | null; stdout: string}>,
  detail: string,
  parse: (output: string) => string | undefined,
): Promise<Attempt> {
  try {
    const result = await run();
    if (result.code !== 0) return {skip: `exited ${String(result.code)}`, detail};
    return usable(parse(result.stdout), detail);
  } catch (error) {
    return {skip: `cannot run: ${errnoCode(error) ?? errorMessage(error)}`, detail};
  }
}

function usable(value: string | undefined, detail: string): Attempt {
  if (value === undefined) return {skip: 'no value', detail};
  if (value === 'uninitialized') return {skip: 'not initialised yet (first boot)', detail};
  const bytes = machineIdBytes(value);
  if (!bytes) return {skip: 'not a UUID or 32-hex id', detail};
  if (isPlaceholderId(bytes)) return {skip: 'a known placeholder shared by many machines', detail};
  return {id: appSpecificId(bytes), detail, derived: true};
}
