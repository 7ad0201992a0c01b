import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { SessionIndexStore } from "../src/db/sessions-index";
import { api, login } from "./helpers";
import { call, signedInit } from "./support/auth";
import { createRepository } from "./support/automations";

describe("a session's origin", () => {
  it("is the dashboard for a person's browser and the API for a signed service, in the index and the session", async () => {
    const cookie = await login();
    const repositoryId = await createRepository(cookie);
    const fromBrowser = await api(cookie)("POST", "/api/sessions", { repositoryId });
    expect(fromBrowser.json.session.origin).toEqual({ kind: "dashboard" });
    expect((await api(cookie)("GET", `/api/sessions/${fromBrowser.json.session.id}`)).json.session.origin).toEqual({ kind: "dashboard" });

    const body = JSON.stringify({ repositoryId });
    const fromService = await call(
      "/api/sessions",
      await signedInit("POST", "/api/sessions", { body, actor: { userId: "admin", name: "Admin" } }),
    );
    expect(fromService.status).toBe(201);
    const { session } = await fromService.json<{ session: { id: string } }>();
    expect((await new SessionIndexStore(env.DB).get(session.id))?.origin).toEqual({ kind: "api" });
    expect((await new SessionIndexStore(env.DB).get(session.id))?.reportError).toBeNull();
  });
});
