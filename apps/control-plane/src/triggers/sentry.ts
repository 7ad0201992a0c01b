import { type Automation, LookoutError, SentryResource } from "@lookout/protocol";
import type { Env } from "../env";
import { matchSentryConditions, sentryContextBlock } from "./sentry-context";
import { parseSentryPayload } from "./sentry-payload";
import { SentrySettingsStore } from "./sentry-settings";
import { assertFreshSentryTimestamp, verifySentrySignature } from "./sentry-signature";
import type { TriggerEvent } from "./types";
import { type Intake, assertEnabled, assertJsonContentType, parseJsonBody, readCappedBody } from "./webhook-request";

/** Largest Sentry delivery accepted: an event alert carries the whole event (frames, breadcrumbs, request). */
export const MAX_SENTRY_BODY_BYTES = 1024 * 1024;

/** Sentry's `Request-ID` is a UUID; anything else is not Sentry. */
const REQUEST_ID = /^[A-Za-z0-9-]{8,100}$/;

/** Longest session title made from an alert. */
const MAX_TITLE_CHARS = 120;

/**
 * Turns one Sentry integration-platform delivery for `automation` into a trigger event, or refuses
 * it with the registry error that says why. In order: JSON only (415), the size cap (413), the
 * automation's client secret must be set (503), `Sentry-Hook-Signature` over the raw bytes (401),
 * `Sentry-Hook-Timestamp` in the window (401), a `Request-ID` (400), the automation enabled (409),
 * then the payload in the shape Sentry documents for its `Sentry-Hook-Resource` (400/422).
 * Conditions that do not hold are not a refusal: the event carries the reason and is recorded as
 * skipped. Resources that ask for no work (installation, comment) become skipped events too.
 */
export async function receiveSentryDelivery(env: Env, automation: Automation, request: Request, now: number): Promise<Intake> {
  assertJsonContentType(request.headers.get("content-type") ?? undefined);
  const body = await readCappedBody(request, MAX_SENTRY_BODY_BYTES);
  const settings = await SentrySettingsStore.fromEnv(env).open(automation.id);
  if (!settings) {
    throw new LookoutError(
      "SERVICE_NOT_CONFIGURED",
      "This automation has no Sentry Client Secret yet, so its deliveries are refused; save one in its Sentry settings.",
    );
  }
  await verifySentrySignature(settings.clientSecret, body, request.headers.get("sentry-hook-signature") ?? undefined);
  assertFreshSentryTimestamp(request.headers.get("sentry-hook-timestamp") ?? undefined, now);
  const deliveryId = request.headers.get("request-id")?.trim() ?? "";
  if (!REQUEST_ID.test(deliveryId)) throw new LookoutError("BAD_REQUEST", "A Sentry delivery carries a Request-ID header.");
  assertEnabled(automation);

  const resourceHeader = request.headers.get("sentry-hook-resource")?.trim() ?? "";
  const resource = SentryResource.safeParse(resourceHeader);
  const payload = parseJsonBody(body);
  if (!resource.success) {
    return {
      deliveryId,
      event: skipped(deliveryId, `Sentry-Hook-Resource ${JSON.stringify(resourceHeader.slice(0, 40))} starts no work`),
    };
  }
  const alert = parseSentryPayload(resource.data, payload);
  const match = matchSentryConditions(alert, settings.conditions);
  const event: TriggerEvent = {
    source: "sentry",
    deliveryId,
    dedupeKey: alert.subjectKey,
    actor: null,
    repositoryHint: null,
    instructions: null,
    untrusted: [{ label: "Sentry alert", content: sentryContextBlock(alert) }],
    title: clipTitle(`Sentry: ${alert.title}`),
    ...(match.matched ? {} : { skipReason: match.reason }),
  };
  return { deliveryId, event };
}

function skipped(deliveryId: string, reason: string): TriggerEvent {
  return {
    source: "sentry",
    deliveryId,
    dedupeKey: null,
    actor: null,
    repositoryHint: null,
    instructions: null,
    untrusted: [],
    skipReason: reason,
  };
}

function clipTitle(title: string): string {
  const flat = title.replace(/\s+/g, " ").trim();
  return flat.length > MAX_TITLE_CHARS ? `${flat.slice(0, MAX_TITLE_CHARS - 1)}…` : flat;
}
