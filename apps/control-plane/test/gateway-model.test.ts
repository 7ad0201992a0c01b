import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { GatewayModel } from "../src/gateway-model";
import { FAKE_MODEL_DEFAULT_ANSWER, GATEWAY_SECRET } from "./fake-gateway";

const BASE = "https://gateway.test";
const ASK = { system: "Answer with JSON only.", user: "Which one?", maxTokens: 50 };

/** The fake gateway behind the `GATEWAY` binding, counting the requests that reach it. */
function bound(): { fetcher: typeof fetch; sent: () => number } {
  let sent = 0;
  return {
    fetcher: (input, init) => {
      sent += 1;
      return env.GATEWAY!.fetch(input, init);
    },
    sent: () => sent,
  };
}

/** A gateway that answers every request with `status` and `body`. */
const answering =
  (status: number, body: unknown): typeof fetch =>
  () =>
    Promise.resolve(Response.json(body, { status }));

describe("the control plane's client of the gateway's model", () => {
  it("sends a signed request the gateway verifies, and returns its answer", async () => {
    const gateway = bound();
    expect(await new GatewayModel(BASE, GATEWAY_SECRET, gateway.fetcher).complete(ASK)).toEqual({
      text: FAKE_MODEL_DEFAULT_ANSWER,
      model: "fake/small",
    });
  });

  it("fails closed without GATEWAY_SERVICE_SECRET, sending nothing", async () => {
    const gateway = bound();
    await expect(new GatewayModel(BASE, undefined, gateway.fetcher).complete(ASK)).rejects.toMatchObject({
      code: "SERVICE_NOT_CONFIGURED",
      message: expect.stringContaining("GATEWAY_SERVICE_SECRET"),
    });
    expect(gateway.sent()).toBe(0);
  });

  it("passes the gateway's registry errors on as the same codes", async () => {
    await expect(new GatewayModel(BASE, "not-the-secret", bound().fetcher).complete(ASK)).rejects.toMatchObject({
      code: "INVALID_SIGNATURE",
    });
    const unconfigured = answering(503, { error: { code: "MODEL_NOT_CONFIGURED", message: "set LOOKOUT_SMALL_MODEL" } });
    await expect(new GatewayModel(BASE, GATEWAY_SECRET, unconfigured).complete(ASK)).rejects.toMatchObject({
      code: "MODEL_NOT_CONFIGURED",
      message: "set LOOKOUT_SMALL_MODEL",
    });
    await expect(new GatewayModel(BASE, GATEWAY_SECRET, answering(502, "<html>bad gateway</html>")).complete(ASK)).rejects.toMatchObject({
      code: "INTERNAL",
    });
  });

  it("refuses an answer of the wrong shape", async () => {
    await expect(new GatewayModel(BASE, GATEWAY_SECRET, answering(200, { text: 42 })).complete(ASK)).rejects.toMatchObject({
      code: "MODEL_OUTPUT_INVALID",
    });
  });

  it("names an abandoned wait MODEL_TIMEOUT and an unreachable gateway SANDBOX_UNAVAILABLE", async () => {
    const hangsUp: typeof fetch = (_input, init) =>
      new Promise((_resolve, reject) => {
        const abandon = () => reject(new DOMException("The wait was abandoned.", "AbortError"));
        if (init?.signal?.aborted) abandon();
        init?.signal?.addEventListener("abort", abandon);
      });
    const controller = new AbortController();
    const waiting = new GatewayModel(BASE, GATEWAY_SECRET, hangsUp).complete(ASK, controller.signal);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ code: "MODEL_TIMEOUT" });
    const unreachable: typeof fetch = () => Promise.reject(new TypeError("connection refused"));
    await expect(new GatewayModel(BASE, GATEWAY_SECRET, unreachable).complete(ASK)).rejects.toMatchObject({ code: "SANDBOX_UNAVAILABLE" });
  });
});
