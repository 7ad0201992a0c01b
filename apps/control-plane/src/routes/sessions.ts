import { CreateSessionRequest, EventsQuery, ListSessionsQuery, SendPromptRequest, UpdateSessionRequest } from "@lookout/protocol";
import { Hono } from "hono";
import { SessionIndexStore } from "../db/sessions-index";
import type { AppEnv } from "../http/app-env";
import { readJson, readQuery } from "../http/validate";
import { unwrap } from "../session/rpc";
import { actingAuthor, sessionStub } from "./session-access";
import { createSession } from "./session-create";

/** `/api/sessions`: create, list, read and steer sessions. Sockets and their tokens live in `session-sockets.ts`. */
export const sessionsRoutes = new Hono<AppEnv>();

sessionsRoutes.post("/", async (c) => {
  const input = await readJson(c, CreateSessionRequest);
  const principal = c.get("principal");
  const { session, promptId } = await createSession(c.env, {
    ...input,
    owner: actingAuthor(principal),
    // A person's browser is the dashboard; a signed service request is the API.
    origin: { kind: principal.kind === "user" ? "dashboard" : "api" },
  });
  return c.json({ session, promptId }, 201);
});

sessionsRoutes.get("/", async (c) => {
  const query = readQuery(c, ListSessionsQuery);
  return c.json(await new SessionIndexStore(c.env.DB).list(query));
});

sessionsRoutes.get("/:id", async (c) => {
  const stub = await sessionStub(c.env, c.req.param("id"));
  return c.json(await unwrap(stub.detail(actingAuthor(c.get("principal")).userId)));
});

sessionsRoutes.patch("/:id", async (c) => {
  const input = await readJson(c, UpdateSessionRequest);
  const stub = await sessionStub(c.env, c.req.param("id"));
  return c.json({ session: await unwrap(stub.rename(actingAuthor(c.get("principal")), input.title)) });
});

sessionsRoutes.post("/:id/prompts", async (c) => {
  const input = await readJson(c, SendPromptRequest);
  const stub = await sessionStub(c.env, c.req.param("id"));
  const result = await unwrap(
    stub.sendPrompt(actingAuthor(c.get("principal")), {
      requestId: input.requestId,
      text: input.text,
      model: input.model,
      reasoningEffort: input.reasoningEffort,
    }),
  );
  return c.json(result, 202);
});

sessionsRoutes.delete("/:id/prompts/:promptId", async (c) => {
  const stub = await sessionStub(c.env, c.req.param("id"));
  const prompt = await unwrap(stub.cancelPrompt(actingAuthor(c.get("principal")), c.req.param("promptId")));
  return c.json({ prompt });
});

sessionsRoutes.post("/:id/stop", async (c) => {
  const stub = await sessionStub(c.env, c.req.param("id"));
  await unwrap(stub.stopRun(actingAuthor(c.get("principal"))));
  return c.json({ ok: true });
});

sessionsRoutes.post("/:id/archive", async (c) => {
  const stub = await sessionStub(c.env, c.req.param("id"));
  return c.json({ session: await unwrap(stub.setArchived(actingAuthor(c.get("principal")), true)) });
});

sessionsRoutes.post("/:id/unarchive", async (c) => {
  const stub = await sessionStub(c.env, c.req.param("id"));
  return c.json({ session: await unwrap(stub.setArchived(actingAuthor(c.get("principal")), false)) });
});

sessionsRoutes.get("/:id/events", async (c) => {
  const query = readQuery(c, EventsQuery);
  const stub = await sessionStub(c.env, c.req.param("id"));
  const { events, latestSeq } = await unwrap(stub.eventsAfter(query.after, query.limit));
  const last = events[events.length - 1];
  return c.json({ events, nextAfter: last ? last.seq : latestSeq, latestSeq });
});

sessionsRoutes.get("/:id/participants", async (c) => {
  const stub = await sessionStub(c.env, c.req.param("id"));
  const participants = await unwrap(stub.participants());
  return c.json({ participants: participants.map((p) => ({ participant: p.author, role: p.role, joinedAt: p.joinedAt })) });
});
