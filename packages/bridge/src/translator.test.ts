import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { MessageWithParts, parseOpencodeEvent } from "./opencode-events";
import { EventTranslator, truncateMiddle, truncateStrings, type TranslatorOutput } from "./translator";

/** Events recorded from `opencode serve` 1.18.33 driven by the scripted model (see README). */
function fixture(name: string): unknown[] {
  return z.array(z.unknown()).parse(JSON.parse(readFileSync(new URL(`../test/fixtures/${name}`, import.meta.url), "utf8")));
}

function sessionIdOf(events: unknown[]): string {
  for (const raw of events) {
    const parsed = parseOpencodeEvent(raw);
    if (parsed.ok && parsed.event.type === "session.status") return parsed.event.properties.sessionID;
  }
  throw new Error("fixture has no session.status");
}

function run(translator: EventTranslator, events: unknown[]): TranslatorOutput[] {
  return events.flatMap((raw) => {
    const parsed = parseOpencodeEvent(raw);
    return parsed.ok ? translator.translate(parsed.event) : [];
  });
}

const demo = fixture("opencode-demo-events.json");

describe("EventTranslator on a recorded demo run", () => {
  const translator = new EventTranslator(sessionIdOf(demo));
  translator.beginPrompt("p1");
  const outputs = run(translator, demo);
  const events = outputs.flatMap((o) => (o.kind === "event" ? [o.event] : []));
  const texts = outputs.flatMap((o) => (o.kind === "text" ? [o] : []));

  it("never echoes the user's own prompt", () => {
    expect(texts.some((t) => t.text === "demo")).toBe(false);
  });

  it("accumulates deltas into cumulative text per part, ending with the final text", () => {
    const byPart = new Map<string, typeof texts>();
    for (const t of texts) byPart.set(t.messageId, [...(byPart.get(t.messageId) ?? []), t]);
    const finals = [...byPart.values()].map((updates) => updates.at(-1));
    expect(finals.every((t) => t?.final)).toBe(true);
    for (const updates of byPart.values()) {
      for (let i = 1; i < updates.length; i++) expect(updates[i]?.text.startsWith(updates[i - 1]?.text ?? "")).toBe(true);
    }
    const assistantFinals = finals.filter((t) => t?.role === "assistant").map((t) => t?.text);
    expect(assistantFinals[0]).toBe(
      "**Offline demo model** (scripted, no real model is involved). Let me look around the repository first.",
    );
    expect(assistantFinals.at(-1)).toMatch(/^Summary \(offline demo\)/);
    expect(finals.filter((t) => t?.role === "reasoning").map((t) => t?.text)).toEqual([
      "The user wants to see the offline demo. I will look at the README first.",
    ]);
    expect(texts.every((t) => t.promptId === "p1")).toBe(true);
  });

  it("emits each tool call's state changes once, with one callId per tool part", () => {
    const calls = events.filter((e) => e.type === "tool.call");
    const byCall = new Map<string, string[]>();
    for (const call of calls) byCall.set(call.callId, [...(byCall.get(call.callId) ?? []), call.state]);
    expect([...byCall.values()]).toEqual([
      ["pending", "running", "completed"],
      ["pending", "running", "completed"],
      ["pending", "running", "completed"],
      ["pending", "running", "completed"],
    ]);
    expect(calls.filter((c) => c.state === "completed").map((c) => c.tool)).toEqual(["read", "write", "edit", "bash"]);
    const bash = calls.find((c) => c.tool === "bash" && c.state === "completed");
    expect(bash).toMatchObject({ title: "git status --short && ls", input: { command: "git status --short && ls" } });
    expect(bash?.output).toContain("LOOKOUT_DEMO.md");
    expect(bash?.startedAt).toBeLessThanOrEqual(bash?.endedAt ?? 0);
  });

  it("reports every step's tokens and cost", () => {
    const steps = events.filter((e) => e.type === "step.finished");
    expect(steps).toHaveLength(5);
    expect(steps[0]).toMatchObject({ tokens: { input: 2436, output: 32, reasoning: 18, cacheRead: 0, cacheWrite: 0 }, costUsd: 0 });
  });

  it("sees the session go busy and end idle", () => {
    const statuses = outputs.filter((o) => o.kind === "busy" || o.kind === "idle").map((o) => o.kind);
    expect(statuses[0]).toBe("busy");
    expect(statuses.at(-1)).toBe("idle");
  });

  it("finds nothing new when reconciling with the messages API afterwards", () => {
    const messages = z
      .array(MessageWithParts)
      .parse(JSON.parse(readFileSync(new URL("../test/fixtures/opencode-demo-messages.json", import.meta.url), "utf8")));
    expect(translator.reconcile(messages)).toEqual([]);
  });
});

describe("EventTranslator edge cases", () => {
  it("recovers final texts and tool states from the messages API alone", () => {
    const messages = z
      .array(MessageWithParts)
      .parse(JSON.parse(readFileSync(new URL("../test/fixtures/opencode-demo-messages.json", import.meta.url), "utf8")));
    const translator = new EventTranslator(messages[0]?.info.sessionID ?? "");
    translator.beginPrompt("p1");
    const outputs = translator.reconcile(messages);
    expect(outputs.filter((o) => o.kind === "event" && o.event.type === "tool.call").length).toBe(4);
    expect(outputs.some((o) => o.kind === "text" && o.text === "demo")).toBe(false);
  });

  it("drops events while no prompt runs and late events of a finished prompt", () => {
    const translator = new EventTranslator(sessionIdOf(demo));
    expect(run(translator, demo).filter((o) => o.kind === "text" || o.kind === "event")).toEqual([]);

    // End p1 in the middle of the first answer's text stream.
    const split = demo.findIndex((raw) => {
      const parsed = parseOpencodeEvent(raw);
      return parsed.ok && parsed.event.type === "message.part.delta" && parsed.event.properties.delta === "**Offline ";
    });
    const splitEvent = parseOpencodeEvent(demo[split]);
    const partId = splitEvent.ok && splitEvent.event.type === "message.part.delta" ? splitEvent.event.properties.partID : "";
    const second = new EventTranslator(sessionIdOf(demo));
    second.beginPrompt("p1");
    run(second, demo.slice(0, split + 1));
    second.endPrompt();
    second.beginPrompt("p2");
    const late = run(second, demo.slice(split + 1));
    // The rest of p1's message (its text and its read call) is not attributed to p2 …
    expect(late.some((o) => o.kind === "text" && o.messageId === partId)).toBe(false);
    expect(late.some((o) => o.kind === "event" && o.event.type === "tool.call" && o.event.tool === "read")).toBe(false);
    // … while messages created after p2 began are.
    expect(late.some((o) => o.kind === "event" && o.event.type === "tool.call" && o.event.tool === "write")).toBe(true);
  });

  it("ignores other sessions' events", () => {
    const translator = new EventTranslator("ses_other");
    translator.beginPrompt("p1");
    expect(run(translator, demo)).toEqual([]);
  });

  it("reports an aborted run as a MessageAbortedError followed by idle", () => {
    const events = fixture("opencode-abort-events.json");
    const translator = new EventTranslator(sessionIdOf(events));
    translator.beginPrompt("p1");
    const outputs = run(translator, events).filter((o) => o.kind === "error" || o.kind === "idle");
    expect(outputs).toEqual([{ kind: "error", name: "MessageAbortedError", message: "Aborted" }, { kind: "idle" }]);
  });

  it("reports a failed model call with the provider's message", () => {
    const events = fixture("opencode-model-error-events.json");
    const translator = new EventTranslator(sessionIdOf(events));
    translator.beginPrompt("p1");
    expect(run(translator, events).find((o) => o.kind === "error")).toEqual({
      kind: "error",
      name: "APIError",
      message: "The scripted model was asked to fail this request.",
    });
  });

  it("truncates long tool output, input strings and errors", () => {
    const translator = new EventTranslator("s");
    translator.beginPrompt("p1");
    const base = { id: "prt_1", sessionID: "s", messageID: "m", type: "tool", callID: "c", tool: "bash" };
    const [out] = translator.translate({
      type: "message.part.updated",
      properties: {
        part: { ...base, state: { status: "completed", input: { command: "x".repeat(20_000) }, output: "y".repeat(50_000), title: "t" } },
      },
    });
    expect(out?.kind === "event" && out.event.type === "tool.call" && out.event.output?.length).toBeLessThanOrEqual(16_000);
    expect(out?.kind === "event" && out.event.type === "tool.call" && JSON.stringify(out.event.input).length).toBeLessThan(9_000);
  });
});

describe("truncation helpers", () => {
  it("keeps head and tail and says how much was cut", () => {
    const cut = truncateMiddle(`${"a".repeat(100)}${"b".repeat(100)}`, 80);
    expect(cut.length).toBeLessThanOrEqual(80);
    expect(cut.startsWith("a")).toBe(true);
    expect(cut.endsWith("b")).toBe(true);
    expect(cut).toContain("120 characters truncated");
    expect(truncateMiddle("short", 80)).toBe("short");
    expect(truncateStrings({ a: ["x".repeat(50)], n: 1 }, 40)).toMatchObject({ n: 1 });
  });
});
