import { SELF, env } from "cloudflare:test";
import type { SessionCommand } from "@lookout/protocol";
import { beforeAll, describe, expect, it } from "vitest";
import { RepositoryStore } from "../src/db/repositories";
import type { Env } from "../src/env";
import { LinearAgent } from "../src/integrations/linear/client";
import { chooseRepository } from "../src/integrations/linear/repository";
import { api, login, ORIGIN, type Peer } from "./helpers";
import {
  activitiesFor,
  connectBridge,
  createdEvent,
  fakeLinear,
  installLinear,
  newIssue,
  promptedEvent,
  registerRepository,
  sendLinear,
  sessionFor,
} from "./support/linear";

type PromptCommand = Extract<SessionCommand, { type: "command.prompt" }>;
const isPrompt = (m: SessionCommand): m is PromptCommand => m.type === "command.prompt";

let cookie: string;
let repository: { id: string; fullName: string };

beforeAll(async () => {
  cookie = await login();
  await installLinear(cookie);
  repository = await registerRepository(cookie, `widgets-${crypto.randomUUID().slice(0, 8)}`);
  const rules = await api(cookie)("PUT", "/api/linear/mappings", { rules: [{ kind: "team", value: "ENG", repositoryId: repository.id }] });
  expect(rules.status).toBe(200);
});

/** Plays the sandbox through one prompt: some tool calls, a closing message, then `status`. */
function finishPrompt(bridge: Peer<SessionCommand>, promptId: string, status: "completed" | "failed" | "stopped", startSeq = 2): void {
  let bseq = startSeq;
  const tool = (callId: string, name: string, title: string, state: "completed" | "error") =>
    bridge.send({
      type: "bridge.event",
      bseq: bseq++,
      event: { type: "tool.call", promptId, callId, tool: name, title, input: {}, state },
    });
  tool("c1", "bash", "npm test", "completed");
  tool("c2", "bash", "git status", "completed");
  tool("c3", "bash", "npm run lint", "error");
  tool("c4", "edit", "src/retry.ts", "completed");
  bridge.send({
    type: "bridge.event",
    bseq: bseq++,
    event: { type: "message.text", promptId, messageId: "m1", text: "Capped the retry at five attempts.", role: "assistant" },
  });
  bridge.send({
    type: "bridge.event",
    bseq: bseq++,
    event: { type: "prompt.finished", promptId, status, ...(status === "failed" ? { error: "the tests failed" } : {}) },
  });
}

describe("Linear agent sessions", () => {
  it("answers a created event at once, posts a thought before any other work, then starts the session and links it", async () => {
    const issue = newIssue();
    const sentAt = Date.now();
    const response = await sendLinear(createdEvent(issue));
    expect(response.status).toBe(200);
    expect(Date.now() - sentAt).toBeLessThan(5_000);

    const [thought] = await activitiesFor(issue.agentSessionId, (a) => a.length >= 1);
    expect(thought?.content.type).toBe("thought");
    expect(thought!.at - sentAt).toBeLessThan(10_000);

    const sessionId = await sessionFor(issue.agentSessionId);
    const state = await fakeLinear("state");
    // Leaving out the passing (ephemeral) thoughts that show the sandbox starting, which may come at any point.
    const ops = state.operations.filter(
      (op) => JSON.stringify(op.variables).includes(issue.agentSessionId) && !JSON.stringify(op.variables).includes('"ephemeral":true'),
    );
    expect(ops.map((op) => op.name)).toEqual(["createAgentActivity", "updateAgentSession"]);
    const update = state.sessionUpdates.find((u) => u.id === issue.agentSessionId);
    expect(update?.input).toEqual({ externalUrls: [{ label: "Lookout session", url: `${env.PUBLIC_URL}/sessions/${sessionId}` }] });

    const detail = await api(cookie)("GET", `/api/sessions/${sessionId}`);
    expect(detail.json.session.origin).toEqual({ kind: "linear", agentSessionId: issue.agentSessionId, issueId: issue.issueId });
    expect(detail.json.session.repositoryId).toBe(repository.id);
  });

  it("reports a finished prompt as its tool steps and one response with the summary", async () => {
    const issue = newIssue();
    await sendLinear(createdEvent(issue));
    const sessionId = await sessionFor(issue.agentSessionId);
    const bridge = await connectBridge(sessionId);
    const prompt = await bridge.waitFor(isPrompt);
    expect(prompt.text).toContain(`Work on Linear issue ${issue.identifier}`);
    expect(prompt.text).toContain("untrusted");
    expect(prompt.author.name).toBe("Ada");
    finishPrompt(bridge, prompt.promptId, "completed");

    const activities = (await activitiesFor(issue.agentSessionId, (a) => a.some((x) => x.content.type === "response"))).filter(
      (a) => !a.ephemeral,
    );
    bridge.close();
    // Consecutive calls of one tool are one step, named by its first call.
    expect(activities.map((a) => a.content.type)).toEqual(["thought", "action", "action", "response"]);
    expect(activities[1]?.content).toEqual({ type: "action", action: "Ran", parameter: "npm test" });
    expect(activities[2]?.content).toEqual({ type: "action", action: "Edited", parameter: "src/retry.ts" });
    expect(activities[3]?.content.body).toContain("Capped the retry at five attempts.");
    expect(activities[3]?.content.body).toContain(`/sessions/${sessionId}`);
  });

  it("reports a failed prompt as an error", async () => {
    const issue = newIssue();
    await sendLinear(createdEvent(issue));
    const bridge = await connectBridge(await sessionFor(issue.agentSessionId));
    const prompt = await bridge.waitFor(isPrompt);
    finishPrompt(bridge, prompt.promptId, "failed");
    const activities = await activitiesFor(issue.agentSessionId, (a) => a.some((x) => x.content.type === "error"));
    bridge.close();
    expect(activities.at(-1)?.content.body).toContain("The session failed: the tests failed");
    expect(activities.some((a) => a.content.type === "response")).toBe(false);
  });

  it("sends a prompted event to the same session as a follow-up authored by the Linear user", async () => {
    const issue = newIssue();
    await sendLinear(createdEvent(issue));
    const sessionId = await sessionFor(issue.agentSessionId);
    const bridge = await connectBridge(sessionId);
    const first = await bridge.waitFor(isPrompt);
    finishPrompt(bridge, first.promptId, "completed");
    await activitiesFor(issue.agentSessionId, (a) => a.some((x) => x.content.type === "response"));

    expect((await sendLinear(promptedEvent(issue, "Also cover the timeout path with a test."))).status).toBe(200);
    const followUp = await bridge.waitFor((m): m is PromptCommand => isPrompt(m) && m.promptId !== first.promptId);
    bridge.close();
    expect(followUp.text).toContain("Also cover the timeout path with a test.");
    expect(followUp.text).toContain(`A follow-up from Bea on ${issue.identifier}`);
    expect(followUp.author.name).toBe("Bea");
    expect(await sessionFor(issue.agentSessionId)).toBe(sessionId);
    const sessions = await env.DB.prepare("SELECT COUNT(*) AS n FROM sessions WHERE origin LIKE ?")
      .bind(`%${issue.agentSessionId}%`)
      .first<{ n: number }>();
    expect(sessions?.n).toBe(1);
  });

  it("stops the running prompt on the stop signal and answers with a response", async () => {
    const issue = newIssue();
    await sendLinear(createdEvent(issue));
    const bridge = await connectBridge(await sessionFor(issue.agentSessionId));
    const prompt = await bridge.waitFor(isPrompt);
    expect((await sendLinear(promptedEvent(issue, "Stop", { id: "linear-user-ada", name: "Ada" }, "stop"))).status).toBe(200);
    const stop = await bridge.waitFor((m) => m.type === "command.stop");
    expect(stop).toMatchObject({ type: "command.stop", promptId: prompt.promptId });
    bridge.send({ type: "bridge.event", bseq: 2, event: { type: "prompt.finished", promptId: prompt.promptId, status: "stopped" } });
    const activities = await activitiesFor(issue.agentSessionId, (a) => a.some((x) => x.content.type === "response"));
    bridge.close();
    expect(activities.at(-1)?.content.body).toContain("Stopped as asked.");
  });

  it("asks which repository with a select when nothing maps the issue, and starts there once answered; the issue remembers it", async () => {
    const other = await registerRepository(cookie, `gadgets-${crypto.randomUUID().slice(0, 8)}`);
    await fakeLinear("configure", { suggestions: [{ repositoryFullName: "acme/unknown", confidence: 0.2 }] });
    const issue = newIssue("OPS");
    await sendLinear(createdEvent(issue));
    const [, elicitation] = await activitiesFor(issue.agentSessionId, (a) => a.some((x) => x.content.type === "elicitation"));
    expect(elicitation?.signal).toBe("select");
    const options = (elicitation?.signalMetadata as { options: { value: string }[] }).options.map((o) => o.value);
    expect(options).toEqual(expect.arrayContaining([repository.fullName, other.fullName]));
    expect(
      await env.DB.prepare("SELECT state FROM linear_agent_sessions WHERE agent_session_id = ?").bind(issue.agentSessionId).first(),
    ).toEqual({
      state: "awaiting_repository",
    });

    await sendLinear(promptedEvent(issue, "not a repository", { id: "linear-user-ada", name: "Ada" }));
    await activitiesFor(issue.agentSessionId, (a) => a.filter((x) => x.content.type === "elicitation").length === 2);

    await sendLinear(promptedEvent(issue, other.fullName, { id: "linear-user-ada", name: "Ada" }));
    const sessionId = await sessionFor(issue.agentSessionId);
    const detail = await api(cookie)("GET", `/api/sessions/${sessionId}`);
    expect(detail.json.session.repositoryId).toBe(other.id);

    // A second mention on the same issue starts in the remembered repository without asking.
    const again = { ...issue, agentSessionId: `as-${crypto.randomUUID()}` };
    await sendLinear(createdEvent(again));
    const secondSession = await sessionFor(again.agentSessionId);
    expect((await api(cookie)("GET", `/api/sessions/${secondSession}`)).json.session.repositoryId).toBe(other.id);
    const answered = await activitiesFor(again.agentSessionId, (a) => a.length >= 1);
    expect(answered.filter((a) => !a.ephemeral).map((a) => a.content.type)).toEqual(["thought"]);
    await fakeLinear("configure", { suggestions: [] });
  });

  it("asks Linear for suggestions among the GitHub repositories on GITHUB_WEB_URL's host, github.com by default", async () => {
    const suggested = await new RepositoryStore(env.DB).create({
      kind: "github",
      owner: "acme",
      name: `suggested-${crypto.randomUUID().slice(0, 8)}`,
      defaultBranch: "main",
    });
    await fakeLinear("configure", { suggestions: [{ repositoryFullName: suggested.fullName, confidence: 0.9 }] });
    try {
      const linear = await LinearAgent.forOrganization(env, "org-acme");
      /** The candidates one choice sent Linear, after checking it took Linear's confident suggestion. */
      const candidatesSent = async (settings: Partial<Env>) => {
        const issue = newIssue("OPS");
        expect(await chooseRepository({ ...env, ...settings }, linear, issue)).toEqual({
          kind: "chosen",
          repositoryId: suggested.id,
          how: "suggestion",
        });
        const asked = (await fakeLinear("state")).operations.filter(
          (op) => op.name === "issueRepositorySuggestions" && (op.variables as { issueId?: string }).issueId === issue.issueId,
        );
        expect(asked).toHaveLength(1);
        return (asked[0]!.variables as { candidateRepositories: { hostname: string; repositoryFullName: string }[] }).candidateRepositories;
      };

      const enterprise = await candidatesSent({ GITHUB_WEB_URL: "https://ghe.example.com" });
      expect(enterprise).toContainEqual({ hostname: "ghe.example.com", repositoryFullName: suggested.fullName });
      expect(enterprise.every((candidate) => candidate.hostname === "ghe.example.com")).toBe(true);

      const github = await candidatesSent({ GITHUB_WEB_URL: undefined });
      expect(github).toContainEqual({ hostname: "github.com", repositoryFullName: suggested.fullName });
      expect(github.every((candidate) => candidate.hostname === "github.com")).toBe(true);
    } finally {
      await fakeLinear("configure", { suggestions: [] });
    }
  });

  it("prefers a label rule to a project rule and a project rule to a team rule, reading the issue's project and labels from Linear", async () => {
    const backend = await registerRepository(cookie, `backend-${crypto.randomUUID().slice(0, 8)}`);
    const roadmap = await registerRepository(cookie, `roadmap-${crypto.randomUUID().slice(0, 8)}`);
    const put = (rules: unknown[]) => api(cookie)("PUT", "/api/linear/mappings", { rules });
    expect(
      (
        await put([
          { kind: "team", value: "ENG", repositoryId: repository.id },
          { kind: "project", value: "proj-roadmap", repositoryId: roadmap.id },
          { kind: "label", value: "Backend", repositoryId: backend.id },
        ])
      ).status,
    ).toBe(200);
    const labelled = newIssue();
    const inProject = newIssue();
    await fakeLinear("configure", {
      issues: {
        [labelled.issueId]: { projectId: "proj-roadmap", labels: ["backend"] },
        [inProject.issueId]: { projectId: "proj-roadmap", labels: ["docs"] },
      },
    });
    await sendLinear(createdEvent(labelled));
    await sendLinear(createdEvent(inProject));
    const repositoryOf = async (agentSessionId: string) =>
      (await api(cookie)("GET", `/api/sessions/${await sessionFor(agentSessionId)}`)).json.session.repositoryId as string;
    expect(await repositoryOf(labelled.agentSessionId)).toBe(backend.id);
    expect(await repositoryOf(inProject.agentSessionId)).toBe(roadmap.id);
    const reads = (await fakeLinear("state")).operations.filter((op) => op.name === "lookoutIssueContext").map((op) => op.variables);
    expect(reads).toEqual(expect.arrayContaining([{ id: labelled.issueId }, { id: inProject.issueId }]));
    expect((await put([{ kind: "team", value: "ENG", repositoryId: repository.id }])).status).toBe(200);
  });

  it("refuses a bad signature, a missing one and a stale timestamp, and starts nothing", async () => {
    const issue = newIssue();
    const bad = await sendLinear(createdEvent(issue), { signature: "0".repeat(64) });
    expect(bad.status).toBe(401);
    expect((await bad.json<{ error: { code: string } }>()).error.code).toBe("WEBHOOK_SIGNATURE_INVALID");
    expect((await sendLinear(createdEvent(issue), { signature: null })).status).toBe(401);
    expect((await sendLinear(createdEvent(issue), { timestamp: Date.now() - 120_000 })).status).toBe(401);
    const refused = await env.DB.prepare(
      "SELECT COUNT(*) AS n FROM trigger_deliveries WHERE source = 'linear' AND status = 'refused'",
    ).first<{
      n: number;
    }>();
    expect(refused?.n).toBeGreaterThanOrEqual(3);
    const state = await fakeLinear("state");
    expect(state.activities.filter((a) => a.agentSessionId === issue.agentSessionId)).toEqual([]);
    expect(
      await env.DB.prepare("SELECT * FROM linear_agent_sessions WHERE agent_session_id = ?").bind(issue.agentSessionId).first(),
    ).toBeNull();
  });

  it("refuses a signed event from a workspace that never installed Lookout at once, recording nothing", async () => {
    const issue = newIssue();
    const deliveryId = crypto.randomUUID();
    const prompted = { ...promptedEvent(issue, "Please go on"), organizationId: "org-stranger" };
    for (const event of [createdEvent(issue, "org-stranger"), prompted]) {
      const refused = await sendLinear(event, { deliveryId });
      expect(refused.status).toBe(403);
      expect((await refused.json<{ error: { code: string } }>()).error.code).toBe("LINEAR_WORKSPACE_UNKNOWN");
    }
    const recorded = await env.DB.prepare("SELECT COUNT(*) AS n FROM trigger_deliveries WHERE delivery_id = ? OR dedupe_key LIKE ?")
      .bind(deliveryId, `%${issue.agentSessionId}%`)
      .first<{ n: number }>();
    expect(recorded?.n).toBe(0);
    const state = await fakeLinear("state");
    expect(state.operations.filter((op) => JSON.stringify(op.variables).includes(issue.agentSessionId))).toEqual([]);
    expect(
      await env.DB.prepare("SELECT * FROM linear_agent_sessions WHERE agent_session_id = ?").bind(issue.agentSessionId).first(),
    ).toBeNull();
  });

  it("refuses a signed body that is not an agent session event in Linear's shape, and ignores other webhook types", async () => {
    const issue = newIssue();
    const malformed = await sendLinear({ type: "AgentSessionEvent", action: "created", organizationId: "org-acme" });
    expect(malformed.status).toBe(422);
    expect((await malformed.json<{ error: { code: string } }>()).error.code).toBe("VALIDATION_FAILED");
    const other = await sendLinear({ type: "Issue", action: "update", organizationId: "org-acme", data: { id: issue.issueId } });
    expect(other.status).toBe(200);
    expect(await other.json()).toEqual({ ok: true, ignored: "Issue" });
    const recorded = await env.DB.prepare("SELECT COUNT(*) AS n FROM trigger_deliveries WHERE source = 'linear' AND dedupe_key LIKE ?")
      .bind(`%${issue.agentSessionId}%`)
      .first<{ n: number }>();
    expect(recorded?.n).toBe(0);
  });

  it("takes a redelivered event once", async () => {
    const issue = newIssue();
    const deliveryId = crypto.randomUUID();
    const first = await sendLinear(createdEvent(issue), { deliveryId });
    const second = await sendLinear(createdEvent(issue), { deliveryId });
    expect(await first.json()).toMatchObject({ duplicate: false });
    expect(await second.json()).toMatchObject({ duplicate: true });
    await sessionFor(issue.agentSessionId);
    const activities = await activitiesFor(issue.agentSessionId, (a) => a.length >= 1);
    expect(activities.filter((a) => !a.ephemeral).map((a) => a.content.type)).toEqual(["thought"]);
  });

  it("refreshes an access token about to expire before calling Linear", async () => {
    await fakeLinear("configure", { expiresIn: 60 });
    await installLinear(cookie);
    await fakeLinear("configure", { expiresIn: 86_400 });
    const issue = newIssue();
    await sendLinear(createdEvent(issue));
    await activitiesFor(issue.agentSessionId, (a) => a.length >= 1);
    const state = await fakeLinear("state");
    expect(state.grants.at(-1)?.grantType).toBe("refresh_token");
    const thoughtOp = state.operations.find(
      (op) => op.name === "createAgentActivity" && JSON.stringify(op.variables).includes(issue.agentSessionId),
    );
    expect(thoughtOp?.token).toBe(state.tokens.at(-1));
  });

  it("installs with actor=app and the agent scopes, keeps the tokens sealed, and takes an install state once", async () => {
    const start = await SELF.fetch(`${ORIGIN}/api/linear/install`, { headers: { cookie }, redirect: "manual" });
    const authorize = new URL(start.headers.get("location") ?? "");
    expect(Object.fromEntries(authorize.searchParams)).toMatchObject({
      actor: "app",
      scope: "read,write,app:assignable,app:mentionable",
      response_type: "code",
      redirect_uri: `${env.PUBLIC_URL}/api/linear/oauth/callback`,
    });
    const callback = `${ORIGIN}/api/linear/oauth/callback?code=code-once&state=${authorize.searchParams.get("state")}`;
    expect((await SELF.fetch(callback, { headers: { cookie }, redirect: "manual" })).status).toBe(302);
    const again = await SELF.fetch(callback, { headers: { cookie }, redirect: "manual" });
    expect(again.status).toBe(401);
    expect((await again.json<{ error: { code: string } }>()).error.code).toBe("INVALID_TOKEN");

    const state = await fakeLinear("state");
    const row = await env.DB.prepare("SELECT * FROM linear_installations WHERE organization_id = 'org-acme'").first<
      Record<string, unknown>
    >();
    const stored = JSON.stringify(row);
    for (const token of state.tokens) expect(stored).not.toContain(token);
    expect(row?.access_ciphertext).toEqual(expect.any(String));
  });

  it("shows the connected workspace and the rules in the settings", async () => {
    const settings = await api(cookie)("GET", "/api/linear/settings");
    expect(settings.status).toBe(200);
    expect(settings.json.settings.connections).toEqual([expect.objectContaining({ organizationId: "org-acme", organizationName: "Acme" })]);
    expect(settings.json.settings.rules).toEqual([{ kind: "team", value: "ENG", repositoryId: repository.id }]);
    expect(settings.json.settings.webhookUrl).toBe(`${env.PUBLIC_URL}/api/linear/webhook`);
    const bad = await api(cookie)("PUT", "/api/linear/mappings", {
      rules: [{ kind: "team", value: "ENG", repositoryId: "repo_missing0000000000000000" }],
    });
    expect(bad.status).toBe(404);
    expect((await api(cookie)("GET", "/api/linear/settings")).json.settings.rules).toHaveLength(1);
  });
});
