import { LookoutError } from "@lookout/protocol";
import { Hono } from "hono";
import { requireAuth } from "../auth/middleware";
import { closeIfSignedOutMeanwhile, issueWsToken, redeemWsToken, socketSignIn } from "../auth/ws-token";
import type { AppEnv } from "../http/app-env";
import { UPGRADE_HEADERS } from "../session/session-agent";
import { unwrap } from "../session/rpc";
import { actingAuthor, sessionStub } from "./session-access";

/**
 * Session sockets: `POST /api/sessions/:id/ws-token` issues the single-use token a client opens
 * `/api/sessions/:id/ws` with; `/api/sessions/:id/bridge` is the sandbox's bridge, with its
 * per-sandbox bearer token. Issuing and redeeming live together here because a token is tied to
 * the sign-in that asked for it, so that signing out reaches the sockets it opened. The Worker
 * authenticates the caller, then forwards the upgrade to the session with identity headers it sets
 * itself; any such headers on the incoming request are dropped.
 */
export const sessionSocketRoutes = new Hono<AppEnv>();

// Mounted ahead of the app-wide `requireAuth`, so it authenticates here.
sessionSocketRoutes.post("/:id/ws-token", requireAuth, async (c) => {
  const sessionId = c.req.param("id");
  const stub = await sessionStub(c.env, sessionId);
  const principal = c.get("principal");
  const author = actingAuthor(principal);
  const role = (await unwrap(stub.roleOf(author.userId))) ?? "member";
  const authSessionId = principal.kind === "user" ? principal.authSessionId : null;
  const { token, expiresAt } = await issueWsToken(c.env, { sid: sessionId, author, role }, authSessionId);
  return c.json({ token, expiresAt, path: `/api/sessions/${sessionId}/ws?token=${encodeURIComponent(token)}` });
});

sessionSocketRoutes.get("/:id/ws", async (c) => {
  requireUpgrade(c.req.header("upgrade"));
  const sessionId = c.req.param("id");
  const token = c.req.query("token");
  if (!token) throw new LookoutError("UNAUTHENTICATED", "Open the session socket with a token from POST /api/sessions/:id/ws-token.");
  const { claims, authSessionId } = await redeemWsToken(c.env, token, sessionId);
  const stub = await sessionStub(c.env, sessionId);
  const headers = forwardedHeaders(c.req.raw.headers);
  headers.set(UPGRADE_HEADERS.kind, "client");
  headers.set(UPGRADE_HEADERS.author, JSON.stringify(claims.author));
  headers.set(UPGRADE_HEADERS.role, claims.role);
  if (authSessionId !== null) headers.set(UPGRADE_HEADERS.signIn, await socketSignIn(authSessionId));
  const response = await stub.fetch(new Request(c.req.raw.url, { headers }));
  if (authSessionId !== null) c.executionCtx.waitUntil(closeIfSignedOutMeanwhile(c.env, authSessionId, sessionId));
  return response;
});

sessionSocketRoutes.get("/:id/bridge", async (c) => {
  requireUpgrade(c.req.header("upgrade"));
  const sessionId = c.req.param("id");
  const authorization = c.req.header("authorization") ?? "";
  const token = authorization.startsWith("Bearer ") ? authorization.slice("Bearer ".length) : "";
  const sandboxId = c.req.header("x-lookout-sandbox-id") ?? "";
  if (!token || !sandboxId) throw new LookoutError("UNAUTHENTICATED", "The bridge must send its sandbox token and sandbox id.");
  const stub = await sessionStub(c.env, sessionId);
  const verdict = await stub.authorizeBridge(sandboxId, token);
  if (verdict === "unauthorized") throw new LookoutError("INVALID_TOKEN", "The sandbox token is not valid for this session.");
  if (verdict === "gone") throw new LookoutError("FORBIDDEN", "This sandbox has been retired; it must shut down.");
  const headers = forwardedHeaders(c.req.raw.headers);
  headers.set(UPGRADE_HEADERS.kind, "bridge");
  headers.set(UPGRADE_HEADERS.sandboxId, sandboxId);
  return stub.fetch(new Request(c.req.raw.url, { headers }));
});

function requireUpgrade(upgrade: string | undefined): void {
  if (upgrade?.toLowerCase() !== "websocket") throw new LookoutError("BAD_REQUEST", "This endpoint only accepts WebSocket upgrades.");
}

/** The upgrade's own headers minus anything that could impersonate the Worker's identity headers. */
function forwardedHeaders(incoming: Headers): Headers {
  const headers = new Headers();
  for (const [name, value] of incoming) {
    if (name.startsWith("x-lookout-") || name === "authorization" || name === "cookie") continue;
    headers.set(name, value);
  }
  return headers;
}
