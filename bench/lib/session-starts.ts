import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { type apiClient, SessionClient } from "@lookout/e2e";
import type { SessionEvent } from "@lookout/protocol";
import { z } from "zod";

/** How long one start may take before the run counts as failed. */
export const RUN_TIMEOUT_MS = 180_000;
/** How long a mode waits for the pool to hold a warm sandbox, or for an image build, before it is skipped. */
export const PREPARE_TIMEOUT_MS = 300_000;
const POLL_MS = 250;

export type Call = ReturnType<typeof apiClient>;

/** Prompt accepted → sandbox ready and → first streamed token, in ms. */
export interface Timing {
  readyMs: number;
  firstTokenMs: number;
  /** Where the sandbox came from, as the session's `connecting` step says. */
  source: "warm sandbox" | "image" | "clone or snapshot";
}

/** Waits for the sandbox to be ready and the first token after `afterSeq`, timing both from `acceptedAt`. */
export async function timeStart(client: SessionClient, acceptedAt: number, afterSeq = 0): Promise<Timing> {
  const arrivals = new Map<number, number>();
  const stamp = () => {
    for (const event of client.events()) if (!arrivals.has(event.seq)) arrivals.set(event.seq, performance.now());
  };
  const newer = (predicate: (event: SessionEvent) => boolean) => (event: SessionEvent) => {
    stamp();
    return event.seq > afterSeq && predicate(event);
  };
  const ready = await client.waitForEvent(
    newer((e) => e.payload.type === "sandbox.status" && e.payload.status === "ready"),
    RUN_TIMEOUT_MS,
    "the sandbox to be ready",
  );
  const token = await client.waitForEvent(
    newer((e) => e.payload.type === "message.text" && e.payload.text.length > 0),
    RUN_TIMEOUT_MS,
    "the first token",
  );
  stamp();
  const connecting = client
    .events()
    .filter((e) => e.seq > afterSeq && e.payload.type === "sandbox.status" && e.payload.status === "connecting")
    .at(-1);
  const detail = connecting?.payload.type === "sandbox.status" ? (connecting.payload.detail ?? "") : "";
  const source = /warm sandbox/i.test(detail) ? "warm sandbox" : /image/i.test(detail) ? "image" : "clone or snapshot";
  return { readyMs: arrivals.get(ready.seq)! - acceptedAt, firstTokenMs: arrivals.get(token.seq)! - acceptedAt, source };
}

/** Creates a session with a first prompt and times its start; the client stays open for what follows. */
export async function timeNewSession(
  call: Call,
  stack: { url: string },
  cookie: string,
  repositoryId: string,
  prompt: string,
): Promise<{ timing: Timing; client: SessionClient }> {
  const created = await call<{ session: { id: string } }>("POST", "/api/sessions", { repositoryId, prompt });
  if (created.status !== 201) throw new Error(`creating a session failed: HTTP ${created.status} ${JSON.stringify(created.json)}`);
  const accepted = performance.now();
  const client = new SessionClient(stack.url, cookie, created.json.session.id);
  await client.connect(0);
  return { timing: await timeStart(client, accepted), client };
}

export async function registerRepository(call: Call, path: string, name: string): Promise<string> {
  const created = await call<{ repository: { id: string } }>("POST", "/api/repositories", { kind: "local", path, name });
  if (created.status !== 201) throw new Error(`registering ${name} failed: HTTP ${created.status} ${JSON.stringify(created.json)}`);
  return created.json.repository.id;
}

// ---------------------------------------------------------------- the warm pool (ADR 0012)

/** What this benchmark reads of `GET /api/sandbox-pool`; the rest of the answer is left alone. */
const PoolOverview = z.looseObject({
  repositories: z.array(
    z.looseObject({
      repositoryId: z.string(),
      size: z.number(),
      pool: z
        .looseObject({
          warm: z.number(),
          claimed: z.number(),
          held: z.string().optional(),
          failure: z.looseObject({ message: z.string() }).optional(),
        })
        .optional(),
    }),
  ),
  gatewayError: z.string().optional(),
});
type PoolRepository = z.infer<typeof PoolOverview>["repositories"][number];

/** The warm pool's admin API, or why this build has none. */
export async function probePool(call: Call): Promise<{ available: true } | { available: false; reason: string }> {
  const answer = await call("GET", "/api/sandbox-pool");
  if (answer.status === 404) return { available: false, reason: "this build has no warm pool API (GET /api/sandbox-pool answered 404)" };
  if (answer.status !== 200) return { available: false, reason: `GET /api/sandbox-pool answered HTTP ${answer.status}` };
  const parsed = PoolOverview.safeParse(answer.json);
  return parsed.success ? { available: true } : { available: false, reason: `GET /api/sandbox-pool answered an unexpected shape` };
}

/** Sets a repository's pool size (0: sessions on it never find a warm sandbox). */
export async function setPoolSize(call: Call, repositoryId: string, size: number): Promise<void> {
  const answer = await call("PUT", `/api/sandbox-pool/repositories/${repositoryId}`, { size });
  if (answer.status !== 200) throw new Error(`setting the pool size failed: HTTP ${answer.status} ${JSON.stringify(answer.json)}`);
}

async function poolOf(call: Call, repositoryId: string): Promise<PoolRepository | undefined> {
  const answer = await call("GET", "/api/sandbox-pool");
  const overview = PoolOverview.parse(answer.json);
  return overview.repositories.find((repository) => repository.repositoryId === repositoryId);
}

/**
 * Waits until the pool reports a warm sandbox for the repository; returns how many it had handed
 * to sessions so far. Throws, saying what the pool reported, when none is warm in time.
 */
export async function waitForWarm(call: Call, repositoryId: string): Promise<number> {
  const deadline = performance.now() + PREPARE_TIMEOUT_MS;
  let last: PoolRepository | undefined;
  while (performance.now() < deadline) {
    last = await poolOf(call, repositoryId);
    if (last?.pool && last.pool.warm > 0) return last.pool.claimed;
    await sleep(POLL_MS);
  }
  const why = last?.pool?.failure?.message ?? last?.pool?.held ?? (last ? "no warm sandbox" : "the repository is not in the pool");
  throw new Error(`the pool held no warm sandbox within ${PREPARE_TIMEOUT_MS / 1000} s (${why})`);
}

/** How many sandboxes sessions have claimed from the repository's pool. */
export async function claimedFromPool(call: Call, repositoryId: string): Promise<number> {
  return (await poolOf(call, repositoryId))?.pool?.claimed ?? 0;
}

// ---------------------------------------------------------------- repository images (ADR 0015)

const ImageList = z.looseObject({ images: z.array(z.looseObject({ status: z.string(), error: z.string().nullish() })) });

/** Whether the repository has a ready image now (false when this build has no image API). */
export async function hasReadyImage(call: Call, repositoryId: string): Promise<boolean> {
  const answer = await call("GET", `/api/repositories/${repositoryId}/images`);
  const parsed = ImageList.safeParse(answer.json);
  return answer.status === 200 && parsed.success && parsed.data.images.some((image) => image.status === "ready");
}

/**
 * Asks for an image build and waits until the repository has a ready image. Returns why not when
 * this build has no image API or the build failed or took too long.
 */
export async function buildImage(call: Call, repositoryId: string): Promise<{ ready: true } | { ready: false; reason: string }> {
  const started = await call("POST", `/api/repositories/${repositoryId}/images`);
  if (started.status === 404 && (await call("GET", `/api/repositories/${repositoryId}/images`)).status === 404)
    return { ready: false, reason: "this build has no repository image API (POST /api/repositories/:id/images answered 404)" };
  if (started.status !== 202 && started.status !== 200)
    return { ready: false, reason: `POST /api/repositories/:id/images answered HTTP ${started.status} ${JSON.stringify(started.json)}` };
  const deadline = performance.now() + PREPARE_TIMEOUT_MS;
  while (performance.now() < deadline) {
    const answer = await call("GET", `/api/repositories/${repositoryId}/images`);
    const images = ImageList.safeParse(answer.json);
    if (images.success) {
      if (images.data.images.some((image) => image.status === "ready")) return { ready: true };
      const failed = images.data.images.find((image) => image.status === "failed");
      if (failed && !images.data.images.some((image) => image.status === "building"))
        return { ready: false, reason: `the image build failed: ${failed.error ?? "no message"}` };
    }
    await sleep(POLL_MS);
  }
  return { ready: false, reason: `no image was ready within ${PREPARE_TIMEOUT_MS / 1000} s` };
}
