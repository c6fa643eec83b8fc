/**
 * What the server needs from its database, whichever it is: the embedded store (PGlite,
 * PostgreSQL compiled to WebAssembly, in the data directory) or a PostgreSQL server. Both speak
 * the same SQL, so the migrations and every query are shared; only opening, transactions and
 * LISTEN differ, and those are behind this interface.
 */
export interface Queryable {
  /** Runs one statement with $1… parameters; rows as objects. */
  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<Row[]>;
}

export interface Database extends Queryable {
  readonly kind: 'embedded' | 'postgres';
  /** Runs `work` in one transaction (committed when it resolves, rolled back when it throws). */
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Calls `onPayload` for each NOTIFY on `channel` (from this or any other instance); returns
   * the function that stops listening.
   */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** NOTIFY through SQL: the same statement works on both stores. */
export async function notify(db: Queryable, channel: string, payload: string): Promise<void> {
  await db.query('select pg_notify($1, $2)', [channel, payload]);
}
