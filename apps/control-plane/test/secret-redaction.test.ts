import { env, evictDurableObject, runInDurableObject } from "cloudflare:test";
import type { SessionCommand } from "@lookout/protocol";
import { getAgentByName } from "agents";
import { beforeAll, describe, expect, it } from "vitest";
import { secretMarker } from "../src/session/redaction";
import type { SessionAgent } from "../src/session/session-agent";
import { api, eventsOf, login, openBridge, type Peer, sandboxRequestFor, subscribe } from "./helpers";

let cookie: string;
beforeAll(async () => {
  cookie = await login();
});

const SECRET_NAME = "DEPLOY_KEY";
const SECRET = "dk_live_Qm9vYmFyLWRlcGxveS1rZXk";

type PromptCommand = Extract<SessionCommand, { type: "command.prompt" }>;

/** A repository holding `DEPLOY_KEY`, and a session on it whose first prompt brings up a sandbox. */
async function sessionWithSecret(): Promise<{ sessionId: string }> {
  const call = api(cookie);
  const name = `redaction-${crypto.randomUUID().slice(0, 8)}`;
  const repository = await call("POST", "/api/repositories", { kind: "local", path: `/srv/repos/${name}`, name });
  expect(repository.status).toBe(201);
  const repositoryId: string = repository.json.repository.id;
  expect((await call("PUT", `/api/repositories/${repositoryId}/secrets/${SECRET_NAME}`, { value: SECRET })).status).toBe(204);
  const session = await call("POST", "/api/sessions", { repositoryId, title: "Secrets stay hidden" });
  expect(session.status).toBe(201);
  return { sessionId: session.json.session.id };
}

async function connectBridge(sessionId: string, sandboxId: string, token: string): Promise<Peer<SessionCommand>> {
  const { peer } = await openBridge(sessionId, sandboxId, token);
  if (!peer) throw new Error("bridge refused");
  await peer.waitFor((m) => m.type === "bridge.welcome");
  return peer;
}

/** Every string the session's SQLite holds, in every table. */
async function everythingStored(sessionId: string): Promise<string> {
  return runInDurableObject(await getAgentByName(env.SESSION, sessionId), (_instance: SessionAgent, state) => {
    const tables = state.storage.sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'")
      .toArray();
    return JSON.stringify(tables.map(({ name }) => state.storage.sql.exec(`SELECT * FROM "${name}"`).toArray()));
  });
}

describe("secrets in the shared session log", () => {
  it("are hidden from the stored replay and the live broadcast, before and after the object restarts", async () => {
    const { sessionId } = await sessionWithSecret();
    const live = await subscribe(cookie, sessionId);
    const call = api(cookie);
    expect((await call("POST", `/api/sessions/${sessionId}/prompts`, { requestId: "r1", text: "show me the env" })).status).toBe(202);
    const sandbox = await sandboxRequestFor(sessionId);
    expect(sandbox.env).toMatchObject({ [SECRET_NAME]: SECRET });
    expect(sandbox.sandboxToken.startsWith("lks_")).toBe(true);

    const bridge = await connectBridge(sessionId, sandbox.sandboxId, sandbox.sandboxToken);
    bridge.send({ type: "bridge.event", bseq: 1, event: { type: "bridge.ready" } });
    const { promptId } = await bridge.waitFor((m): m is PromptCommand => m.type === "command.prompt");
    const send = (target: Peer<SessionCommand>, bseq: number, event: Record<string, unknown>) =>
      target.send({ type: "bridge.event", bseq, event: { promptId, ...event } });
    send(bridge, 2, {
      type: "tool.call",
      callId: "c1",
      tool: "bash",
      input: { command: "env" },
      state: "completed",
      output: `${SECRET_NAME}=${SECRET}\nLOOKOUT_SANDBOX_TOKEN=${sandbox.sandboxToken}\n`,
    });
    // The value arrives split across two streamed chunks of one message.
    send(bridge, 3, { type: "message.text", messageId: "m1", text: `The key is ${SECRET.slice(0, 12)}` });
    send(bridge, 4, { type: "message.text", messageId: "m1", text: `The key is ${SECRET}, keep it safe.` });
    await bridge.waitFor((m) => m.type === "bridge.ack" && m.bseq === 4);

    const finalText = `The key is ${secretMarker(SECRET_NAME)}, keep it safe.`;
    await live.waitFor(
      (m) => m.type === "events" && m.events.some((e) => e.payload.type === "message.text" && e.payload.text === finalText),
    );
    const tool = eventsOf(live).find((e) => e.key === "tool:c1")?.payload;
    expect(tool).toMatchObject({
      output: `${SECRET_NAME}=${secretMarker(SECRET_NAME)}\nLOOKOUT_SANDBOX_TOKEN=${secretMarker("LOOKOUT_SANDBOX_TOKEN")}\n`,
      secretsHidden: 2,
    });
    const replay = await subscribe(cookie, sessionId);
    const rest = JSON.stringify((await call("GET", `/api/sessions/${sessionId}/events?after=0`)).json);
    for (const seen of [JSON.stringify(live.received), JSON.stringify(replay.received), rest]) {
      expect(seen).toContain(secretMarker(SECRET_NAME));
      expect(seen).not.toContain(SECRET.slice(0, 6));
      expect(seen).not.toContain(sandbox.sandboxToken);
    }
    expect(eventsOf(replay).find((e) => e.key === "text:m1")?.payload).toMatchObject({ text: finalText, secretsHidden: 1 });

    // A restarted object rebuilds its redactor from the stored secrets before it applies anything.
    await evictDurableObject(await getAgentByName(env.SESSION, sessionId));
    const back = await connectBridge(sessionId, sandbox.sandboxId, sandbox.sandboxToken);
    send(back, 5, { type: "agent.error", message: `deploy key ${SECRET} was refused; token ${sandbox.sandboxToken}` });
    await back.waitFor((m) => m.type === "bridge.ack" && m.bseq === 5);
    const after = await subscribe(cookie, sessionId);
    const error = eventsOf(after).find((e) => e.payload.type === "agent.error")?.payload;
    expect(error).toMatchObject({
      message: `deploy key ${secretMarker(SECRET_NAME)} was refused; token ${secretMarker("Lookout sandbox token")}`,
      secretsHidden: 2,
    });

    // Neither the value nor the token is ever written to the object's SQLite.
    const stored = await everythingStored(sessionId);
    expect(stored).toContain(secretMarker(SECRET_NAME));
    expect(stored).not.toContain(SECRET.slice(0, 6));
    expect(stored).not.toContain(sandbox.sandboxToken);
  });
});
