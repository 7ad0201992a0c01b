import { env } from "cloudflare:test";
import type { SessionOrigin, SessionOutcome } from "@lookout/protocol";
import { beforeAll, describe, expect, it } from "vitest";
import { enqueueOutcome, OUTBOX_DEFAULTS, OutboxDrainer } from "../src/triggers/outbox";
import { REPORT_SINKS } from "../src/triggers/sinks";
import { api, login } from "./helpers";
import {
  commentsOn,
  deliver,
  githubEnv,
  mentionPayload,
  openPull,
  recordedDelivery,
  registerRepository,
  setPermissions,
} from "./support/github-mentions";

let cookie: string;
beforeAll(async () => {
  cookie = await login();
  await registerRepository();
  await setPermissions({ writer: "write" });
});

const noJitter = { ...OUTBOX_DEFAULTS, policy: { ...OUTBOX_DEFAULTS.policy, jitter: "none" as const } };

/** Drains the outbox the way the scheduler does, with the App pointed at the fake. */
async function drain(now: number) {
  return new OutboxDrainer({ ...env, ...(await githubEnv()) }, REPORT_SINKS, noJitter).drain(now);
}

async function mentionSession(event: "issue_comment" | "pull_request_review_comment" = "issue_comment") {
  const pull = await openPull();
  const delivered = await deliver(
    event,
    mentionPayload(event, { number: pull.number, login: "writer", body: "@lookout-app tidy this up" }),
  );
  const recorded = await recordedDelivery(delivered.deliveryId);
  expect(recorded?.status).toBe("started");
  const { json } = await api(cookie)("GET", `/api/sessions/${recorded!.sessionId}`);
  return { pull, sessionId: recorded!.sessionId!, origin: json.session.origin as SessionOrigin };
}

function finished(
  sessionId: string,
  origin: SessionOrigin,
  fields: Partial<Extract<SessionOutcome, { kind: "prompt.finished" }>> = {},
): SessionOutcome {
  return {
    kind: "prompt.finished",
    sessionId,
    origin,
    promptId: `prm_${crypto.randomUUID().slice(0, 8)}`,
    status: "completed",
    error: null,
    summary: "Moved the retries onto the shared helper and added a test.",
    at: Date.now(),
    ...fields,
  };
}

describe("the GitHub report sink", () => {
  it("edits the started reply once with the summary when the prompt completes, and adds the pull request it opened", async () => {
    const { pull, sessionId, origin } = await mentionSession();
    const [reply] = await commentsOn(pull.number);
    expect(reply?.edits).toEqual([]);

    const outcome = finished(sessionId, origin);
    expect(await enqueueOutcome(env.DB, outcome, Date.now())).toBe(true);
    expect(await enqueueOutcome(env.DB, outcome, Date.now())).toBe(false);
    expect(await drain(Date.now())).toMatchObject({ delivered: 1, failed: 0 });
    expect(await drain(Date.now() + 3_600_000)).toEqual({ delivered: 0, retried: 0, failed: 0 });

    let [edited] = await commentsOn(pull.number);
    expect(edited?.edits).toHaveLength(1);
    expect(edited?.body).toContain(`✅ Lookout finished: [open the session](`);
    expect(edited?.body).toContain(`/sessions/${sessionId}`);
    expect(edited?.body).toContain("Moved the retries onto the shared helper and added a test.");

    const opened: SessionOutcome = {
      kind: "pull-request",
      sessionId,
      origin,
      url: "https://github.com/acme/widgets/pull/999",
      title: "Use the shared retry helper",
      state: "open",
      at: Date.now(),
    };
    expect(await enqueueOutcome(env.DB, opened, Date.now())).toBe(true);
    expect(await drain(Date.now())).toMatchObject({ delivered: 1 });
    [edited] = await commentsOn(pull.number);
    expect(edited?.edits).toHaveLength(2);
    expect(edited?.body).toContain("Changes: https://github.com/acme/widgets/pull/999");
    expect(edited?.body).toContain("Moved the retries onto the shared helper");
    expect(await commentsOn(pull.number)).toHaveLength(1);
  });

  it("keeps a pull request opened while the prompt runs for the prompt's one edit, which carries both", async () => {
    const { pull, sessionId, origin } = await mentionSession();
    const opened: SessionOutcome = {
      kind: "pull-request",
      sessionId,
      origin,
      url: "https://github.com/acme/widgets/pull/1001",
      title: "Tidy this up",
      state: "open",
      at: Date.now(),
    };
    expect(await enqueueOutcome(env.DB, opened, Date.now())).toBe(true);
    expect(await drain(Date.now())).toMatchObject({ delivered: 1 });
    expect((await commentsOn(pull.number))[0]?.edits).toEqual([]);

    await enqueueOutcome(env.DB, finished(sessionId, origin), Date.now());
    expect(await drain(Date.now())).toMatchObject({ delivered: 1 });
    const [reply] = await commentsOn(pull.number);
    expect(reply?.edits).toHaveLength(1);
    expect(reply?.body).toContain("✅ Lookout finished");
    expect(reply?.body).toContain("Changes: https://github.com/acme/widgets/pull/1001");
    expect(reply?.body).toContain("Moved the retries onto the shared helper and added a test.");
  });

  it("edits the reply in the review thread, and says when the session failed", async () => {
    const { pull, sessionId, origin } = await mentionSession("pull_request_review_comment");
    await enqueueOutcome(
      env.DB,
      finished(sessionId, origin, { status: "failed", error: "The sandbox ran out of time.", summary: null }),
      Date.now(),
    );
    expect(await drain(Date.now())).toMatchObject({ delivered: 1 });
    const [reply] = await commentsOn(pull.number);
    expect(reply).toMatchObject({ kind: "review-comment" });
    expect(reply?.edits).toHaveLength(1);
    expect(reply?.body).toContain("❌ The Lookout session failed");
    expect(reply?.body).toContain("The sandbox ran out of time.");
  });

  it("retries, posting nothing, while the session has no reply recorded", async () => {
    const origin: SessionOrigin = { kind: "github", repository: "acme/widgets", pullRequest: 4242, commentId: 1, commentKind: "issue" };
    await enqueueOutcome(env.DB, finished("ses_noreply0000000000000000", origin), Date.now());
    expect(await drain(Date.now())).toMatchObject({ delivered: 0, retried: 1 });
    expect(await commentsOn(4242)).toEqual([]);
  });
});
