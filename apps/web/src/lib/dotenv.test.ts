import { describe, expect, it } from "vitest";
import { parseDotenv } from "./dotenv";

describe("parseDotenv", () => {
  it("reads names and values with quotes, exports and comments", () => {
    const result = parseDotenv(`# comment
API_KEY=abc123
export TOKEN="with space"
SINGLE='it''s'
MULTI="a\\nb"
PLAIN=value # trailing comment

not a line
API_KEY=override`);
    expect(result.entries).toEqual([
      { name: "API_KEY", value: "override" },
      { name: "TOKEN", value: "with space" },
      { name: "SINGLE", value: "it''s" },
      { name: "MULTI", value: "a\nb" },
      { name: "PLAIN", value: "value" },
    ]);
    expect(result.invalidLines).toEqual([8]);
  });
});
