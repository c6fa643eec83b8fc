import {readdir, stat} from 'node:fs/promises';
import {join} from 'node:path';

import {errnoCode} from '../core/errors.js';
import {verifyAudit} from './api.js';
import {REGISTRY_FILE, parseSegmentFileName} from './layout.js';
import type {VerifyOptions, VerifyReport} from './verify.js';

/**
 * A verification whose cost does not grow with the age of the trail, for checks that run often
 * and unattended (`thoth health` at every Jamf inventory update). The registry is always replayed
 * in full (two short records per session), then the newest chains, newest first, each in full,
 * while they fit in `maxChains` and `maxBytes` of segment data; a chain larger than what is left
 * is passed over for older, smaller ones, and at most `2 × maxChains` chains are looked at. Every
 * chain the registry lists is still checked to have its files. `thoth audit verify` replays all.
 */
export interface AuditCheckBound {
  maxChains: number;
  maxBytes: number;
}

/** About half a second of replay on a slow laptop core (the replay runs at roughly 60 MB/s). */
export const HEALTH_AUDIT_BOUND: AuditCheckBound = {maxChains: 50, maxBytes: 32 * 1024 * 1024};

export type BoundedVerifyResult =
  | {empty: true}
  | {
      empty: false;
      report: VerifyReport;
      /** Chains that have segment files in the directory. */
      totalChains: number;
      /** Of those, the chains replayed in full. */
      checkedChains: number;
      /** Bytes of segment data replayed (the registry not included). */
      checkedBytes: number;
      registryBytes: number;
    };

interface ChainFiles {
  chain: string;
  /** Opening time of its newest segment (`yyyymmddThhmmssZ`, so string order is time order). */
  newest: string;
  files: string[];
}

/**
 * Verifies the newest part of the audit directory `dir` (see AuditCheckBound). `{empty: true}`
 * when nothing was ever written there (no directory, or neither registry nor segment).
 */
export async function verifyRecentAudit(
  location: {dir: string; keyFile: string},
  bound: AuditCheckBound = HEALTH_AUDIT_BOUND,
  options: Pick<VerifyOptions, 'isWriterAlive'> = {},
): Promise<BoundedVerifyResult> {
  let names: string[];
  try {
    names = await readdir(location.dir);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return {empty: true};
    throw error;
  }
  const chains = new Map<string, ChainFiles>();
  for (const name of names) {
    const parsed = parseSegmentFileName(name);
    if (!parsed) continue;
    const entry = chains.get(parsed.chain) ?? {chain: parsed.chain, newest: '', files: []};
    entry.files.push(name);
    if (parsed.stamp > entry.newest) entry.newest = parsed.stamp;
    chains.set(parsed.chain, entry);
  }
  const hasRegistry = names.includes(REGISTRY_FILE);
  if (!hasRegistry && chains.size === 0) return {empty: true};

  const newestFirst = [...chains.values()].sort((a, b) =>
    a.newest === b.newest ? b.chain.localeCompare(a.chain) : b.newest.localeCompare(a.newest),
  );
  const selected = new Set<string>();
  let checkedBytes = 0;
  for (const candidate of newestFirst.slice(0, bound.maxChains * 2)) {
    if (selected.size >= bound.maxChains) break;
    const size = await sizeOf(location.dir, candidate.files);
    if (checkedBytes + size > bound.maxBytes) continue;
    selected.add(candidate.chain);
    checkedBytes += size;
  }
  const report = await verifyAudit(undefined, {dir: location.dir, keyFile: location.keyFile}, {...options, onlyChains: selected});
  return {
    empty: false,
    report,
    totalChains: chains.size,
    checkedChains: selected.size,
    checkedBytes,
    registryBytes: hasRegistry ? await sizeOf(location.dir, [REGISTRY_FILE]) : 0,
  };
}

async function sizeOf(dir: string, files: readonly string[]): Promise<number> {
  let total = 0;
  for (const file of files) {
    try {
      total += (await stat(join(dir, file))).size;
    } catch (error) {
      // Removed since the listing: the verification that follows reports what is missing.
      if (errnoCode(error) !== 'ENOENT') throw error;
    }
  }
  return total;
}
