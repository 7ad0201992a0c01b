import { MemoryNonceStore, verifySignedRequest } from "@lookout/protocol";
import { describe, expect, it } from "vitest";
import { GatewayError, HttpSandboxGateway } from "../../src/session/gateway-client";

const BASE = "https://gateway.test";
const SECRET = "test-gateway-secret";

/** A gateway that answers every request with `status` and the raw `body`, keeping what it was sent. */
function answering(status: number, body: string | null): { fetcher: typeof fetch; sent: RequestInit[] } {
  const sent: RequestInit[] = [];
  const fetcher: typeof fetch = (_input, init) => {
    sent.push(init ?? {});
    return Promise.resolve(new Response(body, { status }));
  };
  return { fetcher, sent };
}

const refusal = (code: string, message: string) => JSON.stringify({ error: { code, message } });

/** The `GatewayError` a snapshot through `fetcher` fails with, signed with `SECRET` unless `secret` is given. */
async function snapshotFailure(
  fetcher: typeof fetch,
  { secret }: { secret: string | undefined } = { secret: SECRET },
): Promise<GatewayError> {
  const error: unknown = await new HttpSandboxGateway(BASE, secret, fetcher).snapshot("sbx-1").then(
    () => null,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof GatewayError)) throw new Error(`expected a GatewayError, got ${String(error)}`);
  return error;
}

describe("HttpSandboxGateway", () => {
  it("signs each call for the control plane and sends it with no timeout of its own", async () => {
    const nonces = new MemoryNonceStore();
    const sent: RequestInit[] = [];
    const verifying: typeof fetch = async (input, init) => {
      sent.push(init ?? {});
      const url = new URL(input instanceof Request ? input.url : input);
      const body = typeof init?.body === "string" ? init.body : "";
      const service = await verifySignedRequest(
        new Headers(init?.headers),
        { method: init?.method ?? "GET", pathAndQuery: url.pathname, body },
        { secrets: { "control-plane": SECRET }, nonces },
      );
      if (init?.method === "DELETE") return new Response(null, { status: 204 });
      return Response.json({ snapshotId: `snap-by-${service}` });
    };
    const gateway = new HttpSandboxGateway(BASE, SECRET, verifying);
    expect(await gateway.snapshot("sbx-1")).toBe("snap-by-control-plane");
    await gateway.terminate("sbx-1");
    expect(sent.map((init) => init.signal)).toEqual([undefined, undefined]);
  });

  it("deletes a replaced snapshot with a signed DELETE of the gateway's snapshot route, and reports a refusal", async () => {
    const paths: string[] = [];
    const nonces = new MemoryNonceStore();
    const verifying: typeof fetch = async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : input);
      paths.push(`${init?.method ?? "GET"} ${url.pathname}`);
      await verifySignedRequest(
        new Headers(init?.headers),
        { method: init?.method ?? "GET", pathAndQuery: url.pathname, body: "" },
        {
          secrets: { "control-plane": SECRET },
          nonces,
        },
      );
      return Response.json({ snapshotId: "snap_a.b" });
    };
    await new HttpSandboxGateway(BASE, SECRET, verifying).deleteSnapshot("snap_a.b");
    expect(paths).toEqual(["DELETE /v1/images/snapshots/snap_a.b"]);
    const refused = answering(409, refusal("CONFLICT", "A sandbox still runs from this snapshot."));
    const error: unknown = await new HttpSandboxGateway(BASE, SECRET, refused.fetcher)
      .deleteSnapshot("snap_1")
      .catch((thrown: unknown) => thrown);
    expect(error).toMatchObject({ transient: false, code: "CONFLICT" });
  });

  it("fails a call without the secret as SERVICE_NOT_CONFIGURED, not transient, sending nothing", async () => {
    const gateway = answering(200, "{}");
    const error = await snapshotFailure(gateway.fetcher, { secret: undefined });
    expect(error).toMatchObject({
      transient: false,
      code: "SERVICE_NOT_CONFIGURED",
      message: "GATEWAY_SERVICE_SECRET is not set, so sandboxes cannot be started.",
    });
    expect(gateway.sent).toHaveLength(0);
  });

  it("names an unreachable gateway GATEWAY_UNREACHABLE, transient, with its URL", async () => {
    const unreachable: typeof fetch = () => Promise.reject(new TypeError("connection refused"));
    expect(await snapshotFailure(unreachable)).toMatchObject({
      transient: true,
      code: "GATEWAY_UNREACHABLE",
      message: `The sandbox gateway at ${BASE} is unreachable: TypeError: connection refused`,
    });
  });

  it.each([
    { answer: "a transient provider failure", status: 503, code: "PROVIDER_TRANSIENT", transient: true },
    { answer: "a permanent provider failure, even as a 503", status: 503, code: "PROVIDER_PERMANENT", transient: false },
    { answer: "a rate limit", status: 429, code: "RATE_LIMITED", transient: true },
    { answer: "a transient code under a 4xx", status: 409, code: "SANDBOX_UNAVAILABLE", transient: true },
    { answer: "a bad request", status: 400, code: "BAD_REQUEST", transient: false },
    { answer: "an unknown sandbox", status: 404, code: "SANDBOX_NOT_FOUND", transient: false },
  ])("classifies $answer by the gateway's code and status: transient $transient", async ({ status, code, transient }) => {
    expect(await snapshotFailure(answering(status, refusal(code, "the gateway's words")).fetcher)).toMatchObject({
      transient,
      code,
      message: "the gateway's words",
    });
  });

  it.each([
    { status: 502, transient: true },
    { status: 429, transient: true },
    { status: 404, transient: false },
  ])("names a $status without a registry error HTTP_$status, transient $transient", async ({ status, transient }) => {
    const unregistered = answering(status, refusal("NOT_A_REGISTRY_CODE", "ignored")).fetcher;
    expect(await snapshotFailure(unregistered)).toMatchObject({
      transient,
      code: `HTTP_${status}`,
      message: `The gateway answered ${status}.`,
    });
    expect(await snapshotFailure(answering(status, "<html>proxy error</html>").fetcher)).toMatchObject({
      transient,
      code: `HTTP_${status}`,
    });
  });
});
