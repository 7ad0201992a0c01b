import { describe, expect, it } from "vitest";
import { cost, duration, firstLine, initials, relativeTime } from "./format";

describe("format", () => {
  it("shows costs with enough precision", () => {
    expect(cost(0)).toBe("$0.00");
    expect(cost(0.0042)).toBe("$0.0042");
    expect(cost(0.123)).toBe("$0.123");
    expect(cost(12.5)).toBe("$12.50");
  });
  it("makes initials", () => {
    expect(initials("Ada Lovelace")).toBe("AL");
    expect(initials("grace")).toBe("GR");
    expect(initials("john.ronald.tolkien")).toBe("JT");
    expect(initials("")).toBe("?");
  });
  it("formats durations", () => {
    expect(duration(420)).toBe("420 ms");
    expect(duration(12_300)).toBe("12 s");
    expect(duration(184_000)).toBe("3 min 4 s");
    expect(duration(3_720_000)).toBe("1 h 2 min");
  });
  it("formats relative times", () => {
    expect(relativeTime(1000, 2000)).toBe("just now");
    expect(relativeTime(0, 5 * 60_000)).toMatch(/5/);
  });
  it("keeps the first line", () => {
    expect(firstLine("one\ntwo")).toBe("one");
    expect(firstLine("abcdef", 4)).toBe("abc…");
  });
});
