import { describe, expect, it } from "vitest";
import { FakeClock } from "../test/support/fake-clock";
import { TextCoalescer, type TextUpdate } from "./text-coalescer";

function setup() {
  const clock = new FakeClock();
  const sent: Array<{ at: number; text: string; messageId: string }> = [];
  const coalescer = new TextCoalescer((u) => sent.push({ at: clock.now(), text: u.text, messageId: u.messageId }), clock, 100);
  const update = (messageId: string, text: string, final = false): void => {
    const u: TextUpdate = { promptId: "p", messageId, role: "assistant", text };
    coalescer.update(u, final);
  };
  return { clock, sent, coalescer, update };
}

describe("TextCoalescer", () => {
  it("sends the first update at once and then at most once per interval, latest text winning", () => {
    const { clock, sent, update } = setup();
    update("m", "a");
    clock.advance(10);
    update("m", "ab");
    clock.advance(10);
    update("m", "abc");
    expect(sent.map((s) => s.text)).toEqual(["a"]);
    clock.advance(80);
    expect(sent).toEqual([
      { at: 0, text: "a", messageId: "m" },
      { at: 100, text: "abc", messageId: "m" },
    ]);
  });

  it("flushes a final update immediately", () => {
    const { clock, sent, update } = setup();
    update("m", "a");
    clock.advance(10);
    update("m", "ab", true);
    expect(sent.map((s) => s.text)).toEqual(["a", "ab"]);
    clock.advance(1_000);
    expect(sent).toHaveLength(2);
  });

  it("keeps messages independent and flushes all on demand", () => {
    const { clock, sent, update, coalescer } = setup();
    update("m1", "x");
    update("m2", "y");
    update("m1", "xx");
    update("m2", "yy");
    clock.advance(1);
    coalescer.flushAll();
    expect(sent.map((s) => `${s.messageId}:${s.text}`)).toEqual(["m1:x", "m2:y", "m1:xx", "m2:yy"]);
    coalescer.flushAll();
    expect(sent).toHaveLength(4);
  });

  it("does not resend unchanged text", () => {
    const { clock, sent, update } = setup();
    update("m", "same");
    clock.advance(200);
    update("m", "same", true);
    expect(sent).toHaveLength(1);
  });
});
