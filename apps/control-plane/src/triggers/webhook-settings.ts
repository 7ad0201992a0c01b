import { z } from "zod";
import { type PutWebhookSettingsRequest, WebhookCondition, WebhookIdempotency } from "@lookout/protocol";
import { assertJsonPathUsable } from "./webhook-conditions";
import { newWebhookKey } from "./webhook-key";
import { assertTemplateUsable } from "./webhook-template";

/** An inbound webhook automation's settings; the key itself is never stored, only its SHA-256. */
export interface WebhookSettings {
  automationId: string;
  keyHash: string | null;
  keyCreatedAt: number | null;
  conditions: WebhookCondition[];
  idempotency: WebhookIdempotency | null;
  template: string | null;
  updatedAt: number;
}

const Row = z.object({
  automation_id: z.string(),
  key_hash: z.string().nullable(),
  key_created_at: z.number().nullable(),
  conditions: z.string(),
  idempotency: z.string().nullable(),
  template: z.string().nullable(),
  updated_at: z.number(),
});

/** What an automation without saved settings behaves as: no key (every delivery refused), no conditions. */
function defaults(automationId: string): WebhookSettings {
  return { automationId, keyHash: null, keyCreatedAt: null, conditions: [], idempotency: null, template: null, updatedAt: 0 };
}

/** Inbound webhook settings in D1 `webhook_triggers`: one row per automation, written by its owner. */
export class WebhookSettingsStore {
  constructor(private readonly db: D1Database) {}

  async get(automationId: string): Promise<WebhookSettings> {
    const row = await this.db.prepare("SELECT * FROM webhook_triggers WHERE automation_id = ?").bind(automationId).first();
    if (!row) return defaults(automationId);
    const r = Row.parse(row);
    return {
      automationId,
      keyHash: r.key_hash,
      keyCreatedAt: r.key_created_at,
      conditions: z.array(WebhookCondition).parse(JSON.parse(r.conditions)),
      idempotency: r.idempotency === null ? null : WebhookIdempotency.parse(JSON.parse(r.idempotency)),
      template: r.template,
      updatedAt: r.updated_at,
    };
  }

  /**
   * Saves conditions, idempotency source and template, keeping the key. Every JSONPath (conditions,
   * idempotency, template placeholders) is checked first, so nothing is stored that cannot run.
   */
  async put(automationId: string, request: PutWebhookSettingsRequest, now: number = Date.now()): Promise<WebhookSettings> {
    for (const condition of request.conditions) assertJsonPathUsable(condition.path);
    if (request.idempotency?.from === "jsonpath") assertJsonPathUsable(request.idempotency.path);
    if (request.template !== null) assertTemplateUsable(request.template);
    await this.db
      .prepare(
        `INSERT INTO webhook_triggers (automation_id, conditions, idempotency, template, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT (automation_id) DO UPDATE SET conditions = excluded.conditions, idempotency = excluded.idempotency,
           template = excluded.template, updated_at = excluded.updated_at`,
      )
      .bind(
        automationId,
        JSON.stringify(request.conditions),
        request.idempotency === null ? null : JSON.stringify(request.idempotency),
        request.template,
        now,
      )
      .run();
    return this.get(automationId);
  }

  /** Issues a new key (the previous one stops working at once) and returns it: the only time it is readable. */
  async issueKey(automationId: string, now: number = Date.now()): Promise<{ key: string; createdAt: number }> {
    const { key, hash } = await newWebhookKey();
    await this.db
      .prepare(
        `INSERT INTO webhook_triggers (automation_id, key_hash, key_created_at, conditions, created_at, updated_at)
         VALUES (?1, ?2, ?3, '[]', ?3, ?3)
         ON CONFLICT (automation_id) DO UPDATE SET key_hash = excluded.key_hash, key_created_at = excluded.key_created_at,
           updated_at = excluded.updated_at`,
      )
      .bind(automationId, hash, now)
      .run();
    return { key, createdAt: now };
  }
}
