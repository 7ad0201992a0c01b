import type { NonceStore } from "@lookout/protocol";

/**
 * Nonces of signed service requests in D1 `service_nonces`, so a replay is caught by every Worker
 * isolate, not only the one that saw the original request.
 */
export class D1NonceStore implements NonceStore {
  constructor(
    private readonly db: D1Database,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Claims a nonce atomically. Expired rows are pruned first in the same transaction, so an expired
   * nonce never blocks a claim, and the table only ever holds one signature window of nonces: the
   * scan stays cheap and no separate sweeper is needed.
   */
  async claim(service: string, nonce: string, expiresAtMs: number): Promise<boolean> {
    const now = this.now();
    const [, claimed] = await this.db.batch([
      this.db.prepare("DELETE FROM service_nonces WHERE expires_at < ?").bind(now),
      this.db
        .prepare("INSERT INTO service_nonces (service, nonce, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
        .bind(service, nonce, expiresAtMs),
    ]);
    return (claimed?.meta.changes ?? 0) === 1;
  }
}
