import type { Env } from "../../env";
import { wakeScheduler } from "../../triggers/scheduler-object";
import { PICKER_TIMEOUT_MS } from "./picker-expiry";
import { SlackStore, type ThreadKey } from "./store";

/**
 * Parks a request until someone picks its repository, and has the scheduler wake when the picker
 * expires, so the picker is replaced then without anyone clicking (`picker-expiry.ts`).
 */
export async function parkRequest(env: Env, key: ThreadKey, prompt: string, now: number): Promise<void> {
  const expiresAt = now + PICKER_TIMEOUT_MS;
  await new SlackStore(env.DB).setPendingPrompt(key, prompt, now, expiresAt);
  await wakeScheduler(env, expiresAt);
}
