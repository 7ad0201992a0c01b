import { describe, expect, it } from "vitest";
import { safeUrl } from "./safe-url";

describe("safeUrl", () => {
  it("allows http(s) and same-origin paths only", () => {
    expect(safeUrl("https://github.com/a/b/pull/1")).toBe("https://github.com/a/b/pull/1");
    expect(safeUrl("/api/sessions/s/artifacts/a")).toBe("/api/sessions/s/artifacts/a");
    expect(safeUrl("javascript:alert(1)")).toBeNull();
    expect(safeUrl("data:text/html,hi")).toBeNull();
    expect(safeUrl("//evil.example/x")).toBeNull();
    expect(safeUrl(undefined)).toBeNull();
  });
});
