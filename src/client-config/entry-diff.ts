import type {ServerChange} from './plan.js';

/**
 * What a changed server entry looks like before and after, for people: its command line, and the
 * names of the environment variables that change. Values of variables are never shown (a config's
 * env holds tokens); the command lines are redacted like the patch (the API key, moved secrets).
 */
export interface EntryChange {
  /** command + args before the change (null when the entry had no command). */
  commandBefore: string[] | null;
  commandAfter: string[] | null;
  /** `+NAME` added, `-NAME` removed, `~NAME` changed. */
  envChanges: string[];
}

export function entryChanges(
  before: unknown,
  after: unknown,
  servers: readonly ServerChange[],
  redact: (text: string) => string,
): Array<ServerChange & Partial<EntryChange>> {
  return servers.map((server) => {
    if (server.action === 'unchanged' || server.action === 'skipped') return server;
    const old = objectAt(before, server.pointer);
    const now = objectAt(after, server.pointer);
    return {
      ...server,
      commandBefore: commandLine(old, redact),
      commandAfter: commandLine(now, redact),
      envChanges: envChanges(old?.['env'], now?.['env']),
    };
  });
}

function commandLine(entry: Record<string, unknown> | undefined, redact: (text: string) => string): string[] | null {
  if (entry === undefined || typeof entry['command'] !== 'string') return null;
  const args = Array.isArray(entry['args']) ? entry['args'].map((arg) => (typeof arg === 'string' ? arg : JSON.stringify(arg))) : [];
  return [entry['command'], ...args].map(redact);
}

function envChanges(before: unknown, after: unknown): string[] {
  const old = isObject(before) ? before : {};
  const now = isObject(after) ? after : {};
  const changes: string[] = [];
  for (const name of Object.keys(now)) {
    if (!Object.hasOwn(old, name)) changes.push(`+${name}`);
    else if (JSON.stringify(old[name]) !== JSON.stringify(now[name])) changes.push(`~${name}`);
  }
  for (const name of Object.keys(old)) if (!Object.hasOwn(now, name)) changes.push(`-${name}`);
  return changes;
}

/** The object at a JSON pointer (/mcpServers/github), or undefined. */
function objectAt(document: unknown, pointer: string): Record<string, unknown> | undefined {
  let node: unknown = document;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (!isObject(node) || !Object.hasOwn(node, key)) return undefined;
    node = node[key];
  }
  return isObject(node) ? node : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
