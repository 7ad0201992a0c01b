import { LookoutError } from "@lookout/protocol";
import type { Logger, LogLevel } from "@slack/bolt";
import { readCappedBody } from "../../triggers/webhook-request";
import { slackSdk } from "./sdk";

/** Largest Slack request accepted; Slack's own payloads are a few KiB. */
export const MAX_SLACK_BODY_BYTES = 256 * 1024;

/** Slack's window: a request signed more than five minutes ago is refused (a replay). */
export const SLACK_MAX_AGE_SECONDS = 300;

/** A verified Slack request: its parsed body and Slack's retry headers. */
export interface VerifiedSlackRequest {
  body: Record<string, unknown>;
  retryNum?: number;
  retryReason?: string;
}

/**
 * Verifies one Events API, interactivity or slash-command request and parses it, in this order:
 * a content type Slack sends (415), the size cap while reading (413), `X-Slack-Request-Timestamp`
 * within five minutes (401 `STALE_REQUEST`), `X-Slack-Signature` over the raw bytes with Bolt's
 * `verifySlackRequest` (401 `WEBHOOK_SIGNATURE_INVALID`), then the body (400). Nothing is parsed
 * before the signature holds.
 */
export async function verifySlackHttpRequest(signingSecret: string, request: Request, nowMs: number): Promise<VerifiedSlackRequest> {
  const contentType = (request.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (contentType !== "application/json" && contentType !== "application/x-www-form-urlencoded") {
    throw new LookoutError("UNSUPPORTED_MEDIA_TYPE", "Slack requests are JSON (events) or form-encoded (interactions, commands).");
  }
  const bytes = await readCappedBody(request, MAX_SLACK_BODY_BYTES);
  const timestampHeader = request.headers.get("x-slack-request-timestamp") ?? "";
  const timestamp = /^\d{1,12}$/.test(timestampHeader) ? Number(timestampHeader) : NaN;
  if (!Number.isFinite(timestamp) || Math.abs(nowMs / 1000 - timestamp) > SLACK_MAX_AGE_SECONDS) {
    throw new LookoutError("STALE_REQUEST", "X-Slack-Request-Timestamp is missing or more than five minutes from now.");
  }
  const signature = request.headers.get("x-slack-signature") ?? "";
  let raw: string;
  try {
    raw = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new LookoutError("WEBHOOK_SIGNATURE_INVALID", "The request body is not UTF-8, so it was not signed by Slack.");
  }
  const { verifySlackRequest, LogLevel } = await slackSdk();
  try {
    verifySlackRequest({
      signingSecret,
      body: raw,
      headers: { "x-slack-signature": signature, "x-slack-request-timestamp": timestamp },
      nowMilliseconds: nowMs,
      logger: silentLogger(LogLevel.ERROR),
    });
  } catch {
    throw new LookoutError("WEBHOOK_SIGNATURE_INVALID", "X-Slack-Signature does not match the body under SLACK_SIGNING_SECRET.");
  }
  return { body: parseBody(contentType, raw), ...retryOf(request.headers) };
}

function parseBody(contentType: string, raw: string): Record<string, unknown> {
  if (contentType === "application/json") return asObject(parseJson(raw));
  const form = new URLSearchParams(raw);
  const payload = form.get("payload");
  // Interactions carry their JSON in `payload`; slash commands are the form's fields themselves.
  if (payload !== null) return asObject(parseJson(payload));
  const fields = Object.fromEntries(form.entries());
  if (!fields.command) throw new LookoutError("BAD_REQUEST", "A form-encoded Slack request carries `payload` or a slash `command`.");
  return fields;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new LookoutError("INVALID_JSON", "The Slack request's body is not valid JSON.");
  }
}

function asObject(value: unknown): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new LookoutError("BAD_REQUEST", "A Slack request's body is a JSON object.");
  }
  return value as Record<string, unknown>;
}

function retryOf(headers: Headers): Pick<VerifiedSlackRequest, "retryNum" | "retryReason"> {
  const num = headers.get("x-slack-retry-num");
  const reason = headers.get("x-slack-retry-reason");
  return {
    ...(num && /^\d{1,3}$/.test(num) ? { retryNum: Number(num) } : {}),
    ...(reason ? { retryReason: reason.slice(0, 100) } : {}),
  };
}

/** Bolt logs a verification failure itself; the route answers with the registry error instead. */
const silentLogger = (level: LogLevel): Logger => ({
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  setLevel: () => {},
  getLevel: () => level,
  setName: () => {},
});
