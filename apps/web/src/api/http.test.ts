import { describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { ApiError } from "./api-error";
import { HttpClient, queryString } from "./http";

const json = (status: number, body: unknown) =>
  new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

describe("HttpClient", () => {
  it("sends JSON with cookies and validates the answer", async () => {
    const fetch = vi.fn(async () => json(200, { ok: true, extra: 1 }));
    const client = new HttpClient({ fetch });
    const result = await client.post("/api/x", { body: { a: 1 }, schema: z.object({ ok: z.boolean() }) });
    expect(result).toEqual({ ok: true });
    expect(fetch).toHaveBeenCalledWith("/api/x", expect.objectContaining({ method: "POST", credentials: "same-origin", body: '{"a":1}' }));
  });

  it("turns an error body into an ApiError carrying the server's message", async () => {
    const client = new HttpClient({
      fetch: async () => json(409, { error: { code: "NOTHING_RUNNING", message: "No prompt is running." } }),
    });
    await expect(client.post("/api/sessions/s/stop")).rejects.toMatchObject({
      status: 409,
      code: "NOTHING_RUNNING",
      message: "No prompt is running.",
    });
  });

  it("still explains an error without a standard body", async () => {
    const client = new HttpClient({ fetch: async () => new Response("<html>bad gateway</html>", { status: 502 }) });
    const error = await client.get("/api/x").catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).message).toContain("502");
  });

  it("tells listeners about a 401", async () => {
    const client = new HttpClient({ fetch: async () => json(401, { error: { code: "UNAUTHENTICATED", message: "Sign in first." } }) });
    const listener = vi.fn();
    client.onUnauthenticated(listener);
    await expect(client.get("/api/me")).rejects.toBeInstanceOf(ApiError);
    expect(listener).toHaveBeenCalledOnce();
  });

  it("reports a network failure as a transient error", async () => {
    const client = new HttpClient({
      fetch: async () => {
        throw new TypeError("Failed to fetch");
      },
    });
    const error = await client.get("/api/me").catch((caught: unknown) => caught);
    expect(error).toMatchObject({ status: 0, code: "NETWORK", isTransient: true });
  });

  it("rejects an answer that does not match the schema", async () => {
    const client = new HttpClient({ fetch: async () => json(200, { sessions: "nope" }) });
    await expect(client.get("/api/sessions", { schema: z.object({ sessions: z.array(z.string()) }) })).rejects.toMatchObject({
      code: "BAD_RESPONSE",
    });
  });

  it("returns nothing for 204", async () => {
    const client = new HttpClient({ fetch: async () => new Response(null, { status: 204 }) });
    await expect(client.delete("/api/secrets/A")).resolves.toBeUndefined();
  });

  it("builds query strings without empty values", () => {
    expect(queryString({ a: "1", b: undefined, c: "", d: false, e: 0 })).toBe("?a=1&d=false&e=0");
    expect(queryString({})).toBe("");
  });
});
