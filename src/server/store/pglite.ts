import {mkdir} from 'node:fs/promises';

import type {Database, Queryable} from './database.js';

/** int8 (bigint, count(*)) as a JS number: sequence numbers and counts stay far below 2^53. */
const INT8_OID = 20;

/**
 * The embedded store: PGlite keeps a PostgreSQL cluster in `dir`. One process at a time may open
 * it (the data directory's lock file says which); the module is imported only here, so that no
 * other command pays for loading the WebAssembly build.
 */
export async function openEmbedded(dir: string): Promise<Database> {
  await mkdir(dir, {recursive: true, mode: 0o700});
  const {PGlite} = await import('@electric-sql/pglite');
  const pg = await PGlite.create(dir, {parsers: {[INT8_OID]: (value: string) => Number(value)}});
  const run = async <Row>(target: {query: typeof pg.query}, sql: string, params?: readonly unknown[]): Promise<Row[]> =>
    (await target.query<Row>(sql, params ? [...params] : undefined)).rows;
  return {
    kind: 'embedded',
    query: (sql, params) => run(pg, sql, params),
    transaction: (work) =>
      pg.transaction(async (tx) => {
        const scoped: Queryable = {query: (sql, params) => run(tx, sql, params)};
        return work(scoped);
      }),
    listen: async (channel, onPayload) => {
      const stop = await pg.listen(channel, onPayload);
      return async () => stop();
    },
    close: () => pg.close(),
  };
}
