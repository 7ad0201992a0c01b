import { type Automation, LookoutError, type TestWebhookResponse, type WebhookIdempotency } from "@lookout/protocol";
import type { Env } from "../env";
import type { TriggerEvent } from "./types";
import { evaluateConditions, failedConditionReason, selectJsonPath } from "./webhook-conditions";
import { presentedWebhookKey, verifyWebhookKey } from "./webhook-key";
import { type Intake, assertEnabled, assertJsonContentType, parseJsonBody, readCappedBody } from "./webhook-request";
import { type WebhookSettings, WebhookSettingsStore } from "./webhook-settings";
import { renderWebhookTemplate } from "./webhook-template";

/** Largest inbound webhook body accepted. */
export const MAX_WEBHOOK_BODY_BYTES = 256 * 1024;
/**
 * How far a `Webhook-Timestamp` (Standard Webhooks' header, Unix seconds) may be from our clock.
 * The header is optional; a sender that sends it gets its stale retries refused.
 */
export const WEBHOOK_TIMESTAMP_WINDOW_MS = 5 * 60 * 1000;
/** Headers read as the idempotency key when the automation names no source of its own. */
const DEFAULT_IDEMPOTENCY_HEADERS = ["idempotency-key", "webhook-id"] as const;
/** Longest idempotency key; a longer one is refused rather than silently cut (two keys could collide). */
const MAX_IDEMPOTENCY_KEY_CHARS = 200;

/**
 * Turns one inbound webhook delivery for `automation` into a trigger event, or refuses it with the
 * registry error that says why. In order: the automation's key (401), a `Webhook-Timestamp` in the
 * window when one is sent (401), the automation enabled (409), JSON only (415), the size cap (413),
 * valid JSON (400), the idempotency key when the automation names a source for it (422). JSONPath
 * conditions that do not hold are not a refusal: the event carries the first failing condition as
 * its skip reason, and the run history shows it.
 */
export async function receiveWebhookDelivery(env: Env, automation: Automation, request: Request, now: number): Promise<Intake> {
  const settings = await new WebhookSettingsStore(env.DB).get(automation.id);
  await verifyWebhookKey(presentedWebhookKey(request.headers), settings.keyHash);
  assertFreshWebhookTimestamp(request.headers.get("webhook-timestamp"), now);
  assertEnabled(automation);
  assertJsonContentType(request.headers.get("content-type") ?? undefined);
  const payload = parseJsonBody(await readCappedBody(request, MAX_WEBHOOK_BODY_BYTES));
  const idempotencyKey = idempotencyKeyOf(settings.idempotency, request.headers, payload);
  const deliveryId = idempotencyKey ?? crypto.randomUUID();
  const { results } = evaluateConditions(payload, settings.conditions);
  const skipReason = failedConditionReason(results);
  const event: TriggerEvent = {
    source: "webhook",
    deliveryId,
    dedupeKey: idempotencyKey === null ? null : `webhook:${automation.id}:${idempotencyKey}`,
    actor: null,
    repositoryHint: null,
    instructions: null,
    untrusted: [{ label: "webhook payload", content: renderWebhookTemplate(settings.template, payload) }],
    ...(skipReason === null ? {} : { skipReason }),
  };
  return { deliveryId, event };
}

/** What a delivery with `payload` and `headers` would do, evaluated without starting or recording anything. */
export function testWebhookPayload(settings: WebhookSettings, payload: unknown, headers: Record<string, string>): TestWebhookResponse {
  const { matched, results } = evaluateConditions(payload, settings.conditions);
  let idempotencyKey: string | null;
  try {
    idempotencyKey = idempotencyKeyOf(settings.idempotency, new Headers(headers), payload);
  } catch {
    idempotencyKey = null;
  }
  return { matched, conditions: results, idempotencyKey, rendered: renderWebhookTemplate(settings.template, payload) };
}

/**
 * The delivery's idempotency key: from the automation's named header or JSONPath (required then),
 * else from `Idempotency-Key` or `Webhook-Id` when the sender sends one, else none.
 */
export function idempotencyKeyOf(source: WebhookIdempotency | null, headers: Headers, payload: unknown): string | null {
  if (source === null) {
    for (const name of DEFAULT_IDEMPOTENCY_HEADERS) {
      const value = headers.get(name)?.trim();
      if (value) return checked(value, `the ${name} header`);
    }
    return null;
  }
  if (source.from === "header") {
    const value = headers.get(source.name)?.trim();
    if (!value)
      throw new LookoutError(
        "VALIDATION_FAILED",
        `This automation reads each delivery's idempotency key from the ${source.name} header; send it.`,
      );
    return checked(value, `the ${source.name} header`);
  }
  const [value] = selectJsonPath(payload, source.path);
  if (typeof value !== "string" && typeof value !== "number") {
    throw new LookoutError(
      "VALIDATION_FAILED",
      `This automation reads each delivery's idempotency key from ${source.path}, which must select a string or a number.`,
    );
  }
  return checked(String(value), source.path);
}

function checked(key: string, where: string): string {
  if (key.length > MAX_IDEMPOTENCY_KEY_CHARS) {
    throw new LookoutError(
      "VALIDATION_FAILED",
      `The idempotency key from ${where} is longer than ${MAX_IDEMPOTENCY_KEY_CHARS} characters.`,
    );
  }
  return key;
}

function assertFreshWebhookTimestamp(header: string | null, nowMs: number): void {
  if (header === null) return;
  const seconds = /^\d{9,11}$/.test(header.trim()) ? Number(header.trim()) : Number.NaN;
  if (!Number.isFinite(seconds) || Math.abs(nowMs - seconds * 1000) > WEBHOOK_TIMESTAMP_WINDOW_MS) {
    throw new LookoutError(
      "STALE_REQUEST",
      `Webhook-Timestamp is not Unix seconds within ${WEBHOOK_TIMESTAMP_WINDOW_MS / 60_000} minutes of this server's clock; send a fresh delivery.`,
    );
  }
}
