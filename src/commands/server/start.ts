import {Flags} from '@oclif/core';

import {BaseCommand} from '../../cli/base-command.js';
import {ThothError} from '../../core/errors.js';
import {ExitCode} from '../../core/exit-codes.js';
import {defaultDataDir, describeDatabaseUrl, parseListen} from '../../server/command-flags.js';

export interface ServerReady {
  url: string;
  caFile: string;
  certSha256: string;
  tokenFile: string | null;
  publicKey: string;
  store: 'embedded' | 'postgres';
  dataDir: string;
}

export default class ServerStart extends BaseCommand<ServerReady> {
  static override summary = 'Run the self-hosted control plane: the contract endpoints, the admin API and web app, over HTTPS.';
  static override description = [
    'On first start it makes a private CA and a server certificate (<data dir>/tls/), the Ed25519 key it signs grants with, and an admin bootstrap token',
    '(printed once, kept in <data dir>/admin-token with mode 0600). Storage is embedded (PostgreSQL in WebAssembly, in <data dir>/db) unless --database-url',
    '(or THOTH_SERVER_DATABASE_URL) names a PostgreSQL database, which several instances can share. Migrations run at start.',
    'With --json it prints one ready line ({ok, result: {url, caFile, tokenFile, ...}}) and runs until SIGINT or SIGTERM.',
    'Exit codes: 0 stopped, 2 bad flag, 4 openssl missing, 5 the address or the data directory is in use, 7 the database cannot be reached.',
  ].join('\n');

  static override examples = [
    '<%= config.bin %> server start',
    '<%= config.bin %> server start --listen 0.0.0.0:8443 --public-url https://thoth.example.com --data-dir /var/lib/thoth-server',
    'THOTH_SERVER_DATABASE_URL=postgres://thoth@db/thoth <%= config.bin %> server start --json',
  ];

  static override flags = {
    listen: Flags.string({description: 'HOST:PORT to listen on.', default: '127.0.0.1:8443'}),
    'data-dir': Flags.directory({description: 'Data directory (default: $THOTH_SERVER_DATA_DIR or ~/.thoth-server).'}),
    'database-url': Flags.string({
      description: 'PostgreSQL URL (default: the embedded store). Also THOTH_SERVER_DATABASE_URL.',
      env: 'THOTH_SERVER_DATABASE_URL',
    }),
    'public-url': Flags.string({description: 'The URL endpoints and approvers use (a load balancer); also named in the certificate.'}),
    'tls-name': Flags.string({description: 'Another DNS name or IP for the server certificate (repeatable).', multiple: true}),
    'checkin-interval': Flags.integer({description: 'The check-in interval (seconds) asked of endpoints.', min: 5, max: 86400}),
    'rate-limit': Flags.integer({
      description: 'Requests per second per endpoint API key on this instance (burst: twice).',
      min: 1,
      default: 1000,
    }),
  };

  private readyPrinted = false;

  async run(): Promise<ServerReady> {
    const {flags} = await this.parse(ServerStart);
    const listen = parseListen(flags.listen);
    if (!listen) {
      throw new ThothError('USAGE', `--listen ${flags.listen} is not HOST:PORT`, {
        exitCode: ExitCode.USAGE,
        suggestions: ['For example --listen 127.0.0.1:8443 or --listen 0.0.0.0:8443.'],
      });
    }
    const dataDir = flags['data-dir'] ?? defaultDataDir();
    // Loaded here only: no other command pays for the server (or its database drivers).
    const {startServer} = await import('../../server/start.js');
    const server = await startServer({
      dataDir,
      host: listen.host,
      port: listen.port,
      databaseUrl: flags['database-url'] || undefined,
      publicUrl: flags['public-url'],
      tlsNames: flags['tls-name'] ?? [],
      checkinIntervalSeconds: flags['checkin-interval'],
      keyRatePerSecond: flags['rate-limit'],
    });
    const ready: ServerReady = {
      url: server.url,
      caFile: server.caFile,
      certSha256: server.certSha256,
      tokenFile: server.tokenFile ?? null,
      publicKey: `ed25519:${server.publicKey}`,
      store: server.store,
      dataDir,
    };
    if (this.jsonEnabled()) {
      process.stdout.write(`${JSON.stringify(this.toSuccessJson(ready))}\n`);
      this.readyPrinted = true;
    } else {
      const store = server.store === 'embedded' ? `embedded store in ${dataDir}/db` : describeDatabaseUrl(flags['database-url']!);
      this.log(
        `thoth server listening on ${server.url} (${store}; migrations applied now: ${server.migrated.length ? server.migrated.join(', ') : 'none'})`,
      );
      this.log(
        `endpoints trust it with THOTH_TLS_CA_BUNDLE=${server.caFile} (or pin THOTH_TLS_PINNED_CERT_SHA256=sha256:${server.certSha256})`,
      );
      this.log(`grants are signed with ed25519:${server.publicKey} (endpoints pin it at enrollment, or by THOTH_CONTROL_PLANE_PUBLIC_KEY)`);
      if (server.newToken !== undefined) {
        this.log(`admin bootstrap token (shown this once; kept in ${server.tokenFile} with mode 0600): ${server.newToken}`);
      } else if (server.tokenFile !== undefined) {
        this.log(`admin bootstrap token: ${server.tokenFile}`);
      }
    }
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await server.close();
    return ready;
  }

  /** The ready line was the envelope: not printed a second time at exit. */
  protected override logJson(json: unknown): void {
    if (!this.readyPrinted) super.logJson(json);
  }
}
