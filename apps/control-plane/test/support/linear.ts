import { SELF, env } from "cloudflare:test";
import type { SessionCommand } from "@lookout/protocol";
import { api, openBridge, ORIGIN, type Peer, sandboxRequestFor } from "../helpers";
import type { FakeLinearActivity, FakeLinearState } from "@lookout/e2e/fake-linear";

/** Helpers for the Linear agent's workerd tests: sign deliveries as Linear does, drive the fake. */

export const LINEAR_SECRET = "test-linear-webhook-secret";

export async function fakeLinear(path: "state"): Promise<FakeLinearState>;
export async function fakeLinear(path: "reset" | "configure", body?: Partial<FakeLinearState>): Promise<void>;
export async function fakeLinear(path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${env.TEST_FAKE_LINEAR_URL}/__fake/${path}`, { method: "POST", body: JSON.stringify(body ?? {}) });
  return response.json();
}

/** Hex HMAC-SHA256 of the raw body with the webhook secret: Linear's `Linear-Signature`. */
export async function linearSignature(body: string, secret = LINEAR_SECRET): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body));
  return [...new Uint8Array(mac)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

export interface SendOptions {
  signature?: string | null;
  deliveryId?: string;
  timestamp?: number;
}

/** Posts an agent session event signed like Linear signs it; `webhookTimestamp` is set to now unless given. */
export async function sendLinear(payload: Record<string, unknown>, options: SendOptions = {}): Promise<Response> {
  const body = JSON.stringify({ ...payload, webhookTimestamp: options.timestamp ?? Date.now() });
  const signature = options.signature === undefined ? await linearSignature(body) : options.signature;
  return SELF.fetch(`${ORIGIN}/api/linear/webhook`, {
    method: "POST",
    headers: {
      "content-type": "application/json; charset=utf-8",
      "linear-delivery": options.deliveryId ?? crypto.randomUUID(),
      "linear-event": "AgentSessionEvent",
      ...(signature === null ? {} : { "linear-signature": signature }),
    },
    body,
  });
}

export interface IssueFixture {
  agentSessionId: string;
  issueId: string;
  identifier: string;
  teamKey: string;
}

export function newIssue(teamKey = "ENG"): IssueFixture {
  const n = Math.floor(Math.random() * 100_000);
  return { agentSessionId: `as-${crypto.randomUUID()}`, issueId: `issue-${crypto.randomUUID()}`, identifier: `${teamKey}-${n}`, teamKey };
}

/** A `created` event as Linear sends it when someone mentions or assigns the app on `issue`. */
export function createdEvent(issue: IssueFixture, organizationId = "org-acme"): Record<string, unknown> {
  return {
    type: "AgentSessionEvent",
    action: "created",
    createdAt: new Date().toISOString(),
    organizationId,
    oauthClientId: "test-linear-client",
    appUserId: "app-user-lookout",
    webhookId: "webhook-1",
    promptContext: `<issue identifier="${issue.identifier}"><title>Fix the flaky retry</title><description>It retries forever.</description></issue>`,
    agentSession: {
      id: issue.agentSessionId,
      appUserId: "app-user-lookout",
      organizationId,
      status: "pending",
      type: "issue",
      createdAt: new Date().toISOString(),
      updatedAt: new Date().toISOString(),
      issueId: issue.issueId,
      issue: {
        id: issue.issueId,
        identifier: issue.identifier,
        title: "Fix the flaky retry",
        url: `https://linear.app/acme/issue/${issue.identifier}`,
        teamId: `team-${issue.teamKey}`,
        team: { id: `team-${issue.teamKey}`, key: issue.teamKey, name: issue.teamKey },
      },
      creator: { id: "linear-user-ada", name: "Ada", email: "ada@acme.test", url: "https://linear.app/acme/profiles/ada" },
    },
  };
}

/** A `prompted` event: `user` wrote `body` in the agent session (with `signal` when they pressed stop). */
export function promptedEvent(
  issue: IssueFixture,
  body: string,
  user = { id: "linear-user-bea", name: "Bea" },
  signal?: "stop",
): Record<string, unknown> {
  return {
    ...createdEvent(issue),
    action: "prompted",
    promptContext: undefined,
    agentActivity: {
      id: crypto.randomUUID(),
      agentSessionId: issue.agentSessionId,
      content: { type: "prompt", body },
      ...(signal ? { signal } : {}),
      user: { ...user, email: `${user.id}@acme.test`, url: "https://linear.app" },
      userId: user.id,
      createdAt: new Date().toISOString(),
      updatedAt: new Date().toISOString(),
    },
  };
}

/** Installs Lookout in the fake's workspace through the real OAuth routes. */
export async function installLinear(cookie: string): Promise<void> {
  const start = await SELF.fetch(`${ORIGIN}/api/linear/install`, { headers: { cookie }, redirect: "manual" });
  if (start.status !== 302) throw new Error(`install: ${start.status} ${await start.text()}`);
  const state = new URL(start.headers.get("location") ?? "").searchParams.get("state");
  const back = await SELF.fetch(`${ORIGIN}/api/linear/oauth/callback?code=code-${crypto.randomUUID()}&state=${state}`, {
    headers: { cookie },
    redirect: "manual",
  });
  if (back.status !== 302) throw new Error(`callback: ${back.status} ${await back.text()}`);
}

export async function registerRepository(cookie: string, name: string): Promise<{ id: string; fullName: string }> {
  const created = await api(cookie)("POST", "/api/repositories", { kind: "local", path: `/srv/repos/${name}`, name });
  if (created.status !== 201) throw new Error(`repository: ${created.status} ${JSON.stringify(created.json)}`);
  return { id: created.json.repository.id, fullName: created.json.repository.fullName };
}

/** Waits until the fake holds activities for `agentSessionId` that satisfy `done`. */
export async function activitiesFor(
  agentSessionId: string,
  done: (activities: FakeLinearActivity[]) => boolean,
  timeoutMs = 10_000,
): Promise<FakeLinearActivity[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const activities = (await fakeLinear("state")).activities.filter((activity) => activity.agentSessionId === agentSessionId);
    if (done(activities)) return activities;
    if (Date.now() > deadline) throw new Error(`activities for ${agentSessionId}: ${JSON.stringify(activities.map((a) => a.content))}`);
    await scheduler.wait(20);
  }
}

/** The session a Linear agent session started, once it has. */
export async function sessionFor(agentSessionId: string, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const row = await env.DB.prepare("SELECT session_id FROM linear_agent_sessions WHERE agent_session_id = ? AND session_id IS NOT NULL")
      .bind(agentSessionId)
      .first<{ session_id: string }>();
    if (row) return row.session_id;
    if (Date.now() > deadline) throw new Error(`no session for ${agentSessionId}`);
    await scheduler.wait(20);
  }
}

/** Connects as the session's sandbox and reports it ready. */
export async function connectBridge(sessionId: string): Promise<Peer<SessionCommand>> {
  const request = await sandboxRequestFor(sessionId);
  const { peer } = await openBridge(sessionId, request.sandboxId, request.sandboxToken);
  if (!peer) throw new Error("bridge refused");
  await peer.waitFor((m) => m.type === "bridge.welcome");
  peer.send({ type: "bridge.event", bseq: 1, event: { type: "bridge.ready" } });
  return peer;
}
