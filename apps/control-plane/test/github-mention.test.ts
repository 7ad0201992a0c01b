import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { api, login, sandboxRequestFor } from "./helpers";
import {
  commentsOn,
  deliver,
  githubEnv,
  githubState,
  mentionPayload,
  openPull,
  recordedDelivery,
  registerRepository,
  setPermissions,
} from "./support/github-mentions";

let cookie: string;
let repositoryId: string;
beforeAll(async () => {
  cookie = await login();
  repositoryId = await registerRepository();
  await setPermissions({ writer: "write", maintainer: "maintain", admin1: "admin", reader: "read", triager: "triage", helper: "read" });
});

async function sessionEvents(sessionId: string): Promise<{ type: string; text?: string; baseBranch?: string }[]> {
  const { json } = await api(cookie)("GET", `/api/sessions/${sessionId}/events?after=0`);
  return (json.events as { payload: { type: string; text?: string; baseBranch?: string } }[]).map((event) => event.payload);
}

async function session(sessionId: string) {
  const { status, json } = await api(cookie)("GET", `/api/sessions/${sessionId}`);
  expect(status).toBe(200);
  return json.session as { origin?: Record<string, unknown>; owner: { name: string } };
}

async function sessionCount(): Promise<number> {
  return (await env.DB.prepare("SELECT COUNT(*) AS n FROM sessions").first<{ n: number }>())!.n;
}

describe("a pull request comment that mentions the App", () => {
  it("by someone with write access gets 👀, a session on the pull request's head with the comment fenced, and a reply linking it", async () => {
    const pull = await openPull();
    const payload = mentionPayload("issue_comment", {
      number: pull.number,
      login: "writer",
      body: "@lookout-app please handle the review comments",
    });
    const delivered = await deliver("issue_comment", payload);
    expect(delivered.status, JSON.stringify(delivered.json)).toBe(202);
    expect(delivered.json.mention).toBe("accepted");

    const recorded = await recordedDelivery(delivered.deliveryId);
    expect(recorded).toMatchObject({ status: "started" });
    const sessionId = recorded!.sessionId!;
    const state = await githubState();
    expect(state.reactions).toContainEqual({ kind: "issue", commentId: payload.comment.id, content: "eyes", auth: "installation" });

    const events = await sessionEvents(sessionId);
    expect(events.find((event) => event.type === "session.created")?.baseBranch).toBe(pull.head);
    const prompt = events.find((event) => event.type === "prompt.queued")?.text ?? "";
    expect(prompt).toMatch(/@writer asked Lookout, in a comment on pull request acme\/widgets#\d+/);
    expect(prompt).toContain("```untrusted\n@lookout-app please handle the review comments\n```");
    expect(prompt).toContain(`based on \`${pull.head}\``);
    expect(await session(sessionId)).toMatchObject({
      origin: {
        kind: "github",
        repository: "acme/widgets",
        pullRequest: pull.number,
        commentId: payload.comment.id,
        commentKind: "issue",
        fork: false,
        url: `https://github.com/acme/widgets/pull/${pull.number}`,
      },
      owner: { name: "writer" },
    });

    const replies = await commentsOn(pull.number);
    expect(replies).toHaveLength(1);
    expect(replies[0]).toMatchObject({ kind: "issue", inReplyTo: null });
    expect(replies[0]!.body).toContain(`/sessions/${sessionId}`);
  });

  it("records the pull request's page on the GitHub Enterprise Server GITHUB_WEB_URL names", async () => {
    const pull = await openPull();
    const delivered = await deliver(
      "pull_request_review_comment",
      mentionPayload("pull_request_review_comment", { number: pull.number, login: "writer", body: "@lookout-app rename this" }),
      { envOverride: { GITHUB_WEB_URL: "https://ghe.example.com/" } },
    );
    const recorded = await recordedDelivery(delivered.deliveryId);
    expect(recorded).toMatchObject({ status: "started" });
    expect((await session(recorded!.sessionId!)).origin).toMatchObject({
      kind: "github",
      pullRequest: pull.number,
      url: `https://ghe.example.com/acme/widgets/pull/${pull.number}`,
    });
  });

  it("lets maintainers, admins and the allowlist trigger, and refuses read and triage once per pull request", async () => {
    for (const login of ["maintainer", "admin1"]) {
      const pull = await openPull();
      const delivered = await deliver(
        "issue_comment",
        mentionPayload("issue_comment", { number: pull.number, login, body: "@lookout-app fix it" }),
      );
      expect((await recordedDelivery(delivered.deliveryId))?.status, login).toBe("started");
    }

    const pull = await openPull();
    const before = await sessionCount();
    for (const login of ["reader", "triager", "reader"]) {
      const delivered = await deliver(
        "issue_comment",
        mentionPayload("issue_comment", { number: pull.number, login, body: "@lookout-app fix it" }),
      );
      const recorded = await recordedDelivery(delivered.deliveryId);
      expect(recorded?.status).toBe("skipped");
      expect(recorded?.reason).toContain(`@${login} has no write access to acme/widgets`);
    }
    expect(await sessionCount()).toBe(before);
    const refusals = await commentsOn(pull.number);
    expect(refusals).toHaveLength(1);
    expect(refusals[0]!.body).toMatch(/^Thanks for the mention, @reader! @lookout-app only takes work from people with write access/);
    expect((await githubState()).reactions.some((reaction) => refusals.some((comment) => comment.id === reaction.commentId))).toBe(false);

    const allowed = await api(cookie)("PUT", `/api/github-triggers/${repositoryId}`, {
      enabled: true,
      allowlist: ["Helper"],
      pushPolicy: "child-pull-request",
      autoReview: false,
    });
    expect(allowed.status).toBe(200);
    const other = await openPull();
    const delivered = await deliver(
      "issue_comment",
      mentionPayload("issue_comment", { number: other.number, login: "helper", body: "@lookout-app fix it" }),
    );
    expect((await recordedDelivery(delivered.deliveryId))?.status).toBe("started");
  });

  it("by a bot, Lookout itself included, is ignored before anything is recorded", async () => {
    const pull = await openPull();
    const before = await sessionCount();
    for (const [login, userType] of [
      ["lookout-app[bot]", "Bot"],
      ["dependabot[bot]", "Bot"],
      ["renovate", "Bot"],
    ] as const) {
      const delivered = await deliver(
        "issue_comment",
        mentionPayload("issue_comment", { number: pull.number, login, userType, body: "@lookout-app please fix the build" }),
      );
      expect(delivered.status).toBe(202);
      expect(delivered.json).toMatchObject({ mention: "ignored", reason: `${login} is a bot` });
      expect(await recordedDelivery(delivered.deliveryId)).toBeNull();
    }
    expect(await sessionCount()).toBe(before);
    expect(await commentsOn(pull.number)).toEqual([]);
  });

  it("on a pull request from a fork starts from its head (pull/<n>/head) with no push, and asks for a suggested patch", async () => {
    const pull = await openPull({ fork: true });
    const delivered = await deliver(
      "issue_comment",
      mentionPayload("issue_comment", { number: pull.number, login: "writer", body: "@lookout-app rename it" }),
    );
    const recorded = await recordedDelivery(delivered.deliveryId);
    expect(recorded?.status).toBe("started");
    const events = await sessionEvents(recorded!.sessionId!);
    expect(events.find((event) => event.type === "session.created")?.baseBranch).toBe(`pull/${pull.number}/head`);
    const prompt = events.find((event) => event.type === "prompt.queued")?.text ?? "";
    expect(prompt).toContain("comes from a fork, so you cannot push anything and have no repository secrets");
    expect(prompt).toContain(`fetched from \`pull/${pull.number}/head\``);
    expect(prompt).not.toContain("open a pull request");
    expect((await session(recorded!.sessionId!)).origin).toMatchObject({ fork: true });
    expect((await commentsOn(pull.number))[0]!.body).toContain("suggested patch instead of pushing");
  });

  it("joins the active session when the same pull request mentions the App again", async () => {
    const pull = await openPull();
    const first = await deliver(
      "issue_comment",
      mentionPayload("issue_comment", { number: pull.number, login: "writer", body: "@lookout-app start" }),
    );
    const followUp = mentionPayload("issue_comment", { number: pull.number, login: "writer", body: "@lookout-app also update the docs" });
    const second = await deliver("issue_comment", followUp);
    const started = await recordedDelivery(first.deliveryId);
    const followed = await recordedDelivery(second.deliveryId);
    expect(followed).toMatchObject({ status: "followed_up", sessionId: started!.sessionId });
    const prompts = (await sessionEvents(started!.sessionId!)).filter((event) => event.type === "prompt.queued");
    expect(prompts).toHaveLength(2);
    expect(prompts[1]!.text).toContain("@lookout-app also update the docs");
    expect((await githubState()).reactions).toContainEqual(expect.objectContaining({ commentId: followUp.comment.id, content: "eyes" }));
    expect(await commentsOn(pull.number)).toHaveLength(1);
  });
});

describe("the push policy", () => {
  it("pushes to the pull request's own branch when the repository allows it and the requester has write access, never for the allowlist alone", async () => {
    const put = (pushPolicy: string) =>
      api(cookie)("PUT", `/api/github-triggers/${repositoryId}`, { enabled: true, allowlist: ["helper"], pushPolicy, autoReview: false });
    expect((await put("direct-push")).status).toBe(200);
    try {
      const pull = await openPull();
      const direct = await deliver(
        "issue_comment",
        mentionPayload("issue_comment", { number: pull.number, login: "writer", body: "@lookout-app fix it" }),
      );
      const directSession = (await recordedDelivery(direct.deliveryId))!.sessionId!;
      expect((await sandboxRequestFor(directSession)).branch).toBe(pull.head);
      const prompt = (await sessionEvents(directSession)).find((event) => event.type === "prompt.queued")?.text ?? "";
      expect(prompt).toContain(`You work on the pull request's own branch \`${pull.head}\``);
      expect(prompt).toContain("Do not open another pull request.");

      const other = await openPull();
      const allowlisted = await deliver(
        "issue_comment",
        mentionPayload("issue_comment", { number: other.number, login: "helper", body: "@lookout-app fix it" }),
      );
      const childSession = (await recordedDelivery(allowlisted.deliveryId))!.sessionId!;
      const child = await sandboxRequestFor(childSession);
      expect(child.branch).toBe(`lookout/${childSession}`);
      expect(child.baseBranch).toBe(other.head);
    } finally {
      expect((await put("child-pull-request")).status).toBe(200);
    }
  });
});

describe("a review comment on a line that mentions the App", () => {
  it("brings its file, lines and diff hunk into the fenced prompt and replies in its thread", async () => {
    const pull = await openPull();
    const payload = mentionPayload("pull_request_review_comment", {
      number: pull.number,
      login: "writer",
      body: "@lookout-app this should use the shared retry helper",
    });
    const delivered = await deliver("pull_request_review_comment", payload);
    const recorded = await recordedDelivery(delivered.deliveryId);
    expect(recorded?.status).toBe("started");
    const prompt = (await sessionEvents(recorded!.sessionId!)).find((event) => event.type === "prompt.queued")?.text ?? "";
    expect(prompt).toContain("in a review comment on pull request");
    expect(prompt).toContain("```untrusted\n@lookout-app this should use the shared retry helper\n```");
    expect(prompt).toContain(`File: ${payload.comment.path}`);
    expect(prompt).toContain(payload.comment.diff_hunk);
    const reaction = (await githubState()).reactions.find((entry) => entry.commentId === payload.comment.id);
    expect(reaction).toMatchObject({ kind: "review-comment", content: "eyes" });
    const replies = await commentsOn(pull.number);
    expect(replies).toHaveLength(1);
    expect(replies[0]).toMatchObject({ kind: "review-comment", inReplyTo: payload.comment.id });
  });

  it("a submitted review's body with a mention starts work and is answered on the conversation", async () => {
    const pull = await openPull();
    const payload = mentionPayload("pull_request_review", {
      number: pull.number,
      login: "writer",
      body: "Looks close. @lookout-app add tests",
    });
    const delivered = await deliver("pull_request_review", payload);
    expect((await recordedDelivery(delivered.deliveryId))?.status).toBe("started");
    expect((await commentsOn(pull.number))[0]).toMatchObject({ kind: "issue" });
  });
});

describe("deliveries that start nothing", () => {
  it("refuses a bad or missing signature, acknowledges a replay once, rejects a malformed body, and ignores comments without a mention", async () => {
    const pull = await openPull();
    const before = await sessionCount();
    const payload = mentionPayload("issue_comment", { number: pull.number, login: "writer", body: "@lookout-app go" });
    const forged = await deliver("issue_comment", payload, { signature: "sha256=" + "0".repeat(64) });
    expect(forged.status).toBe(401);
    const unsigned = await deliver("issue_comment", payload, { signature: null });
    expect(unsigned.status).toBe(401);
    const unconfigured = await deliver("issue_comment", payload, { envOverride: { GITHUB_WEBHOOK_SECRET: undefined } });
    expect(unconfigured.status).toBe(503);
    for (const refused of [forged, unsigned, unconfigured]) expect(await recordedDelivery(refused.deliveryId)).toBeNull();

    const malformed = await deliver("issue_comment", "{not json");
    expect(malformed.status).toBe(422);
    const misshapen = await deliver("issue_comment", { action: "created", comment: { body: "@lookout-app go" } });
    expect(misshapen.status).toBe(422);

    const unmentioned = [
      mentionPayload("issue_comment", { number: pull.number, login: "writer", body: "please handle the review comments" }),
      mentionPayload("issue_comment", { number: pull.number, login: "writer", body: "ask @lookout-application or mail x@lookout-app" }),
      mentionPayload("issue_comment", { number: pull.number, login: "writer", body: "> @lookout-app go\n\nquoting only" }),
      mentionPayload("issue_comment", { number: pull.number, login: "writer", body: "@lookout-app go", action: "edited" }),
    ];
    const onIssue = mentionPayload("issue_comment", { number: pull.number, login: "writer", body: "@lookout-app go" });
    delete onIssue.issue.pull_request;
    for (const body of [...unmentioned, onIssue]) {
      const ignored = await deliver("issue_comment", body);
      expect(ignored.status).toBe(202);
      expect(ignored.json.mention).toBe("ignored");
      expect(await recordedDelivery(ignored.deliveryId)).toBeNull();
    }

    const genuine = await deliver("issue_comment", payload);
    const replay = await deliver("issue_comment", payload, { deliveryId: genuine.deliveryId });
    expect(replay.json).toMatchObject({ duplicate: true });
    expect(await sessionCount()).toBe(before + 1);
    expect(await commentsOn(pull.number)).toHaveLength(1);
  });

  it("records a mention on an unregistered repository or with mentions turned off as skipped, without a session", async () => {
    const pull = await openPull();
    await api(cookie)("PUT", `/api/github-triggers/${repositoryId}`, {
      enabled: false,
      allowlist: [],
      pushPolicy: "child-pull-request",
      autoReview: false,
    });
    try {
      const delivered = await deliver(
        "issue_comment",
        mentionPayload("issue_comment", { number: pull.number, login: "writer", body: "@lookout-app go" }),
      );
      expect(await recordedDelivery(delivered.deliveryId)).toMatchObject({
        status: "skipped",
        reason: "GitHub mentions are turned off for acme/widgets",
        sessionId: null,
      });
    } finally {
      await api(cookie)("PUT", `/api/github-triggers/${repositoryId}`, {
        enabled: true,
        allowlist: ["helper"],
        pushPolicy: "child-pull-request",
        autoReview: false,
      });
    }
  });

  it("answers SCM_NOT_CONFIGURED, naming what to set, when the App is not configured", async () => {
    const pull = await openPull();
    const delivered = await deliver(
      "issue_comment",
      mentionPayload("issue_comment", { number: pull.number, login: "writer", body: "@lookout-app go" }),
      {
        envOverride: { GITHUB_APP_ID: undefined },
      },
    );
    expect(delivered.status).toBe(503);
    expect(delivered.json.error.message).toContain("GITHUB_APP_ID");
    expect(await recordedDelivery(delivered.deliveryId)).toBeNull();
    expect(Object.keys(await githubEnv())).toContain("GITHUB_APP_ID");
  });
});
