import { CreatePullRequestRequest, Id, LookoutError, MergePullRequestRequest, PushDecisionRequest } from "@lookout/protocol";
import { type Context, Hono } from "hono";
import { PullRequestStore } from "../db/pull-requests";
import type { AppEnv } from "../http/app-env";
import { readJson } from "../http/validate";
import { mergeLocalPullRequest, openPullRequest } from "../scm/pull-requests";
import { actingRole, authorize } from "../session/roles";
import { unwrap } from "../session/rpc";
import { actingAuthor, sessionStub } from "./session-access";
import { sessionScmPort } from "./session-scm-port";

/** A session's pull request and held-back pushes, for people (mounted after `requireAuth`). */
export const pullRequestRoutes = new Hono<AppEnv>();

pullRequestRoutes.get("/:id/pull-request", async (c) => {
  await sessionStub(c.env, c.req.param("id"));
  const pullRequest = await new PullRequestStore(c.env.DB).forSession(c.req.param("id"));
  if (!pullRequest) throw new LookoutError("PULL_REQUEST_NOT_FOUND");
  return c.json({ pullRequest });
});

pullRequestRoutes.post("/:id/pull-request", async (c) => {
  const input = await readJson(c, CreatePullRequestRequest);
  const stub = await participantStub(c);
  const result = await openPullRequest(c.env, sessionScmPort(stub), actingAuthor(c.get("principal")), input);
  return c.json(result, result.created ? 201 : 200);
});

pullRequestRoutes.post("/:id/pull-request/merge", async (c) => {
  const input = await readJson(c, MergePullRequestRequest);
  const stub = await participantStub(c);
  const pullRequest = await mergeLocalPullRequest(c.env, sessionScmPort(stub), actingAuthor(c.get("principal")), input.message);
  return c.json({ pullRequest });
});

pullRequestRoutes.post("/:id/push-approvals/:approvalId", async (c) => {
  const input = await readJson(c, PushDecisionRequest);
  const approvalId = c.req.param("approvalId");
  if (!Id.safeParse(approvalId).success) throw new LookoutError("PUSH_APPROVAL_NOT_FOUND");
  const stub = await sessionStub(c.env, c.req.param("id"));
  await unwrap(stub.decidePush(actingAuthor(c.get("principal")), approvalId, input.decision));
  return c.json({ ok: true });
});

/** The session, when the caller may change it: viewers read, they do not open or merge. */
async function participantStub(c: Context<AppEnv>) {
  const stub = await sessionStub(c.env, c.req.param("id") ?? "");
  authorize(actingRole(await unwrap(stub.roleOf(actingAuthor(c.get("principal")).userId))), "pull-request.write");
  return stub;
}
