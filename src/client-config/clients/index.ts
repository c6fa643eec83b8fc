import {claudeCode} from './claude-code.js';
import {claudeDesktop} from './claude-desktop.js';
import {cursor} from './cursor.js';
import type {ClientAdapter, ClientId} from './types.js';
import {vscode} from './vscode.js';
import {windsurf} from './windsurf.js';

export type {ClientAdapter, ClientId, ClientLocation, EntryKind, ServerContainer} from './types.js';
export {CLIENT_IDS} from './types.js';

export const ADAPTERS: Record<ClientId, ClientAdapter> = {
  'claude-desktop': claudeDesktop,
  'claude-code': claudeCode,
  cursor,
  vscode,
  windsurf,
};

export function adapterFor(id: ClientId): ClientAdapter {
  return ADAPTERS[id];
}
