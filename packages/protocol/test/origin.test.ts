import { describe, expect, it } from "vitest";
import { SessionOrigin } from "../src/index";

const pullRequest = { kind: "github", repository: "acme/web", pullRequest: 42, commentId: 7, commentKind: "issue" } as const;

describe("a GitHub pull request's session origin", () => {
  it("keeps the pull request's page on github.com or an Enterprise Server, and reads one stored without it", () => {
    for (const url of [
      "https://github.com/acme/web/pull/42",
      "https://ghe.example.com/acme/web/pull/42",
      "http://127.0.0.1:8080/acme/web/pull/42",
    ]) {
      expect(SessionOrigin.parse({ ...pullRequest, url })).toEqual({ ...pullRequest, url });
    }
    expect(SessionOrigin.parse(pullRequest)).toEqual(pullRequest);
  });

  it("refuses a page address that is not http(s)", () => {
    for (const url of [
      "javascript:alert(1)",
      "data:text/html,<script>alert(1)</script>",
      "/acme/web/pull/42",
      "ghe.example.com/acme/web/pull/42",
    ]) {
      expect(SessionOrigin.safeParse({ ...pullRequest, url }).success, url).toBe(false);
    }
  });
});
