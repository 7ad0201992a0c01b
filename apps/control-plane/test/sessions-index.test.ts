import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { api, createRepositoryAndSession, login } from "./helpers";

let cookie: string;
beforeAll(async () => {
  cookie = await login();
});

describe("the sessions index", () => {
  it("lists sessions newest activity first, pages with a cursor, and filters", async () => {
    const call = api(cookie);
    const { repositoryId, sessionId: first } = await createRepositoryAndSession(cookie);
    const second = (await call("POST", "/api/sessions", { repositoryId, title: "Fix the flaky login test" })).json.session.id;
    const third = (await call("POST", "/api/sessions", { repositoryId, title: "Add dark mode" })).json.session.id;

    const page1 = await call("GET", `/api/sessions?repositoryId=${repositoryId}&limit=2`);
    expect(page1.status).toBe(200);
    expect(page1.json.sessions.map((s: { id: string }) => s.id)).toEqual([third, second]);
    const page2 = await call("GET", `/api/sessions?repositoryId=${repositoryId}&limit=2&cursor=${page1.json.nextCursor}`);
    expect(page2.json.sessions.map((s: { id: string }) => s.id)).toEqual([first]);
    expect(page2.json.nextCursor).toBeNull();

    const search = await call("GET", `/api/sessions?q=${encodeURIComponent("flaky login")}`);
    expect(search.json.sessions.map((s: { id: string }) => s.id)).toEqual([second]);
    const bad = await call("GET", "/api/sessions?cursor=not-a-cursor");
    expect(bad.status).toBe(422);
    expect((await call("GET", "/api/sessions?status=bogus")).json.error.code).toBe("VALIDATION_FAILED");
  });

  it("follows each session's status, activity and archive state", async () => {
    const call = api(cookie);
    const { sessionId } = await createRepositoryAndSession(cookie);
    await call("POST", `/api/sessions/${sessionId}/prompts`, { requestId: "go", text: "go" });
    // The session wrote through to D1 when its status changed.
    const row = await env.DB.prepare("SELECT status, archived FROM sessions WHERE id = ?")
      .bind(sessionId)
      .first<{ status: string; archived: number }>();
    expect(row).toEqual({ status: "starting", archived: 0 });

    const archived = await call("POST", `/api/sessions/${sessionId}/archive`);
    expect(archived.json.session.archived).toBe(true);
    const active = await call("GET", "/api/sessions?limit=100");
    expect(active.json.sessions.some((s: { id: string }) => s.id === sessionId)).toBe(false);
    const archivedList = await call("GET", "/api/sessions?archived=true&limit=100");
    expect(archivedList.json.sessions.find((s: { id: string }) => s.id === sessionId)).toMatchObject({ archived: true });
    // Archiving keeps everything: the history is still there, and prompts are refused until unarchived.
    const events = await call("GET", `/api/sessions/${sessionId}/events`);
    expect(events.json.events.map((e: { payload: { type: string } }) => e.payload.type)).toContain("session.archived");
    expect((await call("POST", `/api/sessions/${sessionId}/prompts`, { requestId: "later", text: "more" })).json.error.code).toBe(
      "SESSION_ARCHIVED",
    );
    await call("POST", `/api/sessions/${sessionId}/unarchive`);
    expect((await call("POST", `/api/sessions/${sessionId}/prompts`, { requestId: "later", text: "more" })).status).toBe(202);
  });

  it("creates one session for a retried request id", async () => {
    const call = api(cookie);
    const { repositoryId } = await createRepositoryAndSession(cookie);
    const body = { repositoryId, prompt: "Refactor the parser", requestId: "create-once" };
    const a = await call("POST", "/api/sessions", body);
    const b = await call("POST", "/api/sessions", body);
    expect(b.json.session.id).toBe(a.json.session.id);
    expect((await call("GET", `/api/sessions/${a.json.session.id}`)).json.queue).toHaveLength(1);
  });

  it("renames a session, records who did it, and keeps the index in step", async () => {
    const call = api(cookie);
    const { sessionId } = await createRepositoryAndSession(cookie);
    expect((await call("PATCH", `/api/sessions/${sessionId}`, { title: "  " })).json.error.code).toBe("VALIDATION_FAILED");
    const renamed = await call("PATCH", `/api/sessions/${sessionId}`, { title: "Speed up the build" });
    expect(renamed.json.session.title).toBe("Speed up the build");
    const detail = (await call("GET", `/api/sessions/${sessionId}`)).json;
    expect(detail.role).toBe("owner");
    expect(detail.session.repositoryName).toMatch(/^demo-/);
    const listed = (await call("GET", `/api/sessions?q=${encodeURIComponent("Speed up")}`)).json.sessions;
    expect(listed.map((s: { id: string }) => s.id)).toEqual([sessionId]);
    const events = (await call("GET", `/api/sessions/${sessionId}/events`)).json.events;
    expect(events.at(-1).payload).toMatchObject({ type: "session.title", title: "Speed up the build", by: { userId: "admin" } });
  });

  it("answers unknown sessions with SESSION_NOT_FOUND without creating anything", async () => {
    const call = api(cookie);
    for (const path of ["/api/sessions/ses_missing", "/api/sessions/ses_missing/events", "/api/sessions/..%2F..%2Fetc"]) {
      const response = await call("GET", path);
      expect(response.status).toBe(404);
    }
    expect((await call("POST", "/api/sessions/ses_missing/prompts", { requestId: "x", text: "y" })).json.error.code).toBe(
      "SESSION_NOT_FOUND",
    );
  });
});
