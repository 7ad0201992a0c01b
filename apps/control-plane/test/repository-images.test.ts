import { env } from "cloudflare:test";
import type { ImageBuildRequest, ImageBuildState, RepositoryImage, RepositoryImagesResponse } from "@lookout/protocol";
import { beforeAll, describe, expect, it } from "vitest";
import {
  HttpImageGateway,
  IMAGE_REBUILD_INTERVAL_MS,
  imageTick,
  newestRepositoryImage,
  RepositoryImageStore,
  imageDeps,
  SNAPSHOT_DELETE_DELAY_MS,
  type ImageDeps,
  type ImageGateway,
} from "../src/repository-images";
import { githubEnv, githubState, REPOSITORY } from "./support/github-mentions";
import { api, login } from "./helpers";
import { call, memberCookie, withCookie } from "./support/auth";

/**
 * Repository images (ADR 0015) in D1 with the scheduler's image wake driven by the test's clock
 * and a gateway the test plays: builds are due for active local repositories only, every 30
 * minutes, followed until they end, the newest two ready images kept, failures kept with output.
 */
let admin = "";
beforeAll(async () => {
  admin = await login();
});

const MINUTE = 60_000;

/**
 * The gateway as the test plays it: records starts, answers each build's state as set. Snapshot
 * deletions go to the fake gateway (`fake-gateway.ts`) through the real signed client.
 */
class ScriptedImageGateway implements ImageGateway {
  readonly started: ImageBuildRequest[] = [];
  readonly states = new Map<string, ImageBuildState | null>();
  /** Whether its provider can snapshot (`GET /v1/capabilities`). */
  snapshots = true;
  private readonly http = HttpImageGateway.fromEnv(env);

  deleteSnapshot(snapshotId: string): Promise<void> {
    return this.http.deleteSnapshot(snapshotId);
  }

  async available(): Promise<boolean> {
    return this.snapshots;
  }

  async start(request: ImageBuildRequest): Promise<ImageBuildState> {
    this.started.push(request);
    const state: ImageBuildState = { buildId: request.buildId, status: "building", startedAtMs: 0 };
    this.states.set(request.buildId, state);
    return state;
  }

  async get(buildId: string): Promise<ImageBuildState | null> {
    return this.states.get(buildId) ?? null;
  }

  finish(buildId: string, outcome: Partial<ImageBuildState> & Pick<ImageBuildState, "status">): void {
    this.states.set(buildId, { buildId, startedAtMs: 0, ...outcome });
  }

  startedFor(repositoryIds: readonly string[]): ImageBuildRequest[] {
    const paths = new Set(repositoryIds.map((id) => pathOf.get(id)));
    return this.started.filter((request) => request.repository.kind === "local" && paths.has(request.repository.path));
  }
}

const pathOf = new Map<string, string>();

/** The schedule's dependencies with the test's gateway; a GitHub repository gets a stand-in token. */
function depsFor(gateway: ImageGateway): ImageDeps {
  return {
    db: env.DB,
    gateway,
    controlPlaneUrl: env.PUBLIC_URL,
    cloneSource: async (source) =>
      source.kind === "local"
        ? { repository: { kind: "local", path: source.path } }
        : {
            repository: { kind: "remote", cloneUrl: `https://github.com/${source.owner}/${source.name}.git` },
            gitCredential: { username: "x-access-token", password: `ghs_${source.name}`, expiresAt: Date.now() + 3_600_000 },
          },
  };
}

async function localRepository(name: string): Promise<string> {
  const path = `/srv/repos/${name}-${crypto.randomUUID().slice(0, 8)}`;
  const created = await api(admin)("POST", "/api/repositories", { kind: "local", path, name: path.split("/").at(-1) });
  expect(created.status).toBe(201);
  const id = created.json.repository.id as string;
  pathOf.set(id, path);
  return id;
}

async function useRepository(repositoryId: string): Promise<void> {
  expect((await api(admin)("POST", "/api/sessions", { repositoryId, title: "uses it" })).status).toBe(201);
}

async function history(repositoryId: string): Promise<RepositoryImage[]> {
  return new RepositoryImageStore(env.DB).list(repositoryId, 50);
}

const SHA = (n: number) => String(n).repeat(40).slice(0, 40);

/** What the fake gateway was asked to delete. */
async function deletedSnapshots(): Promise<string[]> {
  const state = await (await env.GATEWAY!.fetch("http://gateway/__fake/state")).json<{ snapshotDeletes: { deleted: string[] } }>();
  return state.snapshotDeletes.deleted;
}

/** The next `DELETE /v1/images/snapshots/:snapshotId` of the fake gateway fails (503). */
async function failNextDeletion(snapshotId: string): Promise<void> {
  await env.GATEWAY!.fetch("http://gateway/__fake/snapshot-delete-failure", { method: "POST", body: JSON.stringify({ snapshotId }) });
}

/** One scheduled build at `at`, which the gateway finishes ready with `snapshotId`; recorded 5 s later. */
async function readyImage(gateway: ScriptedImageGateway, repositoryId: string, at: number, snapshotId: string): Promise<void> {
  await imageTick(depsFor(gateway), at);
  const [build] = await history(repositoryId);
  expect(build).toMatchObject({ status: "building" });
  gateway.finish(build!.id, { status: "ready", snapshotId, baseSha: SHA(7) });
  await imageTick(depsFor(gateway), at + 5_000);
}

describe("the image schedule", () => {
  it("builds active repositories only, every 30 minutes, follows each build, and keeps the newest two images", async () => {
    const gateway = new ScriptedImageGateway();
    const deps = depsFor(gateway);
    const active = await localRepository("active");
    const idle = await localRepository("idle");
    await useRepository(active);
    const t0 = Date.now();

    // A gateway whose provider cannot snapshot builds nothing, and the schedule records nothing.
    gateway.snapshots = false;
    expect(await imageTick(deps, t0)).toMatchObject({ started: [], nextWakeAt: null });
    expect(gateway.started).toEqual([]);
    expect(await history(active)).toEqual([]);
    gateway.snapshots = true;

    const first = await imageTick(deps, t0);
    expect(gateway.startedFor([active, idle]).map((request) => request.repository)).toEqual([{ kind: "local", path: pathOf.get(active) }]);
    expect(gateway.startedFor([active])[0]).toMatchObject({ baseBranch: "main", controlPlaneUrl: env.PUBLIC_URL });
    expect(first.nextWakeAt).not.toBeNull();
    expect(first.nextWakeAt!).toBeLessThanOrEqual(t0 + MINUTE);
    const [building] = await history(active);
    expect(building).toMatchObject({ status: "building", trigger: "schedule", finishedAt: null });
    expect(await history(idle)).toEqual([]);

    // The gateway finishes it: the next wake records the image, which new sessions start from.
    gateway.finish(building!.id, { status: "ready", snapshotId: "snap_one", baseSha: SHA(1), output: "installed" });
    await imageTick(deps, t0 + 5_000);
    expect((await history(active))[0]).toMatchObject({ status: "ready", snapshotId: "snap_one", baseSha: SHA(1), durationMs: 5_000 });
    expect(await newestRepositoryImage(env.DB, active, "main")).toMatchObject({ snapshotId: "snap_one" });

    // Not again before 30 minutes have passed since it started; at 30 minutes, again.
    const early = await imageTick(deps, t0 + IMAGE_REBUILD_INTERVAL_MS - MINUTE);
    expect(gateway.startedFor([active])).toHaveLength(1);
    expect(early.nextWakeAt).toBe(t0 + IMAGE_REBUILD_INTERVAL_MS);
    await imageTick(deps, t0 + IMAGE_REBUILD_INTERVAL_MS);
    expect(gateway.startedFor([active])).toHaveLength(2);

    // Two more ready images: the oldest is superseded and nothing starts from it any more.
    const second = (await history(active))[0]!;
    gateway.finish(second.id, { status: "ready", snapshotId: "snap_two", baseSha: SHA(2) });
    await imageTick(deps, t0 + IMAGE_REBUILD_INTERVAL_MS + 5_000);
    await imageTick(deps, t0 + 2 * IMAGE_REBUILD_INTERVAL_MS);
    const third = (await history(active))[0]!;
    gateway.finish(third.id, { status: "ready", snapshotId: "snap_three", baseSha: SHA(3) });
    await imageTick(deps, t0 + 2 * IMAGE_REBUILD_INTERVAL_MS + 5_000);
    expect((await history(active)).map((image) => [image.status, image.snapshotId])).toEqual([
      ["ready", "snap_three"],
      ["ready", "snap_two"],
      ["superseded", null],
    ]);
    expect(await newestRepositoryImage(env.DB, active, "main")).toMatchObject({ snapshotId: "snap_three", baseSha: SHA(3) });
    expect(await history(idle)).toEqual([]);
  });

  it("deletes a superseded image's snapshot through the gateway after a delay, and retries a deletion that failed", async () => {
    const gateway = new ScriptedImageGateway();
    const repositoryId = await localRepository("retiring");
    await useRepository(repositoryId);
    // The fake gateway is shared by every test file: these ids are this test's own.
    const [oldest, middle, newest] = ["a", "b", "c"].map((name) => `snap_${name}_${crypto.randomUUID()}`);
    const t0 = Date.now();
    await readyImage(gateway, repositoryId, t0, oldest!);
    await readyImage(gateway, repositoryId, t0 + IMAGE_REBUILD_INTERVAL_MS, middle!);
    const supersededAt = t0 + 2 * IMAGE_REBUILD_INTERVAL_MS + 5_000;
    await readyImage(gateway, repositoryId, t0 + 2 * IMAGE_REBUILD_INTERVAL_MS, newest!);
    expect((await history(repositoryId)).map((image) => [image.status, image.snapshotId])).toEqual([
      ["ready", newest],
      ["ready", middle],
      ["superseded", null],
    ]);

    // Not at once: a sandbox may have read it as the newest image just before it was superseded.
    const early = await imageTick(depsFor(gateway), supersededAt + SNAPSHOT_DELETE_DELAY_MS - 1_000);
    expect(await deletedSnapshots()).not.toContain(oldest);
    expect(early.nextWakeAt).not.toBeNull();

    // The gateway fails the deletion: nothing is lost, and the schedule wakes again to retry it.
    await failNextDeletion(oldest!);
    const failed = await imageTick(depsFor(gateway), supersededAt + SNAPSHOT_DELETE_DELAY_MS);
    expect(await deletedSnapshots()).not.toContain(oldest);
    expect((await history(repositoryId))[2]).not.toHaveProperty("snapshotDeletedAt");
    expect(failed.nextWakeAt).not.toBeNull();
    expect(failed.nextWakeAt!).toBeLessThanOrEqual(supersededAt + 2 * SNAPSHOT_DELETE_DELAY_MS);

    const retriedAt = supersededAt + 2 * SNAPSHOT_DELETE_DELAY_MS;
    await imageTick(depsFor(gateway), retriedAt);
    const deleted = await deletedSnapshots();
    expect(deleted.filter((id) => id === oldest)).toHaveLength(1);
    expect(deleted).not.toContain(middle);
    expect(deleted).not.toContain(newest);
    const images = await history(repositoryId);
    expect(images.find((image) => image.status === "superseded")).toMatchObject({ snapshotId: null, snapshotDeletedAt: retriedAt });
    expect(await newestRepositoryImage(env.DB, repositoryId, "main")).toMatchObject({ snapshotId: newest });

    // Deleted once: later passes do not ask again.
    await imageTick(depsFor(gateway), retriedAt + SNAPSHOT_DELETE_DELAY_MS);
    expect((await deletedSnapshots()).filter((id) => id === oldest)).toHaveLength(1);
  });

  it("keeps failures with the setup script's output, fails a build the gateway forgot, and leaves the last good image in use", async () => {
    const gateway = new ScriptedImageGateway();
    const deps = depsFor(gateway);
    const repositoryId = await localRepository("flaky");
    await useRepository(repositoryId);
    const t0 = Date.now();

    await imageTick(deps, t0);
    const good = (await history(repositoryId))[0]!;
    gateway.finish(good.id, { status: "ready", snapshotId: "snap_good", baseSha: SHA(4) });
    await imageTick(deps, t0 + 1_000);

    await imageTick(deps, t0 + IMAGE_REBUILD_INTERVAL_MS);
    const failing = (await history(repositoryId))[0]!;
    gateway.finish(failing.id, { status: "failed", error: ".lookout/setup.sh exited with code 3", output: "npm ERR! peer dependency" });
    await imageTick(deps, t0 + IMAGE_REBUILD_INTERVAL_MS + 1_000);
    expect((await history(repositoryId))[0]).toMatchObject({
      status: "failed",
      snapshotId: null,
      error: ".lookout/setup.sh exited with code 3",
      output: "npm ERR! peer dependency",
    });
    expect(await newestRepositoryImage(env.DB, repositoryId, "main")).toMatchObject({ snapshotId: "snap_good" });

    await imageTick(deps, t0 + 2 * IMAGE_REBUILD_INTERVAL_MS);
    const forgotten = (await history(repositoryId))[0]!;
    gateway.states.delete(forgotten.id);
    await imageTick(deps, t0 + 2 * IMAGE_REBUILD_INTERVAL_MS + 1_000);
    expect((await history(repositoryId))[0]).toMatchObject({ status: "failed", error: expect.stringMatching(/no longer knows/) as string });
  });
});

describe("images of GitHub repositories", () => {
  it("are built like local ones, the clone carrying a read-only credential", async () => {
    const gateway = new ScriptedImageGateway();
    const created = await api(admin)("POST", "/api/repositories", {
      kind: "github",
      owner: "acme",
      name: `gh-${crypto.randomUUID().slice(0, 8)}`,
    });
    expect(created.status).toBe(201);
    const repositoryId = created.json.repository.id as string;
    const name = created.json.repository.name as string;
    await useRepository(repositoryId);
    await imageTick(depsFor(gateway), Date.now());
    const request = gateway.started.find(
      (started) => started.repository.kind === "remote" && started.repository.cloneUrl.endsWith(`/acme/${name}.git`),
    );
    expect(request).toMatchObject({ gitCredential: { username: "x-access-token", password: `ghs_${name}` }, baseBranch: "main" });
    expect((await history(repositoryId))[0]).toMatchObject({ status: "building", trigger: "schedule" });
  });

  it("get their clone credential from the App as a read-only installation token for that repository", async () => {
    const deps = imageDeps({ ...env, ...(await githubEnv()) });
    const clone = await deps.cloneSource({ kind: "github", owner: REPOSITORY.owner, name: REPOSITORY.name });
    expect(clone.repository).toEqual({ kind: "remote", cloneUrl: `https://github.com/${REPOSITORY.owner}/${REPOSITORY.name}.git` });
    const minted = (await githubState()).minted.find((token) => token.token === clone.gitCredential?.password);
    expect(minted?.repositories).toEqual([REPOSITORY.name]);
    expect(minted?.permissions.contents).toBe("read");
    expect(Object.values(minted?.permissions ?? {})).not.toContain("write");
  });

  it("fail visibly when no credential can be had (the App is not configured)", async () => {
    const gateway = new ScriptedImageGateway();
    const deps: ImageDeps = { ...imageDeps({ ...env, GITHUB_APP_ID: undefined }), gateway };
    const created = await api(admin)("POST", "/api/repositories", {
      kind: "github",
      owner: "acme",
      name: `nokey-${crypto.randomUUID().slice(0, 8)}`,
    });
    const repositoryId = created.json.repository.id as string;
    await useRepository(repositoryId);
    await imageTick(deps, Date.now());
    expect(gateway.started.filter((request) => request.repository.kind === "remote")).toEqual([]);
    expect((await history(repositoryId))[0]).toMatchObject({
      status: "failed",
      error: expect.stringMatching(/did not start the build/) as string,
    });
  });
});

describe("GET/POST /api/repositories/:id/images", () => {
  it("shows an admin the history, records a build the gateway refused with its reason, and refuses members", async () => {
    const repositoryId = await localRepository("rest");
    const built = await api(admin)("POST", `/api/repositories/${repositoryId}/images`);
    expect(built.status).toBe(202);
    // The test stack's gateway builds no images: the refusal is the build's visible failure.
    expect(built.json).toMatchObject({
      repositoryId,
      status: "failed",
      trigger: "admin",
      error: expect.stringMatching(/did not start the build/),
    });

    const read = await api(admin)("GET", `/api/repositories/${repositoryId}/images`);
    expect(read.status).toBe(200);
    const body = read.json as RepositoryImagesResponse;
    expect(body.rebuildIntervalMs).toBe(IMAGE_REBUILD_INTERVAL_MS);
    expect(body.images.map((image) => image.id)).toEqual([(built.json as RepositoryImage).id]);

    const member = await memberCookie();
    const refused = await call(`/api/repositories/${repositoryId}/images`, withCookie(member, "GET"));
    expect(refused.status).toBe(403);
    expect((await api(admin)("GET", "/api/repositories/rep_missing/images")).status).toBe(404);
  });
});
