import { CreateSandboxRequest, MemoryNonceStore, verifySignedRequest } from "@lookout/protocol";

/**
 * A fake sandbox gateway for the workerd tests, bound as the `GATEWAY` service. It verifies the
 * control plane's signatures like the real gateway, records what it was asked to start (including
 * the sandbox token, so a test can connect as that sandbox's bridge), and can be told to fail.
 * Tests reach its records through the same binding under `/__fake/*`.
 */
export const GATEWAY_SECRET = "test-gateway-secret";

interface FakeState {
  created: CreateSandboxRequest[];
  terminated: string[];
  snapshots: string[];
  failNext: ("transient" | "permanent")[];
}

const state: FakeState = { created: [], terminated: [], snapshots: [], failNext: [] };
const nonces = new MemoryNonceStore();

export async function fakeGateway(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (url.pathname === "/__fake/state") return Response.json(state);
  if (url.pathname === "/__fake/fail" && request.method === "POST") {
    const { kinds } = (await request.json()) as { kinds: ("transient" | "permanent")[] };
    state.failNext.push(...kinds);
    return Response.json({ ok: true });
  }
  const body = new Uint8Array(await request.arrayBuffer());
  try {
    await verifySignedRequest(request.headers, { method: request.method, pathAndQuery: url.pathname + url.search, body }, {
      secrets: { "control-plane": GATEWAY_SECRET },
      nonces,
    });
  } catch (error) {
    return Response.json({ error: { code: "INVALID_SIGNATURE", message: String(error) } }, { status: 401 });
  }
  if (url.pathname === "/v1/sandboxes" && request.method === "POST") {
    const failure = state.failNext.shift();
    if (failure === "transient") return Response.json({ error: { code: "PROVIDER_TRANSIENT", message: "capacity" } }, { status: 503 });
    if (failure === "permanent") return Response.json({ error: { code: "PROVIDER_PERMANENT", message: "bad image" } }, { status: 502 });
    const create = CreateSandboxRequest.parse(JSON.parse(new TextDecoder().decode(body)));
    state.created.push(create);
    return Response.json({ sandboxId: create.sandboxId, provider: "fake", providerId: `fake-${create.sandboxId}`, status: "starting" }, { status: 201 });
  }
  const snapshot = /^\/v1\/sandboxes\/([^/]+)\/snapshot$/.exec(url.pathname);
  if (snapshot && request.method === "POST") {
    state.snapshots.push(snapshot[1]!);
    return Response.json({ snapshotId: `snap-${snapshot[1]}` });
  }
  const terminate = /^\/v1\/sandboxes\/([^/]+)$/.exec(url.pathname);
  if (terminate && request.method === "DELETE") {
    state.terminated.push(terminate[1]!);
    return new Response(null, { status: 204 });
  }
  return Response.json({ error: { code: "NOT_FOUND", message: url.pathname } }, { status: 404 });
}
