/**
 * The slice of a Durable Object's SQLite API the session modules use. Keeping it this small lets
 * the modules run against `ctx.storage.sql` in workerd and against any synchronous SQLite in Node.
 */
export type SqlValue = string | number | null;

export interface Sql {
  exec<Row extends Record<string, SqlValue>>(query: string, ...params: SqlValue[]): Row[];
}

/** Adapts `ctx.storage.sql` to the `Sql` port. */
export function durableObjectSql(storage: DurableObjectStorage): Sql {
  return {
    exec<Row extends Record<string, SqlValue>>(query: string, ...params: SqlValue[]): Row[] {
      return storage.sql.exec<Row>(query, ...params).toArray();
    },
  };
}

export function one<Row>(rows: Row[]): Row | null {
  return rows[0] ?? null;
}
