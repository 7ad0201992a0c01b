import { CreatePullRequestRequest, GitCredentialRequest, isForkOrigin, isReadOnlyOrigin, LookoutError } from "@lookout/protocol";
import { type Context, Hono } from "hono";
import { RepositoryStore } from "../db/repositories";
import type { AppEnv } from "../http/app-env";
import { readJson } from "../http/validate";
import { providerFor } from "../scm/providers";
import { openPullRequest } from "../scm/pull-requests";
import type { SessionAgent } from "../session/session-agent";
import { unwrap } from "../session/rpc";
import { sessionStub } from "./session-access";
import { sessionScmPort } from "./session-scm-port";

/**
 * What a sandbox may ask of the control plane with its own bearer token (mounted before
 * `requireAuth`): short-lived git credentials for its session's repository, and the agent's
 * pull request. The token is checked by the session's object, which stores only its hash.
 */
export const sandboxScmRoutes = new Hono<AppEnv>();

sandboxScmRoutes.post("/:id/git-credentials", async (c) => {
  const stub = await authorizeSandbox(c);
  const input = await readJson(c, GitCredentialRequest);
  const context = await unwrap(stub.scmContext());
  const repository = await new RepositoryStore(c.env.DB).getOrThrow(context.session.repository.id);
  const credential = await providerFor(c.env, repository).gitCredential({
    repository,
    session: context.session,
    request: input,
    approvedWorkflowSha: context.approvedWorkflowSha,
    now: Date.now(),
  });
  c.header("Cache-Control", "no-store");
  return c.json(credential);
});

/** The agent's `create-pull-request` tool; without a sandbox token this falls through to the user route. */
sandboxScmRoutes.post("/:id/pull-request", async (c, next) => {
  if (!c.req.header("x-lookout-sandbox-id")) return next();
  const stub = await authorizeSandbox(c);
  const input = await readJson(c, CreatePullRequestRequest);
  const context = await unwrap(stub.scmContext());
  if (isForkOrigin(context.session.origin))
    throw new LookoutError(
      "FORBIDDEN",
      "This session works on a pull request from a fork: it answers with a suggested patch, not a pull request.",
    );
  if (isReadOnlyOrigin(context.session.origin))
    throw new LookoutError("FORBIDDEN", "This session reviews a pull request: it answers with a review, not a pull request.");
  // The pull request is for whoever asked for the work the agent is doing.
  const requester = context.currentAuthor ?? context.session.owner;
  const result = await openPullRequest(c.env, sessionScmPort(stub), requester, input);
  return c.json(result, result.created ? 201 : 200);
});

async function authorizeSandbox(c: Context<AppEnv>): Promise<DurableObjectStub<SessionAgent>> {
  const authorization = c.req.header("authorization") ?? "";
  const token = authorization.startsWith("Bearer ") ? authorization.slice("Bearer ".length) : "";
  const sandboxId = c.req.header("x-lookout-sandbox-id") ?? "";
  if (!token || !sandboxId)
    throw new LookoutError("UNAUTHENTICATED", "Send the sandbox token as a bearer token and the sandbox id in X-Lookout-Sandbox-Id.");
  const stub = await sessionStub(c.env, c.req.param("id") ?? "");
  const verdict = await stub.authorizeBridge(sandboxId, token);
  if (verdict === "unauthorized") throw new LookoutError("INVALID_TOKEN", "The sandbox token is not valid for this session.");
  if (verdict === "gone") throw new LookoutError("FORBIDDEN", "This sandbox has been retired; it gets no credentials.");
  return stub;
}
