import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SANDBOX_TOKEN_API_KEY, type ModelProviderConfig } from "@lookout/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "./logger";
import { startModelRelay, type ModelRelay } from "./model-relay";

const TOKEN = "sandbox-token-for-the-relay-test";
const closers: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** A stand-in for the gateway's model proxy: records what arrives, streams an answer in parts. */
async function fakeProxy(): Promise<{ url: string; seen: Array<{ path: string; headers: IncomingHttpHeaders; body: string }> }> {
  const seen: Array<{ path: string; headers: IncomingHttpHeaders; body: string }> = [];
  const server: Server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
    request.on("end", () => {
      seen.push({ path: request.url ?? "", headers: request.headers, body });
      response.writeHead(200, { "content-type": "text/event-stream", connection: "keep-alive" });
      response.write("data: one\n\n");
      response.end("data: two\n\n");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(
    () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/model-proxy`, seen };
}

async function relayFor(providers: ModelProviderConfig[]): Promise<ModelRelay> {
  const relay = await startModelRelay({ providers, sandboxToken: TOKEN, logger: silentLogger });
  closers.push(() => relay.close());
  return relay;
}

describe("the model relay", () => {
  it("configures OpenCode with its own key, never the sandbox token, and adds the token on the way out", async () => {
    const proxy = await fakeProxy();
    const relay = await relayFor([
      { id: "anthropic", kind: "anthropic", baseUrl: `${proxy.url}/anthropic`, apiKey: SANDBOX_TOKEN_API_KEY, models: ["claude"] },
      { id: "openai", kind: "openai", baseUrl: `${proxy.url}/openai/`, apiKey: TOKEN, models: ["gpt"] },
      { id: "scripted", kind: "openai-compatible", baseUrl: "http://127.0.0.1:9/v1", apiKey: "offline", models: ["demo"] },
    ]);
    expect(JSON.stringify(relay.providers)).not.toContain(TOKEN);
    expect(JSON.stringify(relay.providers)).not.toContain(SANDBOX_TOKEN_API_KEY);
    const [anthropic, openai, scripted] = relay.providers;
    expect(anthropic?.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/anthropic$/);
    expect(openai?.apiKey).toBe(anthropic?.apiKey);
    expect(scripted).toEqual({
      id: "scripted",
      kind: "openai-compatible",
      baseUrl: "http://127.0.0.1:9/v1",
      apiKey: "offline",
      models: ["demo"],
    });

    const streamed = await fetch(`${anthropic?.baseUrl}/messages?beta=true`, {
      method: "POST",
      headers: { "x-api-key": anthropic?.apiKey ?? "", "content-type": "application/json" },
      body: JSON.stringify({ model: "claude" }),
    });
    expect(streamed.status).toBe(200);
    expect(await streamed.text()).toBe("data: one\n\ndata: two\n\n");
    expect(proxy.seen[0]).toMatchObject({ path: "/model-proxy/anthropic/messages?beta=true", body: '{"model":"claude"}' });
    expect(proxy.seen[0]?.headers["x-api-key"]).toBe(TOKEN);
    expect(proxy.seen[0]?.headers.authorization).toBeUndefined();

    const bearer = await fetch(`${openai?.baseUrl}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${openai?.apiKey ?? ""}` },
      body: "{}",
    });
    expect(bearer.status).toBe(200);
    expect(proxy.seen[1]).toMatchObject({ path: "/model-proxy/openai/chat/completions" });
    expect(proxy.seen[1]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it("refuses callers without its key and providers it does not relay", async () => {
    const proxy = await fakeProxy();
    const relay = await relayFor([{ id: "anthropic", kind: "anthropic", baseUrl: proxy.url, apiKey: TOKEN, models: ["m"] }]);
    const base = relay.providers[0]?.baseUrl ?? "";
    const wrongKey = await fetch(`${base}/messages`, { method: "POST", headers: { "x-api-key": TOKEN } });
    expect([wrongKey.status, await wrongKey.json()]).toMatchObject([401, { error: { code: "INVALID_TOKEN" } }]);
    expect((await fetch(`${base}/messages`, { method: "POST" })).status).toBe(401);
    const other = base.replace(/\/anthropic$/, "/openai");
    const unrelayed = await fetch(`${other}/x`, { headers: { authorization: `Bearer ${relay.providers[0]?.apiKey ?? ""}` } });
    expect([unrelayed.status, await unrelayed.json()]).toMatchObject([404, { error: { code: "NOT_FOUND" } }]);
    expect(proxy.seen).toEqual([]);
  });

  it("listens on nothing when no provider uses the token, and refuses one with nowhere to send it", async () => {
    const providers: ModelProviderConfig[] = [
      { id: "scripted", kind: "openai-compatible", baseUrl: "http://127.0.0.1:9/v1", models: ["d"] },
    ];
    expect((await relayFor(providers)).providers).toEqual(providers);
    await expect(
      startModelRelay({
        providers: [{ id: "a", kind: "anthropic", apiKey: TOKEN, models: ["m"] }],
        sandboxToken: TOKEN,
        logger: silentLogger,
      }),
    ).rejects.toThrow(/no http\(s\) baseUrl/);
  });
});
