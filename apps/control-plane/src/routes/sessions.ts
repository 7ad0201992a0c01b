import {
  CreateSessionRequest,
  EventsQuery,
  ListSessionsQuery,
  LookoutError,
  SendPromptRequest,
  sha256Hex,
  UpdateSessionRequest,
} from "@lookout/protocol";
import { getAgentByName } from "agents";
import { Hono } from "hono";
import { RepositoryStore } from "../db/repositories";
import { SessionIndexStore } from "../db/sessions-index";
import type { AppEnv } from "../http/app-env";
import { readJson, readQuery } from "../http/validate";
import { newId } from "../session/ids";
import { unwrap } from "../session/rpc";
import { actingAuthor, sessionStub } from "./session-access";

/** `/api/sessions`: create, list, read and steer sessions. Sockets and their tokens live in `session-sockets.ts`. */
export const sessionsRoutes = new Hono<AppEnv>();

sessionsRoutes.post("/", async (c) => {
  const input = await readJson(c, CreateSessionRequest);
  const author = actingAuthor(c.get("principal"));
  const repository = await new RepositoryStore(c.env.DB).get(input.repositoryId);
  if (!repository) throw new LookoutError("REPOSITORY_NOT_FOUND");
  // A retried create with the same request id lands on the same session instead of a second one.
  const id = input.requestId ? `ses_${(await sha256Hex(`${author.userId}\n${input.requestId}`)).slice(0, 26)}` : newId("ses");
  const model = input.model ?? c.env.DEFAULT_MODEL;
  const title = input.title ?? titleFrom(input.prompt) ?? `Session on ${repository.fullName}`;
  const stub = getAgentByName(c.env.SESSION, id);
  const { state, promptId } = await unwrap(
    (await stub).createSession(
      {
        id,
        title,
        repository: {
          id: repository.id,
          kind: repository.kind,
          fullName: repository.fullName,
          path: repository.path,
          cloneUrl: repository.kind === "github" ? `https://github.com/${repository.fullName}.git` : null,
        },
        baseBranch: input.baseBranch ?? repository.defaultBranch,
        model,
        reasoningEffort: input.reasoningEffort ?? null,
        owner: author,
        parentSessionId: input.parentSessionId ?? null,
      },
      input.prompt ? { requestId: input.requestId ? `${input.requestId}:first` : null, text: input.prompt } : null,
    ),
  );
  const summary = await new SessionIndexStore(c.env.DB).get(state.id);
  return c.json({ session: summary, promptId }, 201);
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

function titleFrom(prompt: string | undefined): string | null {
  if (!prompt) return null;
  const line =
    prompt
      .split("\n")
      .find((candidate) => candidate.trim().length > 0)
      ?.trim() ?? "";
  if (!line) return null;
  return line.length > 80 ? `${line.slice(0, 77)}…` : line;
}
