import type { DeliveryStatus, TriggerSource } from "../triggers/types";

/** Longest delivery id or reason kept; a sender's text is cut, never refused for its length here. */
const MAX_TEXT = 500;

export interface DeliveryRecord {
  id: string;
  source: TriggerSource;
  deliveryId: string;
  automationId: string | null;
  dedupeKey: string | null;
  status: DeliveryStatus;
  reason: string | null;
  runId: string | null;
  receivedAt: number;
}

interface DeliveryRow {
  id: string;
  source: TriggerSource;
  delivery_id: string;
  automation_id: string | null;
  dedupe_key: string | null;
  status: DeliveryStatus;
  reason: string | null;
  run_id: string | null;
  received_at: number;
}

function fromRow(r: DeliveryRow): DeliveryRecord {
  return {
    id: r.id,
    source: r.source,
    deliveryId: r.delivery_id,
    automationId: r.automation_id,
    dedupeKey: r.dedupe_key,
    status: r.status,
    reason: r.reason,
    runId: r.run_id,
    receivedAt: r.received_at,
  };
}

export interface NewDelivery {
  id: string;
  source: TriggerSource;
  deliveryId: string;
  automationId: string | null;
  dedupeKey: string | null;
  receivedAt: number;
}

/**
 * Every delivery any trigger received. The first one with a (source, automation, delivery id) acts; a later one
 * is recorded as `replayed` and does nothing. Refused and failed deliveries do not hold the id, so a
 * forged request cannot block the genuine one, and the sender's redelivery after a failure applies.
 */
export class TriggerDeliveryStore {
  constructor(private readonly db: D1Database) {}

  /** Records a delivery; `replayed` when its id was already received (that record is kept too). */
  async record(delivery: NewDelivery): Promise<"received" | "replayed"> {
    const deliveryId = delivery.deliveryId.slice(0, MAX_TEXT);
    const first = await this.db
      .prepare(
        `INSERT INTO trigger_deliveries (id, source, delivery_id, automation_id, dedupe_key, status, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'received', ?6) ON CONFLICT DO NOTHING`,
      )
      .bind(delivery.id, delivery.source, deliveryId, delivery.automationId, delivery.dedupeKey, delivery.receivedAt)
      .run();
    if (first.meta.changes === 1) return "received";
    await this.insertFinal(delivery, "replayed", "this delivery id was already received; nothing was done again");
    return "replayed";
  }

  /** Records a delivery turned away before it could act (bad signature, unknown or paused automation). */
  async recordRefused(delivery: NewDelivery, reason: string): Promise<void> {
    await this.insertFinal(delivery, "refused", reason);
  }

  async finish(
    id: string,
    status: Exclude<DeliveryStatus, "received" | "replayed" | "refused">,
    reason: string | null,
    runId: string | null,
  ): Promise<void> {
    await this.db
      .prepare("UPDATE trigger_deliveries SET status = ?2, reason = ?3, run_id = ?4 WHERE id = ?1")
      .bind(id, status, reason?.slice(0, MAX_TEXT) ?? null, runId)
      .run();
  }

  /**
   * Fails deliveries accepted before `before` and never processed (the Worker stopped between the
   * answer and the work), so they no longer hold their id and the sender's redelivery is applied.
   */
  async expireUnprocessed(before: number): Promise<number> {
    const result = await this.db
      .prepare(
        "UPDATE trigger_deliveries SET status = 'failed', reason = 'accepted but never processed (the Worker stopped first)' WHERE status = 'received' AND received_at <= ?",
      )
      .bind(before)
      .run();
    return result.meta.changes;
  }

  /** When the oldest delivery still waiting to be processed arrived. */
  async oldestUnprocessedAt(): Promise<number | null> {
    const row = await this.db
      .prepare("SELECT MIN(received_at) AS at FROM trigger_deliveries WHERE status = 'received'")
      .first<{ at: number | null }>();
    return row?.at ?? null;
  }

  async get(id: string): Promise<DeliveryRecord | null> {
    const row = await this.db.prepare("SELECT * FROM trigger_deliveries WHERE id = ?").bind(id).first<DeliveryRow>();
    return row ? fromRow(row) : null;
  }

  /** How many deliveries were recorded for an automation, by status. */
  async countByStatus(automationId: string): Promise<Partial<Record<DeliveryStatus, number>>> {
    const rows = await this.db
      .prepare("SELECT status, COUNT(*) AS n FROM trigger_deliveries WHERE automation_id = ? GROUP BY status")
      .bind(automationId)
      .all<{ status: DeliveryStatus; n: number }>();
    return Object.fromEntries(rows.results.map((row) => [row.status, row.n]));
  }

  private async insertFinal(delivery: NewDelivery, status: "replayed" | "refused", reason: string): Promise<void> {
    await this.db
      .prepare(
        `INSERT INTO trigger_deliveries (id, source, delivery_id, automation_id, dedupe_key, status, reason, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)`,
      )
      .bind(
        delivery.id,
        delivery.source,
        delivery.deliveryId.slice(0, MAX_TEXT),
        delivery.automationId,
        delivery.dedupeKey,
        status,
        reason.slice(0, MAX_TEXT),
        delivery.receivedAt,
      )
      .run();
  }
}
