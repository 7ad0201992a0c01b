import { one, type Sql } from "./sql";

/** The things the session's single alarm can be waiting for. */
export type DeadlineName = "inactivity" | "execution" | "heartbeat" | "stop-confirmation" | "spawn-retry" | "snapshot-cleanup";

/**
 * A table of named deadlines behind the Durable Object's one alarm. Setting a name replaces its
 * due time; the alarm is always armed for the earliest row, and `takeDue` hands back (and removes)
 * every deadline that has passed, so firing is idempotent.
 */
export class Deadlines {
  constructor(private readonly sql: Sql) {}

  set(name: DeadlineName, dueAt: number): void {
    this.sql.exec(
      `INSERT INTO deadlines (name, due_at) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET due_at = excluded.due_at`,
      name,
      dueAt,
    );
  }

  clear(name: DeadlineName): void {
    this.sql.exec(`DELETE FROM deadlines WHERE name = ?`, name);
  }

  get(name: DeadlineName): number | null {
    return one(this.sql.exec<{ due_at: number }>(`SELECT due_at FROM deadlines WHERE name = ?`, name))?.due_at ?? null;
  }

  earliest(): number | null {
    return one(this.sql.exec<{ due_at: number | null }>(`SELECT MIN(due_at) AS due_at FROM deadlines`))?.due_at ?? null;
  }

  takeDue(now: number): DeadlineName[] {
    const due = this.sql.exec<{ name: string }>(`SELECT name FROM deadlines WHERE due_at <= ? ORDER BY due_at`, now);
    this.sql.exec(`DELETE FROM deadlines WHERE due_at <= ?`, now);
    return due.map((row) => row.name as DeadlineName);
  }
}
