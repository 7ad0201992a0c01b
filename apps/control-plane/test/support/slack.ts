import { SELF, createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { app } from "../../src/app";
import type { Env } from "../../src/env";
import { ORIGIN, api } from "../helpers";
import { FAKE_SLACK, type FakeSlackCall } from "./fake-slack";

/** Helpers that talk to the Worker the way Slack does, and read what the fake Slack was asked. */

let counter = 0;

/** A fresh message ts, unique within the run, in Slack's `seconds.micros` form. */
export function nextTs(): string {
  counter += 1;
  return `${1_800_000_000 + counter}.${String(counter).padStart(6, "0")}`;
}

export function nextEventId(): string {
  return `Ev${crypto.randomUUID().replace(/-/g, "").slice(0, 12).toUpperCase()}`;
}

export async function slackSignature(secret: string, timestamp: string, body: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`v0:${timestamp}:${body}`)));
  return `v0=${[...mac].map((byte) => byte.toString(16).padStart(2, "0")).join("")}`;
}

export interface SendOptions {
  path?: string;
  contentType?: string;
  secret?: string;
  timestamp?: string | null;
  signature?: string | null;
  headers?: Record<string, string>;
}

/** `body` posted to a Slack route signed like Slack: `v0=` HMAC-SHA256 of `v0:{ts}:{raw body}` with the signing secret. */
async function slackRequest(body: string, options: SendOptions): Promise<Request> {
  const timestamp = options.timestamp === undefined ? String(Math.floor(Date.now() / 1000)) : options.timestamp;
  const headers: Record<string, string> = { "content-type": options.contentType ?? "application/json", ...options.headers };
  if (timestamp !== null) headers["x-slack-request-timestamp"] = timestamp;
  const signature =
    options.signature === undefined
      ? await slackSignature(options.secret ?? FAKE_SLACK.signingSecret, timestamp ?? "0", body)
      : options.signature;
  if (signature !== null) headers["x-slack-signature"] = signature;
  return new Request(`${ORIGIN}${options.path ?? "/api/slack/events"}`, { method: "POST", headers, body });
}

/** Posts `body` signed like Slack to the Worker. */
export async function sendToSlackRoute(body: string, options: SendOptions = {}): Promise<{ status: number; text: string }> {
  const response = await SELF.fetch(await slackRequest(body, options));
  return { status: response.status, text: await response.text() };
}

/**
 * Posts `body` signed like Slack straight to the app, with `overrides` in place of those of the
 * Worker's bindings, and waits for the background work the request started.
 */
export async function sendToSlackApp(
  overrides: Partial<Env>,
  body: string,
  options: SendOptions = {},
): Promise<{ status: number; text: string }> {
  const ctx = createExecutionContext();
  const response = await app.fetch(await slackRequest(body, options), { ...env, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
  return { status: response.status, text: await response.text() };
}

/** The options that send a form-encoded interactivity payload (`blockAction`, `homeSelect`). */
export const INTERACTION: SendOptions = { path: "/api/slack/interactions", contentType: "application/x-www-form-urlencoded" };

export interface MessageEvent {
  type?: "app_mention" | "message";
  channel: string;
  channelType?: "channel" | "im";
  user?: string;
  text: string;
  ts?: string;
  threadTs?: string;
  teamId?: string;
  eventId?: string;
}

/** An Events API `event_callback` in the shape Slack documents for `app_mention` and `message.im`. */
export function eventCallback(message: MessageEvent): { body: string; ts: string; eventId: string } {
  const ts = message.ts ?? nextTs();
  const eventId = message.eventId ?? nextEventId();
  const teamId = message.teamId ?? FAKE_SLACK.teamId;
  const type = message.type ?? "app_mention";
  const event: Record<string, unknown> = {
    type,
    user: message.user ?? "U0ALICE",
    text: message.text,
    ts,
    channel: message.channel,
    event_ts: ts,
    team: teamId,
    ...(message.threadTs ? { thread_ts: message.threadTs } : {}),
    ...(type === "message" ? { channel_type: message.channelType ?? "im" } : {}),
  };
  const body = {
    token: "unused-verification-token",
    team_id: teamId,
    api_app_id: "A0LOOKOUT",
    event,
    type: "event_callback",
    event_id: eventId,
    event_time: Math.floor(Date.now() / 1000),
    authorizations: [{ team_id: teamId, user_id: FAKE_SLACK.botUserId, is_bot: true }],
  };
  return { body: JSON.stringify(body), ts, eventId };
}

/** `block_actions` as Slack sends it to the interactivity URL: form-encoded, JSON in `payload`. */
export function blockAction(input: {
  channel: string;
  messageTs: string;
  threadTs?: string;
  user?: string;
  action: Record<string, unknown>;
}): string {
  const payload = {
    type: "block_actions",
    team: { id: FAKE_SLACK.teamId, domain: "acme" },
    user: { id: input.user ?? "U0ALICE", username: "alice", team_id: FAKE_SLACK.teamId },
    api_app_id: "A0LOOKOUT",
    token: "unused-verification-token",
    container: { type: "message", message_ts: input.messageTs, channel_id: input.channel, is_ephemeral: false },
    trigger_id: "1.2.3",
    channel: { id: input.channel, name: "general" },
    message: {
      type: "message",
      ts: input.messageTs,
      ...(input.threadTs ? { thread_ts: input.threadTs } : {}),
      text: "",
      user: FAKE_SLACK.botUserId,
    },
    response_url: "https://hooks.slack.test/actions/1",
    actions: [{ block_id: "b1", action_ts: String(Date.now() / 1000), ...input.action }],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

/** A repository chosen in the picker message, as Slack sends it to the interactivity URL. */
export function repositoryPick(input: {
  channel: string;
  pickerTs: string;
  threadTs: string;
  repository: { id: string; name: string };
}): string {
  return blockAction({
    channel: input.channel,
    messageTs: input.pickerTs,
    threadTs: input.threadTs,
    action: {
      type: "static_select",
      action_id: "lookout_pick_repository",
      selected_option: { value: input.repository.id, text: { type: "plain_text", text: input.repository.name } },
    },
  });
}

/** `app_home_opened` for the Home tab, as the Events API delivers it. */
export function homeOpened(user: string, channel: string): string {
  return JSON.stringify({
    token: "x",
    team_id: FAKE_SLACK.teamId,
    api_app_id: "A0LOOKOUT",
    type: "event_callback",
    event_id: nextEventId(),
    event_time: Math.floor(Date.now() / 1000),
    event: { type: "app_home_opened", user, channel, tab: "home", event_ts: "1.2" },
  });
}

/** A `static_select` chosen on App Home, as `block_actions` from a view: form-encoded, JSON in `payload`. */
export function homeSelect(input: { user: string; actionId: string; blockId: string; value: string; text: string }): string {
  const payload = {
    type: "block_actions",
    team: { id: FAKE_SLACK.teamId, domain: "acme" },
    user: { id: input.user, username: input.user.toLowerCase(), team_id: FAKE_SLACK.teamId },
    api_app_id: "A0LOOKOUT",
    token: "unused",
    container: { type: "view", view_id: "V0HOME" },
    trigger_id: "1.2.3",
    view: { id: "V0HOME", type: "home", blocks: [] },
    actions: [
      {
        type: "static_select",
        action_id: input.actionId,
        block_id: input.blockId,
        selected_option: { value: input.value, text: { type: "plain_text", text: input.text } },
        action_ts: "1.4",
      },
    ],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

/** Registers a local repository with a fresh name starting with `prefix`. */
export async function registerRepository(cookie: string, prefix: string): Promise<{ id: string; name: string }> {
  const name = `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
  const created = await api(cookie)("POST", "/api/repositories", { kind: "local", path: `/srv/repos/${name}`, name });
  if (created.status !== 201) throw new Error(`repository ${name}: ${created.status} ${JSON.stringify(created.json)}`);
  return { id: created.json.repository.id, name };
}

export async function slackCalls(): Promise<FakeSlackCall[]> {
  const response = await env.SLACK_API!.fetch("https://slack.test/__fake/calls");
  return response.json<FakeSlackCall[]>();
}

/** Waits (with a deadline) until `check` returns something for the calls made so far. */
export async function waitForCalls<T>(check: (calls: FakeSlackCall[]) => T | undefined | false, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const calls = await slackCalls();
    const found = check(calls);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`timed out; Slack calls: ${JSON.stringify(calls.slice(-20))}`);
    await scheduler.wait(10);
  }
}

export interface SlackDeliveryRow {
  status: string;
  reason: string | null;
  session_id: string | null;
  follow_up: number | null;
  actor_user_id: string | null;
}

/** The recorded delivery for a message, with its run. */
export async function deliveryOf(channel: string, ts: string, suffix = ""): Promise<SlackDeliveryRow | null> {
  return env.DB.prepare(
    `SELECT d.status, d.reason, r.session_id, r.follow_up, r.actor_user_id FROM trigger_deliveries d
     LEFT JOIN trigger_runs r ON r.id = d.run_id WHERE d.source = 'slack' AND d.delivery_id = ? AND d.status NOT IN ('replayed', 'refused') ORDER BY d.received_at DESC LIMIT 1`,
  )
    .bind(`${FAKE_SLACK.teamId}:${channel}:${ts}${suffix}`)
    .first<SlackDeliveryRow>();
}

/** Waits until the message's delivery is settled (not `received`). */
export async function waitForDelivery(channel: string, ts: string, suffix = "", timeoutMs = 5_000): Promise<SlackDeliveryRow> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const row = await deliveryOf(channel, ts, suffix);
    if (row && row.status !== "received") return row;
    if (Date.now() > deadline) throw new Error(`timed out waiting for the delivery of ${channel}:${ts}${suffix}: ${JSON.stringify(row)}`);
    await scheduler.wait(10);
  }
}

let channelCounter = 0;
/** A channel id of its own for a test, so calls and threads do not mix. */
export function newChannel(prefix: "C" | "D" = "C"): string {
  channelCounter += 1;
  return `${prefix}0T${String(channelCounter).padStart(4, "0")}${crypto.randomUUID().slice(0, 4).toUpperCase().replace(/-/g, "")}`;
}
