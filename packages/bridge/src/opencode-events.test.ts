import { describe, expect, it } from "vitest";
import { isRunFinalised, parseOpencodeEvent, type MessageWithParts } from "./opencode-events";

const message = (id: string, role: "user" | "assistant", completed?: number): MessageWithParts => ({
  info: { id, sessionID: "s", role, time: { created: 1, ...(completed ? { completed } : {}) } },
  parts: [],
});

describe("isRunFinalised", () => {
  it("waits for every assistant message after the latest user message to be completed", () => {
    expect(isRunFinalised([message("u1", "user"), message("a1", "assistant", 5)])).toBe(true);
    expect(isRunFinalised([message("u1", "user"), message("a1", "assistant", 5), message("a2", "assistant")])).toBe(false);
    // Older runs do not matter, and a prompt without an answer yet counts as finalised.
    expect(isRunFinalised([message("a0", "assistant"), message("u1", "user")])).toBe(true);
  });
});

describe("parseOpencodeEvent", () => {
  it("ignores event types the bridge does not read and flags malformed ones", () => {
    expect(parseOpencodeEvent({ type: "plugin.added", properties: { id: "x" } })).toEqual({ ok: false, reason: "ignored" });
    expect(parseOpencodeEvent("nope")).toEqual({ ok: false, reason: "ignored" });
    expect(parseOpencodeEvent({ type: "session.status", properties: {} })).toMatchObject({ ok: false, reason: "invalid" });
  });
});
