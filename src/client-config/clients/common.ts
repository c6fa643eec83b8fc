import type {EntryKind} from './types.js';

export function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * What most clients agree on: `disabled: true` turns an entry off; a `type` other than stdio, or a
 * `url`/`serverUrl` without a `command`, is a remote server thoth cannot sit in front of.
 */
export function classifyCommon(entry: Record<string, unknown>): EntryKind {
  if (entry['disabled'] === true) return {kind: 'disabled', reason: 'disabled in the client'};
  const type = entry['type'];
  if (typeof type === 'string' && type !== 'stdio')
    return {kind: 'remote', reason: `remote server (type ${type}): thoth governs stdio servers only`};
  const url = typeof entry['url'] === 'string' ? 'url' : typeof entry['serverUrl'] === 'string' ? 'serverUrl' : undefined;
  if (typeof entry['command'] === 'string') return {kind: 'stdio'};
  if (url) return {kind: 'remote', reason: `remote server (${url}): thoth governs stdio servers only`};
  return {kind: 'invalid', reason: 'has neither a command nor a url'};
}

/** `%APPDATA%` with the usual fallback when a service context does not set it. */
export function appData(env: NodeJS.ProcessEnv, home: string, join: (...parts: string[]) => string): string {
  return env['APPDATA'] ?? join(home, 'AppData', 'Roaming');
}

export function localAppData(env: NodeJS.ProcessEnv, home: string, join: (...parts: string[]) => string): string {
  return env['LOCALAPPDATA'] ?? join(home, 'AppData', 'Local');
}

/** `$XDG_CONFIG_HOME` (absolute only, as the spec says) or `~/.config`. */
export function xdgConfigHome(env: NodeJS.ProcessEnv, home: string, join: (...parts: string[]) => string): string {
  const value = env['XDG_CONFIG_HOME'];
  return value !== undefined && value.startsWith('/') ? value : join(home, '.config');
}
