import { describe, expect, it } from "vitest";
import { checkBranchName, isValidBranchName } from "./branch";

describe("checkBranchName", () => {
  it.each(["main", "lookout/sess_1", "feature/a.b-c_d", "release/2026.11"])("accepts %s", (name) => {
    expect(isValidBranchName(name)).toBe(true);
  });

  it.each([
    ["", "is empty"],
    ["-rf", "starts with '-'"],
    ["a b", "may contain only"],
    ["a;rm -rf /", "may contain only"],
    ["$(whoami)", "may contain only"],
    ["a..b", "contains '..'"],
    ["a/", "empty path component"],
    ["/a", "empty path component"],
    ["a//b", "empty path component"],
    ["a/.hidden", "starting with '.'"],
    ["a.lock", "ending with '.lock'"],
    ["a.", "ends with '.'"],
    ["HEAD", "reserved"],
    ["x".repeat(201), "longer than"],
  ])("rejects %j", (name, reason) => {
    const check = checkBranchName(name);
    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.reason).toContain(reason);
  });
});
