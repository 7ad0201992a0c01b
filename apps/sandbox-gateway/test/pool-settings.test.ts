import { describe, expect, it } from "vitest";
import { DEFAULT_POOL_SETTINGS, loadPoolSettings } from "../src/pool/settings";

describe("the warm pool's settings", () => {
  it("defaults to a 30 minute idle limit, a 10 minute setup limit and a 15 s reconcile", () => {
    expect(loadPoolSettings({})).toEqual(DEFAULT_POOL_SETTINGS);
    expect(DEFAULT_POOL_SETTINGS).toMatchObject({ idleLimitMs: 1_800_000, setupTimeoutMs: 600_000, tickMs: 15_000, refillDelayMs: 5_000 });
  });

  it("takes LOOKOUT_POOL_* in milliseconds; a pool sandbox lives through its wait, its setup and a session's default", () => {
    const settings = loadPoolSettings({
      LOOKOUT_POOL_IDLE_MS: "60000",
      LOOKOUT_POOL_SETUP_TIMEOUT_MS: "30000",
      LOOKOUT_POOL_TICK_MS: "500",
    });
    expect(settings).toMatchObject({ idleLimitMs: 60_000, setupTimeoutMs: 30_000, warmDeadlineMs: 330_000, tickMs: 500 });
    expect(settings.lifetimeMs).toBe(60_000 + 330_000 + 2 * 3600_000);
  });

  it("waits LOOKOUT_POOL_REFILL_DELAY_MS after a claim before refilling; 0 refills at once", () => {
    expect(loadPoolSettings({ LOOKOUT_POOL_REFILL_DELAY_MS: "2000" }).refillDelayMs).toBe(2_000);
    expect(loadPoolSettings({ LOOKOUT_POOL_REFILL_DELAY_MS: "0" }).refillDelayMs).toBe(0);
    expect(() => loadPoolSettings({ LOOKOUT_POOL_REFILL_DELAY_MS: "-1" })).toThrow(/LOOKOUT_POOL_REFILL_DELAY_MS/);
  });

  it("is on unless LOOKOUT_POOL=off", () => {
    expect(loadPoolSettings({ LOOKOUT_POOL: "off" }).enabled).toBe(false);
    expect(loadPoolSettings({ LOOKOUT_POOL: "on" }).enabled).toBe(true);
    expect(() => loadPoolSettings({ LOOKOUT_POOL: "maybe" })).toThrow(/LOOKOUT_POOL/);
  });

  it("refuses a value that is not a positive whole number of milliseconds, naming it", () => {
    expect(() => loadPoolSettings({ LOOKOUT_POOL_IDLE_MS: "30m" })).toThrow(/LOOKOUT_POOL_IDLE_MS/);
    expect(() => loadPoolSettings({ LOOKOUT_POOL_TICK_MS: "0" })).toThrow(/LOOKOUT_POOL_TICK_MS/);
  });
});
