/** A fresh idempotency key for a prompt or session request; a retry reuses the same one. */
export function newRequestId(): string {
  return crypto.randomUUID();
}
