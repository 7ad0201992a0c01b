import type { Repository } from "@lookout/protocol";
import { describe, expect, it } from "vitest";
import { completionMessage, MAX_SUMMARY_CHARS } from "../../src/integrations/slack/messages";
import { routeRepository, withoutRepoReference } from "../../src/integrations/slack/routing";

function repo(id: string, fullName: string): Repository {
  const [owner, name] = fullName.includes("/") ? fullName.split("/") : [null, fullName];
  return {
    id,
    kind: owner ? "github" : "local",
    fullName,
    name: name,
    owner: owner ?? null,
    path: owner ? null : `/srv/${fullName}`,
    defaultBranch: "main",
    description: null,
    createdAt: 1,
    updatedAt: 1,
  };
}

const APP = repo("r_app", "acme/app");
const API = repo("r_api", "acme/api");
const DOCS = repo("r_docs", "docs-site");
const ALL = [APP, API, DOCS];
const none = { threadRepositoryId: null, channelDefaultId: null };

describe("Slack repository routing", () => {
  it("takes an explicit repo: (owner/name or a registered name) over everything else", () => {
    expect(
      routeRepository({ text: "fix it repo:acme/api", repositories: ALL, threadRepositoryId: "r_app", channelDefaultId: "r_app" }),
    ).toEqual({
      kind: "chosen",
      repositoryId: "r_api",
      why: "explicit",
    });
    expect(routeRepository({ text: "repo:DOCS-site, please", repositories: ALL, ...none })).toMatchObject({ repositoryId: "r_docs" });
  });

  it("says which explicit repository it does not know instead of guessing", () => {
    expect(routeRepository({ text: "repo:acme/nope fix", repositories: ALL, threadRepositoryId: "r_app", channelDefaultId: null })).toEqual(
      {
        kind: "unknown",
        named: "acme/nope",
      },
    );
  });

  it("then the thread's choice, then the channel's default (ignoring ones no longer registered)", () => {
    expect(routeRepository({ text: "more", repositories: ALL, threadRepositoryId: "r_api", channelDefaultId: "r_app" })).toMatchObject({
      why: "thread",
    });
    expect(routeRepository({ text: "more", repositories: ALL, threadRepositoryId: "r_gone", channelDefaultId: "r_app" })).toEqual({
      kind: "chosen",
      repositoryId: "r_app",
      why: "channel-default",
    });
  });

  it("then an owner/name written in the message, then the only registered repository", () => {
    expect(routeRepository({ text: "the login in acme/app breaks", repositories: ALL, ...none })).toMatchObject({ repositoryId: "r_app" });
    expect(routeRepository({ text: "anything", repositories: [DOCS], ...none })).toEqual({
      kind: "chosen",
      repositoryId: "r_docs",
      why: "only-repository",
    });
  });

  it("asks otherwise, offering the repositories the message names when it names several", () => {
    expect(routeRepository({ text: "make it faster", repositories: ALL, ...none })).toEqual({ kind: "ask", candidates: ALL });
    expect(routeRepository({ text: "sync acme/app with acme/api", repositories: ALL, ...none })).toEqual({
      kind: "ask",
      candidates: [APP, API],
    });
  });

  it("gives the agent the request without the repo: reference", () => {
    expect(withoutRepoReference("fix the 500 repo:acme/app now")).toBe("fix the 500 now");
  });
});

describe("the completion reply", () => {
  const base = { sessionUrl: "http://lookout.test/sessions/ses_1", pullRequestUrl: null, filesChanged: [], error: null };

  it("carries the summary (trimmed), the files changed, the pull request and the session link", () => {
    const files = Array.from({ length: 12 }, (_, i) => `src/file-${i}.ts`);
    const text = completionMessage({
      ...base,
      status: "completed",
      summary: "x".repeat(MAX_SUMMARY_CHARS + 50),
      pullRequestUrl: "https://github.com/acme/app/pull/7",
      filesChanged: files,
    });
    const [summary, changed, pull, session] = text.split("\n");
    expect(summary).toHaveLength(MAX_SUMMARY_CHARS);
    expect(summary!.endsWith("…")).toBe(true);
    expect(changed).toBe(
      `Files changed: ${files
        .slice(0, 10)
        .map((f) => `\`${f}\``)
        .join(", ")} and 2 more`,
    );
    expect(pull).toBe("Pull request: https://github.com/acme/app/pull/7");
    expect(session).toBe("Session: http://lookout.test/sessions/ses_1");
  });

  it("says why it failed and how to retry", () => {
    const text = completionMessage({ ...base, status: "failed", summary: null, error: "the model refused" });
    expect(text).toContain("It failed: the model refused.");
    expect(text).toContain("Reply in this thread");
  });
});
