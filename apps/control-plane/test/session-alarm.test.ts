import { env, runInDurableObject } from "cloudflare:test";
import { getAgentByName } from "agents";
import { beforeAll, describe, expect, it } from "vitest";
import { type SessionAgent, wakeUpTime } from "../src/session/session-agent";
import { createRepositoryAndSession, login, openBridge, sandboxRequestFor } from "./helpers";

let cookie: string;
beforeAll(async () => {
  cookie = await login();
});

interface Armed {
  /** The earliest row of the session's deadlines table. */
  earliest: number | null;
  /** The deadline the current schedule was made for (the session's record of it). */
  recorded: number | null;
  /** When the Durable Object's alarm will fire. */
  alarm: number | null;
}

describe("the session's wake-up", () => {
  it("rounds a deadline up to the scheduler's whole seconds", () => {
    expect(wakeUpTime(12_400, 0)).toBe(13_000);
    expect(wakeUpTime(12_000, 0)).toBe(12_000);
    expect(wakeUpTime(12_001, 0)).toBe(13_000);
    // A deadline already past wakes at the next whole second after now.
    expect(wakeUpTime(5, 10_000)).toBe(11_000);
  });

  it("fires at the earliest deadline or within a second after it, never before it (an early alarm re-arms itself at once)", async () => {
    const { sessionId } = await createRepositoryAndSession(cookie, { prompt: "go" });
    const request = await sandboxRequestFor(sessionId);
    const { peer } = await openBridge(sessionId, request.sandboxId, request.sandboxToken);
    if (!peer) throw new Error("bridge refused");
    try {
      // Connecting the bridge sets the heartbeat deadline (now + 45 s, to the millisecond).
      await peer.waitFor((message) => message.type === "bridge.welcome");
      const stub = await getAgentByName(env.SESSION, sessionId);
      const read = () =>
        runInDurableObject(stub, async (_instance: SessionAgent, state): Promise<Armed> => {
          const earliest = state.storage.sql.exec<{ at: number | null }>("SELECT MIN(due_at) AS at FROM deadlines").one().at;
          const record = state.storage.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'alarm'").toArray()[0];
          const recorded = record ? (JSON.parse(record.value) as { at: number }).at : null;
          return { earliest, recorded, alarm: await state.storage.getAlarm() };
        });
      // Arming runs after the unit commits; wait until the schedule is the one for the earliest deadline.
      const deadline = Date.now() + 5_000;
      let armed = await read();
      while (armed.earliest === null || armed.recorded !== armed.earliest) {
        if (Date.now() > deadline) throw new Error(`the alarm was not re-armed for the earliest deadline: ${JSON.stringify(armed)}`);
        await scheduler.wait(10);
        armed = await read();
      }
      expect(armed.alarm).not.toBeNull();
      expect(armed.alarm!).toBeGreaterThanOrEqual(armed.earliest);
      expect(armed.alarm! - armed.earliest).toBeLessThan(1_000);
    } finally {
      peer.close();
    }
  });
});
