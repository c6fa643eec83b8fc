import type {JSONPath} from 'jsonc-parser';

import type {ConfigHost} from '../host.js';

export type ClientId = 'claude-desktop' | 'claude-code' | 'cursor' | 'vscode' | 'windsurf';
export const CLIENT_IDS: readonly ClientId[] = ['claude-desktop', 'claude-code', 'cursor', 'vscode', 'windsurf'];

/** A place a client keeps MCP servers: a file, and what kind of file it is for people. */
export interface ClientLocation {
  file: string;
  /** `user`, `project`, `managed`, `msix`, ... */
  scope: string;
}

/** Where, inside a config document, one map of server entries lives. */
export interface ServerContainer {
  path: JSONPath;
  /** `local:<project path>` for Claude Code's per-project servers; otherwise the file's scope applies. */
  scope?: string;
}

export type EntryKind =
  {kind: 'stdio'} | {kind: 'remote'; reason: string} | {kind: 'disabled'; reason: string} | {kind: 'invalid'; reason: string};

/** One small adapter per client: where its files are, where servers live in them, what an entry is. */
export interface ClientAdapter {
  id: ClientId;
  label: string;
  /** Validator name: schemas/<schema>.schema.json. */
  schema: string;
  /** The client reads comments and trailing commas (JSONC). */
  jsonc: boolean;
  /** Every location this client may use on the host's platform (existing or not), most common first. */
  locations(host: ConfigHost): Promise<ClientLocation[]>;
  /** The server maps inside a (schema-valid) document. */
  containers(document: unknown): ServerContainer[];
  classify(entry: Record<string, unknown>): EntryKind;
  /** How well a file name and content fit this client (0: not at all); used to infer --client. */
  score(fileName: string, directoryName: string, document: unknown): number;
}
