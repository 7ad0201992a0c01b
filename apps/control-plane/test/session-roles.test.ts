import { describe, expect, it } from "vitest";
import { api, createRepositoryAndSession, login, subscribe } from "./helpers";
import { memberCookie } from "./support/auth";

/** What a person can see of a session, to compare before and after a refused action. */
async function visible(cookie: string, sessionId: string) {
  const call = api(cookie);
  const detail = (await call("GET", `/api/sessions/${sessionId}`)).json;
  const events = (await call("GET", `/api/sessions/${sessionId}/events?after=0`)).json.events;
  const participants = (await call("GET", `/api/sessions/${sessionId}/participants`)).json.participants;
  return {
    title: detail.session.title,
    archived: detail.session.archived,
    queue: detail.queue,
    latestSeq: detail.latestSeq,
    events,
    participants,
  };
}

describe("session roles", () => {
  it("a viewer is refused over REST and over the socket alike, and nothing changes", async () => {
    const owner = await login();
    const { sessionId } = await createRepositoryAndSession(owner);
    const viewer = await memberCookie("viewer-1");
    const made = await api(owner)("PUT", `/api/sessions/${sessionId}/participants/viewer-1`, { role: "viewer" });
    expect(made.status).toBe(200);
    expect(made.json.participants).toContainEqual(
      expect.objectContaining({ role: "viewer", participant: expect.objectContaining({ userId: "viewer-1" }) }),
    );

    const call = api(viewer);
    const before = await visible(owner, sessionId);
    const refusals = [
      await call("POST", `/api/sessions/${sessionId}/prompts`, { text: "let me steer", requestId: "viewer-try-1" }),
      await call("POST", `/api/sessions/${sessionId}/stop`),
      await call("PATCH", `/api/sessions/${sessionId}`, { title: "Mine now" }),
      await call("POST", `/api/sessions/${sessionId}/archive`),
      await call("PUT", `/api/sessions/${sessionId}/participants/viewer-1`, { role: "member" }),
    ];
    expect(refusals.map((refusal) => [refusal.status, refusal.json.error.code])).toEqual(Array(5).fill([403, "FORBIDDEN"]));

    const socket = await subscribe(viewer, sessionId);
    socket.send({ type: "prompt.send", requestId: "viewer-try-2", text: "let me steer" });
    const error = await socket.waitFor((message) => message.type === "error");
    expect(error).toMatchObject({ code: "FORBIDDEN", requestId: "viewer-try-2" });
    socket.close();
    expect(await visible(owner, sessionId)).toEqual(before);
  });

  it("only the owner changes roles, a member may steer, and an unknown user is refused", async () => {
    const owner = await login();
    const { sessionId } = await createRepositoryAndSession(owner);
    const member = await memberCookie("member-2");
    const asMember = await api(member)("PUT", `/api/sessions/${sessionId}/participants/member-2`, { role: "viewer" });
    expect([asMember.status, asMember.json.error.code]).toEqual([403, "FORBIDDEN"]);
    const prompt = await api(member)("POST", `/api/sessions/${sessionId}/prompts`, { text: "a member steers", requestId: "member-1" });
    expect(prompt.status).toBe(202);
    const unknown = await api(owner)("PUT", `/api/sessions/${sessionId}/participants/nobody`, { role: "viewer" });
    expect([unknown.status, unknown.json.error.code]).toEqual([404, "USER_NOT_FOUND"]);
    const bad = await api(owner)("PUT", `/api/sessions/${sessionId}/participants/member-2`, { role: "owner" });
    expect([bad.status, bad.json.error.code]).toEqual([422, "VALIDATION_FAILED"]);
  });
});
