import {
  CreateSandboxRequest,
  MemoryNonceStore,
  ModelCompleteRequest,
  PoolTargetsRequest,
  type PoolState,
  verifySignedRequest,
} from "@lookout/protocol";

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
  /** `/v1/git/*`: what compare answers (null: the branch is not pushed) and whether merges conflict. */
  git: { review: unknown; mergeConflict: boolean; calls: { path: string; body: unknown }[] };
  /**
   * `/v1/model/complete`: each request is recorded; the first rule whose `contains` is in the user
   * text gives the answer, else the model names no repository (so the classifier is unsure).
   */
  model: { rules: { contains: string; answer: string }[]; calls: ModelCompleteRequest[] };
  /** `/v1/pool`: the last targets pushed (null before any push); its state reports each target's size as warm. */
  pool: { targets: PoolTargetsRequest | null; pushes: number };
  /** `DELETE /v1/images/snapshots/:id`: the snapshots deleted, and ids whose next deletion fails (503). */
  snapshotDeletes: { deleted: string[]; failNext: string[] };
}

/** What the fake's small model answers when no rule applies. */
export const FAKE_MODEL_DEFAULT_ANSWER = '{"repository": null, "confidence": 0}';

const state: FakeState = {
  created: [],
  terminated: [],
  snapshots: [],
  failNext: [],
  git: { review: null, mergeConflict: false, calls: [] },
  model: { rules: [], calls: [] },
  pool: { targets: null, pushes: 0 },
  snapshotDeletes: { deleted: [], failNext: [] },
};
const nonces = new MemoryNonceStore();

export async function fakeGateway(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (url.pathname === "/__fake/state") return Response.json(state);
  if (url.pathname === "/__fake/fail" && request.method === "POST") {
    const { kinds } = await request.json<{ kinds: ("transient" | "permanent")[] }>();
    state.failNext.push(...kinds);
    return Response.json({ ok: true });
  }
  if (url.pathname === "/__fake/git" && request.method === "POST") {
    const patch = await request.json<Partial<FakeState["git"]>>();
    state.git = { ...state.git, ...patch };
    return Response.json({ ok: true });
  }
  if (url.pathname === "/__fake/snapshot-delete-failure" && request.method === "POST") {
    const { snapshotId } = await request.json<{ snapshotId: string }>();
    state.snapshotDeletes.failNext.push(snapshotId);
    return Response.json({ ok: true });
  }
  if (url.pathname === "/__fake/model" && request.method === "POST") {
    state.model.rules.push(await request.json<{ contains: string; answer: string }>());
    return Response.json({ ok: true });
  }
  const body = new Uint8Array(await request.arrayBuffer());
  try {
    await verifySignedRequest(
      request.headers,
      { method: request.method, pathAndQuery: url.pathname + url.search, body },
      {
        secrets: { "control-plane": GATEWAY_SECRET },
        nonces,
      },
    );
  } catch (error) {
    return Response.json({ error: { code: "INVALID_SIGNATURE", message: String(error) } }, { status: 401 });
  }
  if (url.pathname.startsWith("/v1/git/")) {
    const input = JSON.parse(new TextDecoder().decode(body)) as Record<string, unknown>;
    state.git.calls.push({ path: url.pathname, body: input });
    if (url.pathname === "/v1/git/check") {
      // Like the real gateway's roots: system directories are never repositories.
      const path = String(input.repositoryPath);
      if (/^\/(etc|proc|sys|dev)(\/|$)/.test(path))
        return Response.json({ error: { code: "FORBIDDEN", message: `${path} is a system directory.` } }, { status: 403 });
      return Response.json({ repositoryPath: path });
    }
    if (url.pathname === "/v1/git/branches") return Response.json({ branches: [{ name: "main", sha: "1".repeat(40) }] });
    if (url.pathname === "/v1/git/compare") {
      if (!state.git.review) return Response.json({ error: { code: "BRANCH_NOT_PUSHED", message: "not pushed" } }, { status: 409 });
      return Response.json(state.git.review);
    }
    if (url.pathname === "/v1/git/merge") {
      if (state.git.mergeConflict)
        return Response.json(
          { error: { code: "MERGE_CONFLICT", message: "conflicts in README.md", details: { files: ["README.md"] } } },
          { status: 409 },
        );
      return Response.json({ mergeSha: "9".repeat(40), baseSha: "1".repeat(40) });
    }
  }
  if (url.pathname === "/v1/pool/targets" && request.method === "PUT") {
    state.pool = { targets: PoolTargetsRequest.parse(JSON.parse(new TextDecoder().decode(body))), pushes: state.pool.pushes + 1 };
    return Response.json({ ok: true });
  }
  if (url.pathname === "/v1/pool" && request.method === "GET") {
    const targets = state.pool.targets?.targets ?? [];
    const pool: PoolState = {
      repositories: targets.map((target) => ({
        repositoryKey: target.repositoryKey,
        repository: target.repository,
        baseBranch: target.baseBranch,
        size: target.size,
        warm: target.size,
        starting: 0,
        refreshing: 0,
        claimed: 0,
        entries: [],
      })),
      capacity: { running: targets.reduce((sum, target) => sum + target.size, 0), max: 32 },
      idleLimitMs: 1_800_000,
    };
    return Response.json(pool);
  }
  const snapshotDelete = /^\/v1\/images\/snapshots\/([^/]+)$/.exec(url.pathname);
  if (snapshotDelete && request.method === "DELETE") {
    const snapshotId = decodeURIComponent(snapshotDelete[1]!);
    const failing = state.snapshotDeletes.failNext.indexOf(snapshotId);
    if (failing >= 0) {
      state.snapshotDeletes.failNext.splice(failing, 1);
      return Response.json({ error: { code: "PROVIDER_TRANSIENT", message: "the provider is unavailable" } }, { status: 503 });
    }
    state.snapshotDeletes.deleted.push(snapshotId);
    return Response.json({ snapshotId });
  }
  if (url.pathname === "/v1/model/complete" && request.method === "POST") {
    const ask = ModelCompleteRequest.parse(JSON.parse(new TextDecoder().decode(body)));
    state.model.calls.push(ask);
    const rule = state.model.rules.find((candidate) => ask.user.includes(candidate.contains));
    return Response.json({ text: rule?.answer ?? FAKE_MODEL_DEFAULT_ANSWER, model: "fake/small" });
  }
  if (url.pathname === "/v1/sandboxes" && request.method === "POST") {
    const failure = state.failNext.shift();
    if (failure === "transient") return Response.json({ error: { code: "PROVIDER_TRANSIENT", message: "capacity" } }, { status: 503 });
    if (failure === "permanent") return Response.json({ error: { code: "PROVIDER_PERMANENT", message: "bad image" } }, { status: 502 });
    const create = CreateSandboxRequest.parse(JSON.parse(new TextDecoder().decode(body)));
    state.created.push(create);
    return Response.json(
      { sandboxId: create.sandboxId, provider: "fake", providerId: `fake-${create.sandboxId}`, status: "starting" },
      { status: 201 },
    );
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
