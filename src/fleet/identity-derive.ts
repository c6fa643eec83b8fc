import {createHmac} from 'node:crypto';

/**
 * thoth's application id: a fixed random 128-bit value, the `app_id` of
 * sd_id128_get_machine_app_specific(3). Changing it changes every endpoint id: never do.
 */
export const THOTH_APP_ID = Buffer.from('86e64ded4fb1b21d621c5e35c9798bfe', 'hex');

/**
 * An application-specific id derived from a confidential machine id, exactly as systemd does:
 * HMAC-SHA256 keyed by the machine id over the app id, the first 16 bytes, made a version-4 UUID.
 * The machine id cannot be recovered from it, and other applications derive different ids.
 */
export function appSpecificId(machineId: Buffer, appId: Buffer = THOTH_APP_ID): string {
  if (machineId.length !== 16 || appId.length !== 16) throw new RangeError('machine id and app id must be 16 bytes');
  const bytes = createHmac('sha256', machineId).update(appId).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
