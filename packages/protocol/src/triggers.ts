import { z } from "zod";

/**
 * Settings DTOs for the two triggers that arrive over plain HTTP with no chat platform: Sentry's
 * integration-platform webhooks and generic inbound webhooks. Each belongs to one automation; the
 * automation itself (instructions, repository, model) is in `automations.ts`.
 */

/** The `Sentry-Hook-Resource` values that can start work; others (installation, comment) are acknowledged and ignored. */
export const SentryResource = z.enum(["issue", "event_alert", "metric_alert", "error"]);
export type SentryResource = z.infer<typeof SentryResource>;

/** Sentry's event levels, most severe first. */
export const SentryLevel = z.enum(["fatal", "error", "warning", "info", "debug"]);
export type SentryLevel = z.infer<typeof SentryLevel>;

const ConditionValue = z.string().trim().min(1).max(200);

/**
 * Which Sentry deliveries start work. Each list is a filter; an empty list lets everything through.
 * `projects` match a project's slug or numeric id. A delivery that does not carry the filtered
 * field (an `issue` webhook has no environment) does not pass that filter: conditions fail closed.
 */
export const SentryConditions = z.object({
  resources: z.array(SentryResource).max(4).default([]),
  projects: z.array(ConditionValue).max(50).default([]),
  environments: z.array(ConditionValue).max(50).default([]),
  levels: z.array(SentryLevel).max(5).default([]),
});
export type SentryConditions = z.infer<typeof SentryConditions>;

/**
 * `PUT /api/triggers/sentry/:automationId/settings`. The client secret is Sentry's (Settings →
 * Developer Settings → the integration → Client Secret); it is sealed at rest and never returned.
 * Omit it to keep the stored one.
 */
export const PutSentrySettingsRequest = z.object({
  clientSecret: z.string().min(16).max(256).optional(),
  conditions: SentryConditions.default({ resources: [], projects: [], environments: [], levels: [] }),
});
export type PutSentrySettingsRequest = z.infer<typeof PutSentrySettingsRequest>;

export const SentrySettingsView = z.object({
  automationId: z.string(),
  /** Where Sentry sends deliveries: the integration's Webhook URL. */
  url: z.string(),
  clientSecretSet: z.boolean(),
  conditions: SentryConditions,
  updatedAt: z.number(),
});
export type SentrySettingsView = z.infer<typeof SentrySettingsView>;

/** jsonpath-plus's value-type selectors (`$..*@string()`): tests, not scripts. */
const JSONPATH_TYPE_SELECTOR = /@(?:null|boolean|number|string|integer|array|object|scalar|nonFinite)\(\)/g;

/**
 * A JSONPath expression over the payload: dot and bracket members, wildcards, recursive descent,
 * indexes, slices, unions, parent (`^`), property names (`~`) and type selectors (`@string()`).
 * Filter (`?()`) and script (`()`) expressions are refused here and again by the evaluator, which
 * runs with `eval: false`: a condition is data, never code.
 */
export const JsonPathExpression = z
  .string()
  .min(1)
  .max(300)
  .regex(/^\$/, "a JSONPath starts with $")
  .refine(
    (path) => !/[?(]|[\u0000-\u001f]/.test(path.replace(JSONPATH_TYPE_SELECTOR, "")),
    "filter and script expressions (?() and ()) are not allowed",
  );
export type JsonPathExpression = z.infer<typeof JsonPathExpression>;

const JsonScalar = z.union([z.string().max(1000), z.number(), z.boolean(), z.null()]);
export type JsonScalar = z.infer<typeof JsonScalar>;

/**
 * One condition on an inbound payload. The path selects zero or more values; `exists` holds when it
 * selects any, `absent` when it selects none; `equals`, `contains` and `one_of` hold when at least
 * one selected value passes; `not_equals` holds when none equals `value`.
 */
export const WebhookCondition = z.discriminatedUnion("op", [
  z.object({ path: JsonPathExpression, op: z.literal("exists") }),
  z.object({ path: JsonPathExpression, op: z.literal("absent") }),
  z.object({ path: JsonPathExpression, op: z.literal("equals"), value: JsonScalar }),
  z.object({ path: JsonPathExpression, op: z.literal("not_equals"), value: JsonScalar }),
  /** A string that contains `value`, or an array with an element equal to it. */
  z.object({ path: JsonPathExpression, op: z.literal("contains"), value: JsonScalar }),
  z.object({ path: JsonPathExpression, op: z.literal("one_of"), value: z.array(JsonScalar).min(1).max(50) }),
]);
export type WebhookCondition = z.infer<typeof WebhookCondition>;

/** Where a delivery's idempotency key comes from: a request header, or a value in the payload. */
export const WebhookIdempotency = z.discriminatedUnion("from", [
  z.object({
    from: z.literal("header"),
    name: z
      .string()
      .min(1)
      .max(100)
      .regex(/^[A-Za-z0-9-]+$/, "header names are letters, digits and '-'"),
  }),
  z.object({ from: z.literal("jsonpath"), path: JsonPathExpression }),
]);
export type WebhookIdempotency = z.infer<typeof WebhookIdempotency>;

/** Most conditions one webhook automation holds; every one must hold for a delivery to start work. */
export const MAX_WEBHOOK_CONDITIONS = 20;
/** Longest prompt template, in characters. */
export const MAX_WEBHOOK_TEMPLATE_CHARS = 8_000;

/**
 * `PUT /api/triggers/webhooks/:automationId/settings`. `template` renders the payload into the
 * prompt's untrusted block with `{{$.path}}` placeholders; unset, the block is the payload as JSON.
 * `idempotency` names the key that makes a redelivery a duplicate; unset, the `Idempotency-Key`
 * header is used when the sender sends one.
 */
export const PutWebhookSettingsRequest = z.object({
  conditions: z.array(WebhookCondition).max(MAX_WEBHOOK_CONDITIONS).default([]),
  idempotency: WebhookIdempotency.nullable().default(null),
  template: z.string().max(MAX_WEBHOOK_TEMPLATE_CHARS).nullable().default(null),
});
export type PutWebhookSettingsRequest = z.infer<typeof PutWebhookSettingsRequest>;

export const WebhookSettingsView = z.object({
  automationId: z.string(),
  /** Where senders POST. */
  url: z.string(),
  /** Whether a key has been issued (the key itself is shown once, when issued). */
  keySet: z.boolean(),
  keyCreatedAt: z.number().nullable(),
  conditions: z.array(WebhookCondition),
  idempotency: WebhookIdempotency.nullable(),
  template: z.string().nullable(),
  updatedAt: z.number(),
});
export type WebhookSettingsView = z.infer<typeof WebhookSettingsView>;

/** `POST /api/triggers/webhooks/:automationId/key`: the new key, shown this once; the old one stops working. */
export const WebhookKeyResponse = z.object({
  key: z.string(),
  url: z.string(),
  /** The header a sender puts the key in (`Authorization: Bearer <key>` works too). */
  header: z.string(),
  createdAt: z.number(),
});
export type WebhookKeyResponse = z.infer<typeof WebhookKeyResponse>;

/** `POST /api/triggers/webhooks/:automationId/test`: a sample delivery, evaluated without starting anything. */
export const TestWebhookRequest = z.object({
  payload: z.unknown(),
  headers: z.record(z.string(), z.string().max(1000)).default({}),
});
export type TestWebhookRequest = z.infer<typeof TestWebhookRequest>;

export const ConditionResult = z.object({
  condition: WebhookCondition,
  matched: z.boolean(),
  /** What the path selected (at most a few values, each shortened). */
  selected: z.array(z.unknown()),
  /** Why the condition could not be evaluated, when it could not. */
  error: z.string().nullable(),
});
export type ConditionResult = z.infer<typeof ConditionResult>;

export const TestWebhookResponse = z.object({
  /** Whether every condition holds: a real delivery with this payload would start work. */
  matched: z.boolean(),
  conditions: z.array(ConditionResult),
  idempotencyKey: z.string().nullable(),
  /** The untrusted block the prompt would carry. */
  rendered: z.string(),
});
export type TestWebhookResponse = z.infer<typeof TestWebhookResponse>;

/** What the public trigger endpoints answer once a delivery is verified and recorded. */
export const TriggerAck = z.object({
  ok: z.literal(true),
  deliveryId: z.string(),
  /** A redelivery of one already received: acknowledged, not applied again. */
  duplicate: z.boolean(),
});
export type TriggerAck = z.infer<typeof TriggerAck>;
