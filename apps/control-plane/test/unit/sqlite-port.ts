import type { DatabaseSync } from "node:sqlite";
import type { Sql, SqlValue } from "../../src/session/sql";

/**
 * The session's `Sql` port over Node's SQLite, with the Durable Object's transaction semantics:
 * `transaction` keeps its writes when it returns, undoes them when it throws, and nests.
 */
export function nodeSql(db: DatabaseSync): Sql {
  let depth = 0;
  return {
    exec: <Row extends Record<string, SqlValue>>(query: string, ...params: SqlValue[]): Row[] => {
      const statement = db.prepare(query);
      if (/^\s*(SELECT|WITH)/i.test(query) || /RETURNING/i.test(query)) return statement.all(...params) as Row[];
      statement.run(...params);
      return [];
    },
    transaction<T>(work: () => T): T {
      const savepoint = `unit_${depth}`;
      depth += 1;
      db.exec(`SAVEPOINT ${savepoint}`);
      try {
        const result = work();
        db.exec(`RELEASE ${savepoint}`);
        return result;
      } catch (error) {
        db.exec(`ROLLBACK TO ${savepoint}`);
        db.exec(`RELEASE ${savepoint}`);
        throw error;
      } finally {
        depth -= 1;
      }
    },
  };
}
