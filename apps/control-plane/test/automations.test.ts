import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { SessionIndexStore } from "../src/db/sessions-index";
import { api, login, sandboxRequestFor } from "./helpers";
import { memberCookie } from "./support/auth";
import { createAutomation, createRepository, rows } from "./support/automations";

describe("/api/automations", () => {
  it("creates, reads, lists, updates and deletes an automation, validating every field", async () => {
    const cookie = await login();
    const call = api(cookie);
    const created = await createAutomation(cookie, { trigger: { kind: "cron", expression: "0 9 * * 1-5", timeZone: "Europe/Berlin" } });
    expect(created).toMatchObject({ enabled: true, ownerId: "admin", triage: "follow-up", maxConcurrentRuns: 1, consecutiveFailures: 0 });
    expect(created.nextRunAt).toBeGreaterThan(Date.now());
    expect((await call("GET", `/api/automations/${created.id}`)).json.automation).toEqual(created);
    expect((await call("GET", "/api/automations")).json.automations.map((a: { id: string }) => a.id)).toContain(created.id);

    const changed = await call("PATCH", `/api/automations/${created.id}`, { name: "Weekly", trigger: { kind: "manual" } });
    expect(changed.status).toBe(200);
    expect(changed.json.automation).toMatchObject({ name: "Weekly", trigger: { kind: "manual" }, nextRunAt: null });

    // The repository stays while an automation uses it.
    const inUse = await call("DELETE", `/api/repositories/${created.repositoryId}`);
    expect({ status: inUse.status, code: inUse.json.error.code }).toEqual({ status: 409, code: "CONFLICT" });

    expect((await call("DELETE", `/api/automations/${created.id}`)).status).toBe(204);
    expect((await call("GET", `/api/automations/${created.id}`)).json.error.code).toBe("AUTOMATION_NOT_FOUND");
    expect((await call("DELETE", `/api/repositories/${created.repositoryId}`)).status).toBe(204);
  });

  it("refuses bad schedules, unknown repositories and malformed bodies with typed errors, storing nothing", async () => {
    const cookie = await login();
    const call = api(cookie);
    const repositoryId = await createRepository(cookie);
    const base = { name: "x", instructions: "do it", repositoryId };
    const before = (await rows("SELECT id FROM automations")).length;
    const cases: [unknown, number, string][] = [
      [{ ...base, trigger: { kind: "cron", expression: "61 * * * *" } }, 422, "INVALID_CRON"],
      [{ ...base, trigger: { kind: "cron", expression: "0 0 9 * * *" } }, 422, "VALIDATION_FAILED"],
      [{ ...base, trigger: { kind: "cron", expression: "*/5 * * * *" } }, 422, "CRON_TOO_FREQUENT"],
      [{ ...base, trigger: { kind: "cron", expression: "0 9 * * *", timeZone: "Mars/Base" } }, 422, "INVALID_TIME_ZONE"],
      [{ ...base, repositoryId: "repo_missing", trigger: { kind: "manual" } }, 404, "REPOSITORY_NOT_FOUND"],
      [{ ...base, trigger: { kind: "manual" }, maxConcurrentRuns: 0 }, 422, "VALIDATION_FAILED"],
      [{ ...base, trigger: { kind: "telepathy" } }, 422, "VALIDATION_FAILED"],
      ["{not json", 400, "INVALID_JSON"],
    ];
    for (const [body, status, code] of cases) {
      const response = await call("POST", "/api/automations", body);
      expect({ status: response.status, code: response.json.error.code }).toEqual({ status, code });
    }
    expect((await rows("SELECT id FROM automations")).length).toBe(before);
  });

  it("lets members read but only the owner or an admin change, pause, run or delete", async () => {
    const admin = await login();
    const owned = await createAutomation(admin);
    const member = api(await memberCookie("member-automations"));
    expect((await member("GET", `/api/automations/${owned.id}`)).status).toBe(200);
    for (const [method, path, body] of [
      ["PATCH", `/api/automations/${owned.id}`, { name: "mine now" }],
      ["POST", `/api/automations/${owned.id}/pause`, undefined],
      ["POST", `/api/automations/${owned.id}/run`, undefined],
      ["DELETE", `/api/automations/${owned.id}`, undefined],
    ] as const) {
      const response = await member(method, path, body);
      expect({ path, status: response.status, code: response.json.error.code }).toEqual({ path, status: 403, code: "FORBIDDEN" });
    }
    expect((await api(admin)("GET", `/api/automations/${owned.id}`)).json.automation).toEqual(owned);

    // A member owns what they create, and an admin may still change it.
    const theirs = await createAutomation(await memberCookie("member-automations"), { repositoryId: owned.repositoryId });
    expect(theirs.ownerId).toBe("member-automations");
    expect((await member("POST", `/api/automations/${theirs.id}/pause`)).json.automation.enabled).toBe(false);
    expect((await api(admin)("POST", `/api/automations/${theirs.id}/resume`)).json.automation.enabled).toBe(true);
  });

  it("runs now: starts a session whose origin names the run, and lists it in the run history", async () => {
    const cookie = await login();
    const call = api(cookie);
    const automation = await createAutomation(cookie, { model: "scripted/demo" });
    const ran = await call("POST", `/api/automations/${automation.id}/run`, { requestId: "click-1" });
    expect(ran.status).toBe(201);
    expect(ran.json).toMatchObject({ status: "started", run: { status: "running", trigger: "manual", followUp: false } });
    const sessionId = ran.json.run.sessionId as string;
    const summary = await new SessionIndexStore(env.DB).get(sessionId);
    expect(summary?.origin).toEqual({ kind: "automation", automationId: automation.id, runId: ran.json.run.id, trigger: "manual" });
    expect(summary?.title).toBe(automation.name);
    // The session object holds the same origin: it is what it reports its outcomes to.
    expect((await call("GET", `/api/sessions/${sessionId}`)).json.session.origin).toEqual(summary?.origin);
    await sandboxRequestFor(sessionId);

    // The same click again is the same run, not a second session.
    const again = await call("POST", `/api/automations/${automation.id}/run`, { requestId: "click-1" });
    expect(again.json).toMatchObject({ status: "replayed", run: null });

    const history = await call("GET", `/api/automations/${automation.id}/runs`);
    expect(history.json.runs).toHaveLength(1);
    expect(history.json.runs[0]).toMatchObject({ id: ran.json.run.id, sessionId, status: "running" });

    // A paused automation runs nothing until resumed.
    await call("POST", `/api/automations/${automation.id}/pause`);
    const refused = await call("POST", `/api/automations/${automation.id}/run`);
    expect({ status: refused.status, code: refused.json.error.code }).toEqual({ status: 409, code: "AUTOMATION_PAUSED" });
  });

  it("pages the run history newest first", async () => {
    const cookie = await login();
    const call = api(cookie);
    const automation = await createAutomation(cookie, { maxConcurrentRuns: 1 });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await call("POST", `/api/automations/${automation.id}/run`)).json.run.id);
    const first = await call("GET", `/api/automations/${automation.id}/runs?limit=2`);
    expect(first.json.runs.map((r: { id: string }) => r.id)).toEqual([ids[2], ids[1]]);
    // The second and third overlapped the first and were skipped, saying why.
    expect(first.json.runs[0]).toMatchObject({ status: "skipped", reason: expect.stringContaining("overlap") });
    const second = await call("GET", `/api/automations/${automation.id}/runs?limit=2&before=${first.json.nextBefore}`);
    expect(second.json).toEqual({ runs: [expect.objectContaining({ id: ids[0], status: "running" })], nextBefore: null });
  });

  it("previews a schedule's next runs in its time zone", async () => {
    const call = api(await login());
    const preview = await call("GET", "/api/automations/cron-preview?expression=0%209%20*%20*%20*&timeZone=America/New_York&count=3");
    expect(preview.status).toBe(200);
    expect(preview.json.nextRuns).toHaveLength(3);
    expect(preview.json.nextRunsLocal.every((local: string) => /T09:00:00-0[45]:00$/.test(local))).toBe(true);
    const tooOften = await call("GET", "/api/automations/cron-preview?expression=*%20*%20*%20*%20*");
    expect(tooOften.json.error.code).toBe("CRON_TOO_FREQUENT");
  });
});
