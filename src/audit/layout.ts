import {constants} from 'node:fs';

/**
 * The audit directory:
 *
 *   registry.jsonl                                   one shared chain: which chains exist, and how each ended
 *   registry.lock                                    held for the few milliseconds of a registry append
 *   <yyyymmddThhmmssZ>-<chain id>-<segment>.jsonl    one chain per `thoth run` session, rotated into segments
 *
 * A segment's name starts with the UTC time it was opened, so `ls` order is time order.
 */
export const REGISTRY_FILE = 'registry.jsonl';
export const REGISTRY_LOCK = 'registry.lock';
export const REGISTRY_CHAIN = 'registry';

const SEGMENT_NAME = /^(\d{8}T\d{6}Z)-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-(\d{6})\.jsonl$/;

export function segmentFileName(chain: string, index: number, openedAtMs: number): string {
  const stamp = new Date(openedAtMs)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
  return `${stamp}-${chain}-${String(index).padStart(6, '0')}.jsonl`;
}

export function parseSegmentFileName(name: string): {chain: string; index: number; stamp: string} | undefined {
  const match = SEGMENT_NAME.exec(name);
  if (!match) return undefined;
  return {stamp: match[1]!, chain: match[2]!, index: Number(match[3])};
}

/** Append-only, never through a symlink planted at our path. */
export const APPEND_FLAGS = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | (constants.O_NOFOLLOW ?? 0);
