/**
 * The slice of a Durable Object's SQLite API the session modules use. Keeping it this small lets
 * the modules run against `ctx.storage.sql` in workerd and against any synchronous SQLite in Node.
 */
export type SqlValue = string | number | null;

export interface Sql {
  exec<Row extends Record<string, SqlValue>>(query: string, ...params: SqlValue[]): Row[];
  /**
   * Runs `work` atomically: every write it made is kept when it returns and undone when it throws
   * (the error is rethrown). Calls nest; an inner one that throws undoes only its own writes.
   */
  transaction<T>(work: () => T): T;
}

/** Adapts `ctx.storage.sql` to the `Sql` port (`transactionSync` nests through savepoints). */
export function durableObjectSql(storage: DurableObjectStorage): Sql {
  return {
    exec<Row extends Record<string, SqlValue>>(query: string, ...params: SqlValue[]): Row[] {
      return storage.sql.exec<Row>(query, ...params).toArray();
    },
    transaction<T>(work: () => T): T {
      return storage.transactionSync(work);
    },
  };
}

export function one<Row>(rows: Row[]): Row | null {
  return rows[0] ?? null;
}
