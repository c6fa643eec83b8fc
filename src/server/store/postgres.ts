import type {Database, Queryable} from './database.js';

/**
 * PostgreSQL through node-postgres: a pool for queries and transactions, and one dedicated
 * connection for LISTEN (a pooled connection would lose its subscriptions when handed back). The
 * module is imported only when a database URL is configured.
 */
export async function openPostgres(url: string, options: {poolSize?: number} = {}): Promise<Database> {
  const pg = (await import('pg')).default;
  // int8 (bigint, count(*)) as a JS number, as on the embedded store.
  const types = {getTypeParser: (oid: number, format?: 'text' | 'binary') => (oid === 20 ? Number : pg.types.getTypeParser(oid, format))};
  const pool = new pg.Pool({connectionString: url, max: options.poolSize ?? 10, types});
  // An idle client that loses its connection must not crash the server: the next query reconnects.
  pool.on('error', () => undefined);
  let listener: InstanceType<typeof pg.Client> | undefined;
  const handlers = new Map<string, Set<(payload: string) => void>>();

  const listenerClient = async (): Promise<InstanceType<typeof pg.Client>> => {
    if (listener) return listener;
    const client = new pg.Client({connectionString: url, types});
    client.on('notification', (message) => {
      for (const handler of handlers.get(message.channel) ?? []) handler(message.payload ?? '');
    });
    client.on('error', () => {
      // Reconnect on the next listen; holds fall back to their polling interval meanwhile.
      listener = undefined;
    });
    await client.connect();
    listener = client;
    return client;
  };

  return {
    kind: 'postgres',
    query: async (sql, params) => (await pool.query(sql, params ? [...params] : undefined)).rows,
    transaction: async (work) => {
      const client = await pool.connect();
      try {
        await client.query('begin');
        const scoped: Queryable = {
          query: async <Row>(sql: string, params?: readonly unknown[]) =>
            (await client.query(sql, params ? [...params] : undefined)).rows as Row[],
        };
        const result = await work(scoped);
        await client.query('commit');
        return result;
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
    listen: async (channel, onPayload) => {
      const client = await listenerClient();
      let set = handlers.get(channel);
      if (!set) {
        set = new Set();
        handlers.set(channel, set);
        await client.query(`listen ${quoteIdentifier(channel)}`);
      }
      set.add(onPayload);
      return async () => {
        set.delete(onPayload);
      };
    },
    close: async () => {
      await listener?.end().catch(() => undefined);
      await pool.end();
    },
  };
}

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
