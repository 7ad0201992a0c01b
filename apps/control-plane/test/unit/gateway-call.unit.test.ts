import { MemoryNonceStore, verifySignedRequest } from "@lookout/protocol";
import { describe, expect, it } from "vitest";
import { type GatewayCall, type GatewayEndpoint, signedGatewayCall } from "../../src/gateway-call";

const BASE = "https://gateway.test";
const SECRET = "test-gateway-secret";
const CALL: GatewayCall = {
  method: "POST",
  path: "/v1/thing",
  body: { n: 1 },
  unconfigured: "the thing cannot be done",
  otherwise: "INTERNAL",
};

/** A gateway that answers every request with `status` and `body`, keeping what it was sent. */
function answering(status: number, body: unknown): { fetcher: typeof fetch; sent: RequestInit[] } {
  const sent: RequestInit[] = [];
  const fetcher: typeof fetch = (_input, init) => {
    sent.push(init ?? {});
    return Promise.resolve(Response.json(body, { status }));
  };
  return { fetcher, sent };
}

/** A gateway that never answers: the request ends only when its signal aborts. */
const hangsUp: typeof fetch = (_input, init) =>
  new Promise((_resolve, reject) => {
    const abandon = () => reject(new DOMException("The wait was abandoned.", "AbortError"));
    if (init?.signal?.aborted) abandon();
    init?.signal?.addEventListener("abort", abandon);
  });

const at = (fetcher: typeof fetch): GatewayEndpoint => ({ baseUrl: BASE, secret: SECRET, fetcher });

describe("signedGatewayCall", () => {
  it("sends the body as JSON, signed for the control plane, and returns the answer", async () => {
    const nonces = new MemoryNonceStore();
    let service: string | undefined;
    const verifying: typeof fetch = async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : input);
      const body = typeof init?.body === "string" ? init.body : "";
      service = await verifySignedRequest(
        new Headers(init?.headers),
        { method: init?.method ?? "GET", pathAndQuery: url.pathname, body },
        { secrets: { "control-plane": SECRET }, nonces },
      );
      return Response.json({ echoed: JSON.parse(body) as unknown, url: url.href });
    };
    expect(await signedGatewayCall(at(verifying), CALL)).toEqual({ echoed: { n: 1 }, url: `${BASE}/v1/thing` });
    expect(service).toBe("control-plane");
  });

  it("fails closed without the secret, in the client's words, sending nothing", async () => {
    const gateway = answering(200, {});
    await expect(signedGatewayCall({ baseUrl: BASE, secret: undefined, fetcher: gateway.fetcher }, CALL)).rejects.toMatchObject({
      code: "SERVICE_NOT_CONFIGURED",
      message: "GATEWAY_SERVICE_SECRET is not set, so the thing cannot be done.",
    });
    expect(gateway.sent).toHaveLength(0);
  });

  it("passes the gateway's registry error on with its details, and names any other refusal by the client's code", async () => {
    const conflict = { error: { code: "MERGE_CONFLICT", message: "conflicts in README.md", details: { files: ["README.md"] } } };
    await expect(signedGatewayCall(at(answering(409, conflict).fetcher), CALL)).rejects.toMatchObject({
      code: "MERGE_CONFLICT",
      message: "conflicts in README.md",
      details: { files: ["README.md"] },
    });
    await expect(
      signedGatewayCall(at(answering(502, "<html>bad gateway</html>").fetcher), { ...CALL, otherwise: "SANDBOX_UNAVAILABLE" }),
    ).rejects.toMatchObject({ code: "SANDBOX_UNAVAILABLE", message: "The gateway answered 502." });
  });

  it("answers null for a status the client expects to be absent", async () => {
    const missing = answering(404, { error: { code: "NOT_FOUND", message: "no such build" } });
    expect(await signedGatewayCall(at(missing.fetcher), { ...CALL, absentOn: [404] })).toBeNull();
    await expect(signedGatewayCall(at(missing.fetcher), CALL)).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("names an unreachable gateway SANDBOX_UNAVAILABLE, with its URL unless the client leaves it out", async () => {
    const unreachable: typeof fetch = () => Promise.reject(new TypeError("connection refused"));
    await expect(signedGatewayCall(at(unreachable), CALL)).rejects.toMatchObject({
      code: "SANDBOX_UNAVAILABLE",
      message: `The sandbox gateway at ${BASE} is unreachable: TypeError: connection refused`,
    });
    await expect(signedGatewayCall(at(unreachable), { ...CALL, omitUrl: true })).rejects.toMatchObject({
      code: "SANDBOX_UNAVAILABLE",
      message: "The sandbox gateway is unreachable: TypeError: connection refused",
    });
  });

  it("bounds a call by its own timeout, by default and as the client sets it, and leaves it unbounded on null", async () => {
    const bounded = answering(200, {});
    await signedGatewayCall(at(bounded.fetcher), CALL);
    expect(bounded.sent[0]?.signal).toBeInstanceOf(AbortSignal);
    expect(bounded.sent[0]?.signal?.aborted).toBe(false);

    await expect(signedGatewayCall(at(hangsUp), { ...CALL, timeoutMs: 20 })).rejects.toMatchObject({ code: "SANDBOX_UNAVAILABLE" });

    const unbounded = answering(200, {});
    await signedGatewayCall(at(unbounded.fetcher), { ...CALL, timeoutMs: null });
    expect(unbounded.sent[0]?.signal).toBeUndefined();
  });

  it("combines the caller's deadline with the call's timeout: the caller's ending throws the client's error, the timeout's SANDBOX_UNAVAILABLE", async () => {
    const controller = new AbortController();
    const abandon = { signal: controller.signal, code: "MODEL_TIMEOUT", message: "The model did not answer in time." } as const;
    const waiting = signedGatewayCall(at(hangsUp), { ...CALL, abandon });
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ code: "MODEL_TIMEOUT", message: "The model did not answer in time." });

    const patient = new AbortController();
    await expect(
      signedGatewayCall(at(hangsUp), { ...CALL, timeoutMs: 20, abandon: { ...abandon, signal: patient.signal } }),
    ).rejects.toMatchObject({ code: "SANDBOX_UNAVAILABLE" });
    expect(patient.signal.aborted).toBe(false);
  });
});
