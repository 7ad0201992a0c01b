import { LookoutError } from "@lookout/protocol";
import type { Env } from "../../env";
import { log } from "../../log";
import { SlackClient } from "./client";
import { type SlackConfig, slackConfig } from "./config";
import { statusMessage } from "./messages";
import { SlackStore } from "./store";

/** How long a repository picker waits for a choice before the request expires. */
export const PICKER_TIMEOUT_MINUTES = 15;
export const PICKER_TIMEOUT_MS = PICKER_TIMEOUT_MINUTES * 60_000;

/** Expired pickers replaced per scheduler wake; the rest on the next one, right after. */
const EXPIRY_BATCH = 25;

/** What an expired picker says, whether it expired on the scheduler's clock or was picked too late. */
export const EXPIRED_PICKER_STEP = `This request expired — mention me again with \`repo:owner/name\`. (No repository was picked within ${PICKER_TIMEOUT_MINUTES} minutes, so nothing started.)`;

/**
 * Replaces every picker that expired by `now` with the expired message, in place (the picker is
 * the thread's status message), dropping its parked request. Each request is dropped before its
 * message changes, compare-and-set, so a pick racing the expiry either starts the work or finds it
 * expired, never both. Returns how many expired. While Slack is not configured the requests still
 * expire; only their messages stay as they were.
 */
export async function expireSlackPickers(env: Env, now: number): Promise<number> {
  const store = new SlackStore(env.DB);
  const due = await store.expiredPickers(now, EXPIRY_BATCH);
  if (due.length === 0) return 0;
  let config: SlackConfig | null = null;
  try {
    config = await slackConfig(env);
  } catch (error) {
    if (!(error instanceof LookoutError)) throw error;
    log.warn("Slack pickers expired while Slack is not configured; their messages stay", { error: error.message });
  }
  const client = config ? await SlackClient.fromConfig(env, config) : null;
  let expired = 0;
  for (const thread of due) {
    const key = { teamId: thread.teamId, channelId: thread.channelId, threadTs: thread.threadTs };
    if (!(await store.expirePicker(key, now))) continue;
    expired += 1;
    if (!client) continue;
    try {
      const message = statusMessage({ step: EXPIRED_PICKER_STEP, sessionUrl: null, stoppableSessionId: null });
      if (thread.statusTs && (await client.update(key.channelId, thread.statusTs, message))) continue;
      const ts = await client.post(key.channelId, key.threadTs, message);
      if (ts) await store.updateThread(key, { statusTs: ts }, now);
    } catch (error) {
      log.error("could not replace an expired Slack picker", { ...key, error });
    }
  }
  return expired;
}

/** When the earliest waiting picker expires, for the scheduler's next wake. */
export function nextSlackPickerExpiry(env: Env): Promise<number | null> {
  return new SlackStore(env.DB).nextPickerExpiry();
}
