import {join} from 'node:path';

import {sha256Hex} from './canonical-json.js';

/**
 * A file name for per-agent state (baselines, pins). Agent ids are client-config entry names
 * and may hold anything; the readable slug is for people, the hash keeps `Foo` and `foo`
 * apart on case-insensitive file systems and makes traversal impossible.
 */
export function agentFileStem(agentId: string): string {
  const slug = agentId
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[.-]+/, '')
    .slice(0, 48);
  return `${slug === '' ? 'agent' : slug}-${sha256Hex(agentId).slice(0, 12)}`;
}

export function agentFile(directory: string, agentId: string): string {
  return join(directory, `${agentFileStem(agentId)}.json`);
}
