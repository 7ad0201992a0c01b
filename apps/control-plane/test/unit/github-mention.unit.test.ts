import { LookoutError } from "@lookout/protocol";
import { describe, expect, it } from "vitest";
import { mentions, parseMentionEvent } from "../../src/integrations/github/mention-payload";
import { mentionPrompt } from "../../src/integrations/github/mention-prompt";
import { settledReply } from "../../src/integrations/github/reply";
import { parseReview } from "../../src/integrations/github/review-report";

describe("the mention rule", () => {
  it.each([
    ["@lookout-app please fix it", true],
    ["Please, @Lookout-App, fix it.", true],
    ["cc @lookout-app[bot]", true],
    ["(@lookout-app)", true],
    ["@lookout-application fix it", false],
    ["mail me at ops@lookout-app", false],
    ["see acme/@lookout-app", false],
    ["> @lookout-app fix it\n\nthat was a quote", false],
    ["```\n@lookout-app inside code\n```", false],
    ["`@lookout-app` is the handle", false],
    ["no mention at all", false],
  ])("%j → %s", (body, expected) => {
    expect(mentions(body, "lookout-app")).toBe(expected);
  });
});

describe("parsing a mention delivery", () => {
  const base = {
    repository: { name: "widgets", full_name: "acme/widgets", owner: { login: "acme" } },
  };
  const user = { login: "ada", id: 1, type: "User" };

  it("refuses JSON that is not GitHub's shape with VALIDATION_FAILED", () => {
    expect(() => parseMentionEvent("issue_comment", "{")).toThrow(LookoutError);
    expect(() => parseMentionEvent("pull_request_review_comment", JSON.stringify({ action: "created" }))).toThrow(/shape GitHub documents/);
  });

  it("marks bots by their type or a [bot] login", () => {
    const payload = (login: string, type: string) =>
      JSON.stringify({
        ...base,
        action: "created",
        issue: { number: 3, pull_request: {} },
        comment: { id: 9, body: "@x", html_url: "u", user: { login, id: 2, type } },
      });
    const bot = parseMentionEvent("issue_comment", payload("helper[bot]", "User"));
    const typed = parseMentionEvent("issue_comment", payload("renovate", "Bot"));
    expect(bot.kind === "mention" && bot.mention.author.bot).toBe(true);
    expect(typed.kind === "mention" && typed.mention.author.bot).toBe(true);
  });

  it("keeps a review comment's place in the diff, and the prompt fences it with the comment", () => {
    const parsed = parseMentionEvent(
      "pull_request_review_comment",
      JSON.stringify({
        ...base,
        action: "created",
        pull_request: { number: 5 },
        comment: {
          id: 77,
          body: "@lookout-app use the helper ``` here",
          html_url: "u",
          user,
          path: "src/retry.ts",
          diff_hunk: "@@ -1,3 +1,4 @@\n+retry()",
          start_line: 10,
          line: 12,
          side: "RIGHT",
        },
      }),
    );
    if (parsed.kind !== "mention") throw new Error("not a mention");
    const prompt = mentionPrompt(
      parsed.mention,
      {
        number: 5,
        title: "Retry better",
        headRef: "retry",
        headSha: "d".repeat(40),
        headRepository: "acme/widgets",
        baseRef: "main",
        fork: false,
      },
      { enabled: true, allowlist: [], pushPolicy: "direct-push", autoReview: false },
      false,
    );
    expect(prompt.baseBranch).toBe("retry");
    expect(prompt.branch).toBeUndefined();
    expect(prompt.instructions).not.toContain("use the helper");
    expect(prompt.untrusted.map((block) => block.content)).toEqual([
      "Retry better",
      "@lookout-app use the helper ``` here",
      "File: src/retry.ts\nOn: lines 10–12 (RIGHT side)\nDiff hunk:\n@@ -1,3 +1,4 @@\n+retry()",
    ]);
  });
});

describe("the settled reply", () => {
  it("renders the same text from the same stored state, with the pull request and the summary", () => {
    const reply = {
      sessionId: "ses_1",
      repository: "acme/widgets",
      pullRequest: 5,
      commentKind: "issue" as const,
      commentId: 1,
      status: "completed",
      summary: "Done.",
      pullRequestUrl: "https://github.com/acme/widgets/pull/6",
      fork: false,
    };
    const text = settledReply(reply, "https://lookout.example/sessions/ses_1");
    expect(text).toBe(settledReply({ ...reply }, "https://lookout.example/sessions/ses_1"));
    expect(text).toBe(
      "✅ Lookout finished: [open the session](https://lookout.example/sessions/ses_1).\n\nChanges: https://github.com/acme/widgets/pull/6\n\nDone.",
    );
  });
});

describe("an auto-review's answer", () => {
  it("splits the prose from the review-comments block and keeps only well-formed line comments", () => {
    const answer = 'Looks good.\n\n```review-comments\n[{"path":"a.ts","line":3,"body":"nit"},{"path":"b.ts","body":"no line"}]\n```\n';
    expect(parseReview(answer)).toEqual({ body: "Looks good.", comments: [{ path: "a.ts", line: 3, body: "nit" }] });
  });

  it("keeps the whole answer as the body when the block is not JSON, or absent", () => {
    expect(parseReview("Fine.\n```review-comments\nnot json\n```")).toEqual({
      body: "Fine.\n```review-comments\nnot json\n```",
      comments: [],
    });
    expect(parseReview("Fine.")).toEqual({ body: "Fine.", comments: [] });
  });
});
