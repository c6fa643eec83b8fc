import {Flags} from '@oclif/core';

import {homedir} from 'node:os';
import {join} from 'node:path';

/** The data directory when --data-dir is not given: $THOTH_SERVER_DATA_DIR, else ~/.thoth-server. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return env['THOTH_SERVER_DATA_DIR'] || join(homedir(), '.thoth-server');
}

/** `HOST:PORT`, `[v6]:PORT` or `:PORT` (all interfaces would need saying so: 0.0.0.0:PORT). */
export function parseListen(value: string): {host: string; port: number} | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value.trim());
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  return {host: match[1] ?? (match[2] || '127.0.0.1'), port};
}

/** A database URL without its password, for messages. */
export function describeDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `PostgreSQL ${parsed.hostname}${parsed.port ? `:${parsed.port}` : ''}${parsed.pathname}`;
  } catch {
    return 'PostgreSQL (the URL could not be parsed)';
  }
}

/** The flags of every command that talks to a running server's admin API. */
export const adminFlags = {
  'data-dir': Flags.directory({
    description: 'The server data directory (default: $THOTH_SERVER_DATA_DIR or ~/.thoth-server): server.json, tls/ca.pem, admin-token.',
  }),
  url: Flags.string({description: 'The server URL (default: the one the server in --data-dir wrote to server.json).'}),
  'ca-file': Flags.file({description: 'The server CA certificate (default: <data dir>/tls/ca.pem).'}),
  'token-file': Flags.file({description: 'The admin bootstrap token file (default: <data dir>/admin-token).'}),
};

export interface AdminFlagValues {
  'data-dir'?: string | undefined;
  url?: string | undefined;
  'ca-file'?: string | undefined;
  'token-file'?: string | undefined;
}

export function adminTargetOptions(flags: AdminFlagValues): {dataDir: string; url?: string; caFile?: string; tokenFile?: string} {
  return {
    dataDir: flags['data-dir'] ?? defaultDataDir(),
    ...(flags.url === undefined ? {} : {url: flags.url}),
    ...(flags['ca-file'] === undefined ? {} : {caFile: flags['ca-file']}),
    ...(flags['token-file'] === undefined ? {} : {tokenFile: flags['token-file']}),
  };
}
