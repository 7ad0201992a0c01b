import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startWarmUpModel, WARM_UP_MODEL_ID, WARM_UP_REPLY, type WarmUpModel } from "./warm-up-model";

let warmUp: WarmUpModel;
beforeEach(async () => {
  warmUp = await startWarmUpModel();
});
afterEach(async () => {
  await warmUp.close();
});

function post(path: string, body: unknown, key = warmUp.provider.apiKey): Promise<Response> {
  return fetch(`${warmUp.provider.baseUrl!.replace(/\/v1$/, "")}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

describe("the warm-up model", () => {
  it("is an OpenAI-compatible provider on loopback with a key of its own", () => {
    expect(warmUp.provider).toMatchObject({ kind: "openai-compatible", models: [WARM_UP_MODEL_ID] });
    expect(warmUp.provider.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    expect(warmUp.provider.apiKey?.length).toBeGreaterThanOrEqual(32);
  });

  it("streams a reply of its own, with no tool call, and ends the stream", async () => {
    const response = await post("/v1/chat/completions", { model: WARM_UP_MODEL_ID, stream: true, messages: [] });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    const events = (await response.text()).split("\n\n").filter(Boolean);
    expect(events.at(-1)).toBe("data: [DONE]");
    const chunks = events
      .slice(0, -1)
      .map((event) => JSON.parse(event.replace(/^data: /, "")) as { choices: { delta: object; finish_reason: string | null }[] });
    expect(chunks.map((chunk) => chunk.choices[0]!.delta)).toEqual([{ role: "assistant", content: WARM_UP_REPLY }, {}]);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe("stop");
    expect(JSON.stringify(chunks)).not.toContain("tool_calls");
    expect(warmUp.completions()).toBe(1);
  });

  it("answers a request that does not stream with one message", async () => {
    const response = await post("/v1/chat/completions", { model: WARM_UP_MODEL_ID, messages: [] });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      choices: [{ message: { role: "assistant", content: WARM_UP_REPLY }, finish_reason: "stop" }],
    });
  });

  it("refuses a wrong key, another path and a body that is not JSON, and counts none of them", async () => {
    const wrongKey = await post("/v1/chat/completions", { stream: true }, "not-the-key");
    expect(wrongKey.status).toBe(401);
    expect(await wrongKey.json()).toMatchObject({ error: { message: expect.stringContaining("key") } });
    expect((await post("/v1/embeddings", {})).status).toBe(404);
    expect((await post("/v1/chat/completions", "{not json")).status).toBe(400);
    expect(warmUp.completions()).toBe(0);
  });
});
