/**
 * Webhook deliveries by their sender's id (`X-GitHub-Delivery`), so a replayed or redelivered
 * payload is acknowledged without being applied twice.
 */
export class WebhookDeliveryStore {
  constructor(private readonly db: D1Database) {}

  /** Claims a delivery; false when it was already claimed. */
  async claim(source: string, deliveryId: string, event: string, now: number): Promise<boolean> {
    const result = await this.db
      .prepare("INSERT INTO webhook_deliveries (source, delivery_id, event, received_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING")
      .bind(source, deliveryId, event, now)
      .run();
    return result.meta.changes === 1;
  }

  /** Gives a claim back when handling failed, so the sender's redelivery is applied. */
  async release(source: string, deliveryId: string): Promise<void> {
    await this.db.prepare("DELETE FROM webhook_deliveries WHERE source = ? AND delivery_id = ?").bind(source, deliveryId).run();
  }
}
