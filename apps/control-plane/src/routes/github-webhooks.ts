import { LookoutError } from "@lookout/protocol";
import { Hono } from "hono";
import { z } from "zod";
import { WebhookDeliveryStore } from "../db/webhook-deliveries";
import type { AppEnv } from "../http/app-env";
import { receiveMention } from "../integrations/github/mention";
import { isMentionEvent } from "../integrations/github/mention-payload";
import { receiveReviewRequest } from "../integrations/github/review";
import { lazy } from "../lazy";
import { log } from "../log";
import { applyGithubPullRequestState, pullRequestArtifact } from "../scm/pull-requests";
import { unwrap } from "../session/rpc";
import { sessionStub } from "./session-access";

/** GitHub sends at most 25 MB; pull-request payloads are far smaller. */
const MAX_WEBHOOK_BYTES = 5 * 1024 * 1024;
const DELIVERY_ID = /^[A-Za-z0-9-]{8,100}$/;

const PullRequestPayload = z.object({
  action: z.string(),
  number: z.number().int().positive(),
  pull_request: z.object({
    state: z.enum(["open", "closed"]),
    merged: z.boolean().nullable().optional(),
    merged_at: z.string().nullable().optional(),
    draft: z.boolean().optional(),
    title: z.string(),
    head: z.object({ sha: z.string() }),
  }),
  repository: z.object({ name: z.string(), owner: z.object({ login: z.string() }) }),
});

/**
 * `POST /api/webhooks/github` (public, mounted before `requireAuth`). Every delivery is verified
 * with `X-Hub-Signature-256` over the raw bytes before anything is parsed, refused when the secret
 * is unset, and applied at most once per `X-GitHub-Delivery`. Pull-request events keep the stored
 * pull request's state (open, merged, closed) and its session's artifact current; comments and
 * reviews that mention the App start or follow up on work (`integrations/github/mention.ts`), and
 * on repositories with auto-review, opened pull requests are reviewed (`integrations/github/review.ts`).
 */
export const githubWebhookRoutes = new Hono<AppEnv>();

githubWebhookRoutes.post("/github", async (c) => {
  const secret = c.env.GITHUB_WEBHOOK_SECRET;
  if (!secret) throw new LookoutError("SERVICE_NOT_CONFIGURED", "GITHUB_WEBHOOK_SECRET is not set, so GitHub webhooks are refused.");
  const raw = await c.req.text();
  if (new TextEncoder().encode(raw).byteLength > MAX_WEBHOOK_BYTES) throw new LookoutError("PAYLOAD_TOO_LARGE");
  const signature = c.req.header("x-hub-signature-256");
  if (!signature || !(await verified(secret, raw, signature))) throw new LookoutError("WEBHOOK_SIGNATURE_INVALID");

  const deliveryId = c.req.header("x-github-delivery") ?? "";
  const event = c.req.header("x-github-event") ?? "";
  if (!DELIVERY_ID.test(deliveryId) || !/^[a-z_]{1,64}$/.test(event))
    throw new LookoutError("BAD_REQUEST", "A GitHub delivery needs X-GitHub-Delivery and X-GitHub-Event.");
  const deliveries = new WebhookDeliveryStore(c.env.DB);
  if (!(await deliveries.claim("github", deliveryId, event, Date.now()))) return c.json({ ok: true, duplicate: true });
  try {
    if (isMentionEvent(event)) {
      const received = await receiveMention(c.env, event, deliveryId, raw);
      if (received.status === "accepted") c.executionCtx.waitUntil(received.work());
      return c.json({ ok: true, mention: received.status, ...(received.status === "ignored" ? { reason: received.reason } : {}) }, 202);
    }
    if (event !== "pull_request") return c.json({ ok: true, applied: false }, 202);
    const applied = await onPullRequest(c.env, raw, (work) => c.executionCtx.waitUntil(work));
    const review = await receiveReviewRequest(c.env, deliveryId, JSON.parse(raw));
    if (review.status === "accepted") c.executionCtx.waitUntil(review.work());
    return c.json({ ok: true, applied, review: review.status }, 202);
  } catch (error) {
    // Handing the claim back lets GitHub's redelivery of this id be applied.
    await deliveries.release("github", deliveryId);
    throw error;
  }
});

/** Octokit's webhook verifier, loaded by the first delivery rather than at startup (ADR 0016). */
const octokitWebhooks = lazy("GitHub webhooks", () => import("@octokit/webhooks"));

async function verified(secret: string, raw: string, signature: string): Promise<boolean> {
  const { Webhooks } = await octokitWebhooks();
  try {
    return await new Webhooks({ secret }).verify(raw, signature);
  } catch {
    return false;
  }
}

async function onPullRequest(env: AppEnv["Bindings"], raw: string, defer: (work: Promise<unknown>) => void): Promise<boolean> {
  const parsed = PullRequestPayload.safeParse(JSON.parse(raw));
  if (!parsed.success) throw new LookoutError("VALIDATION_FAILED", "The pull_request payload is not in the shape GitHub documents.");
  const payload = parsed.data;
  const pull = payload.pull_request;
  const updated = await applyGithubPullRequestState(env, {
    owner: payload.repository.owner.login,
    name: payload.repository.name,
    number: payload.number,
    state: pull.merged || pull.merged_at ? "merged" : pull.state,
    draft: pull.draft ?? false,
    headSha: pull.head.sha,
    title: pull.title,
  });
  if (!updated) return false;
  defer(
    (async () => {
      const stub = await sessionStub(env, updated.sessionId);
      await unwrap(stub.recordArtifact(pullRequestArtifact(updated)));
    })().catch((error: unknown) => log.warn("pull request artifact update failed", { pullRequestId: updated.id, error: String(error) })),
  );
  return true;
}
