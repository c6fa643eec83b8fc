/**
 * Parsers for the OS machine identity, tested on captured real outputs (fixtures/identity/).
 * They return the raw value or undefined; deciding whether a value is usable is separate.
 */

/** `ioreg -rd1 -c IOPlatformExpertDevice`: the line `"IOPlatformUUID" = "<uuid>"`. */
export function parseIoregPlatformUuid(output: string): string | undefined {
  const match = /"IOPlatformUUID"\s*=\s*"([^"]*)"/.exec(output);
  const value = match?.[1]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/** `/etc/machine-id`: 32 lower-case hex digits and a newline (machine-id(5)). */
export function parseMachineIdFile(content: string): string | undefined {
  const value = content.trim();
  return value === '' ? undefined : value;
}

const UUID = /^\{?([0-9a-f]{8})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{12})\}?$/i;

/** The 16 bytes of a UUID or 32-hex machine id (dashes and braces optional), or undefined. */
export function machineIdBytes(value: string): Buffer | undefined {
  const match = UUID.exec(value.trim());
  if (!match) return undefined;
  return Buffer.from(match.slice(1).join(''), 'hex');
}

/**
 * Values that firmware, images or hypervisors ship instead of a real identity: adopting one would
 * merge every such endpoint into one. osquery's kPlaceholderHardwareUUIDList, plus all-ones and
 * the FEFE… and KVM defaults seen in the field.
 */
const PLACEHOLDERS = new Set([
  '00000000000000000000000000000000',
  'ffffffffffffffffffffffffffffffff',
  '03000200040005000006000700080009',
  '030201000504070608090a0b0c0d0e0f',
  '10000000000080000040000000000000',
  '02000100030004000005000600070008',
  'fefefefefefefefefefefefefefefefe',
]);

export function isPlaceholderId(bytes: Buffer): boolean {
  return PLACEHOLDERS.has(bytes.toString('hex'));
}
