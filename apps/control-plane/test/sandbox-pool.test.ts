import { env } from "cloudflare:test";
import type { PoolTargetsRequest, SandboxPoolResponse } from "@lookout/protocol";
import { beforeAll, describe, expect, it } from "vitest";
import { RepositoryImageStore } from "../src/repository-images";
import { schedulerStub } from "../src/triggers/scheduler-object";
import { api, login } from "./helpers";
import { call, errorCode, memberCookie, withCookie } from "./support/auth";

/**
 * The warm pool's targets (ADR 0012): sizes per repository in D1 (admins set them; the default is
 * one for a repository a session used in the last day), pushed to the gateway by the scheduler's
 * alarm and when an admin changes a size, and the gateway's pool state shown through the API.
 */
let admin = "";
beforeAll(async () => {
  admin = await login();
});

async function pushedTargets(): Promise<PoolTargetsRequest | null> {
  const response = await env.GATEWAY!.fetch("http://gateway/__fake/state");
  return (await response.json<{ pool: { targets: PoolTargetsRequest | null } }>()).pool.targets;
}

async function newRepository(name: string): Promise<string> {
  const created = await api(admin)("POST", "/api/repositories", { kind: "local", path: `/srv/repos/${name}`, name });
  expect(created.status).toBe(201);
  return created.json.repository.id as string;
}

describe("the warm pool's targets", () => {
  it("an admin's size is stored, pushed to the gateway at once, and shown with the gateway's state and the cap", async () => {
    const repositoryId = await newRepository(`pool-sized-${crypto.randomUUID().slice(0, 8)}`);
    const put = await api(admin)("PUT", `/api/sandbox-pool/repositories/${repositoryId}`, { size: 2 });
    expect(put.status).toBe(200);

    const targets = await pushedTargets();
    expect(targets?.controlPlaneUrl).toBe(env.PUBLIC_URL);
    expect(targets?.targets.find((target) => target.repositoryKey === repositoryId)).toMatchObject({
      repository: { kind: "local", path: expect.stringContaining("/srv/repos/pool-sized-") as string },
      baseBranch: "main",
      size: 2,
    });

    const read = await api(admin)("GET", "/api/sandbox-pool");
    expect(read.status).toBe(200);
    const overview = read.json as SandboxPoolResponse;
    expect(overview.capacity).toMatchObject({ max: 32 });
    expect(overview.repositories.find((repository) => repository.repositoryId === repositoryId)).toMatchObject({
      size: 2,
      configuredSize: 2,
      lastUsedAtMs: null,
      pool: { warm: 2, size: 2 },
    });
  });

  it("a repository a session used gets the default of one when the scheduler wakes; size 0 takes it out, null restores the default", async () => {
    const repositoryId = await newRepository(`pool-used-${crypto.randomUUID().slice(0, 8)}`);
    const session = await api(admin)("POST", "/api/sessions", { repositoryId, title: "uses the repository" });
    expect(session.status).toBe(201);

    await schedulerStub(env).tick(Date.now());
    expect((await pushedTargets())?.targets.find((target) => target.repositoryKey === repositoryId)).toMatchObject({ size: 1 });

    expect((await api(admin)("PUT", `/api/sandbox-pool/repositories/${repositoryId}`, { size: 0 })).status).toBe(200);
    expect((await pushedTargets())?.targets.some((target) => target.repositoryKey === repositoryId)).toBe(false);

    const restored = await api(admin)("PUT", `/api/sandbox-pool/repositories/${repositoryId}`, { size: null });
    expect(
      (restored.json as SandboxPoolResponse).repositories.find((repository) => repository.repositoryId === repositoryId),
    ).toMatchObject({
      size: 1,
      configuredSize: null,
    });
    expect((await pushedTargets())?.targets.find((target) => target.repositoryKey === repositoryId)).toMatchObject({ size: 1 });
  });

  it("names the repository's newest ready image, which its pool sandboxes start from", async () => {
    const repositoryId = await newRepository(`pool-image-${crypto.randomUUID().slice(0, 8)}`);
    const store = new RepositoryImageStore(env.DB);
    const now = Date.now();
    for (const [id, snapshotId, at] of [
      [`img_old_${repositoryId}`, "snap_older", now - 60_000],
      [`img_new_${repositoryId}`, "snap_newest", now - 1_000],
    ] as const) {
      await store.start({ id, repositoryId, baseBranch: "main", trigger: "schedule", requestedBy: null, now: at });
      await store.finish(id, { status: "ready", snapshotId, baseSha: "a".repeat(40), now: at + 500 });
    }
    await env.DB.prepare(
      "INSERT INTO repository_images (id, repository_id, base_branch, status, trigger, started_at) VALUES (?, ?, 'main', 'failed', 'schedule', ?)",
    )
      .bind(`img_failed_${repositoryId}`, repositoryId, now)
      .run();
    expect((await api(admin)("PUT", `/api/sandbox-pool/repositories/${repositoryId}`, { size: 1 })).status).toBe(200);
    expect((await pushedTargets())?.targets.find((target) => target.repositoryKey === repositoryId)).toMatchObject({
      imageSnapshotId: "snap_newest",
    });

    const withoutImage = await newRepository(`pool-noimage-${crypto.randomUUID().slice(0, 8)}`);
    expect((await api(admin)("PUT", `/api/sandbox-pool/repositories/${withoutImage}`, { size: 1 })).status).toBe(200);
    expect((await pushedTargets())?.targets.find((target) => target.repositoryKey === withoutImage)?.imageSnapshotId).toBeUndefined();
  });

  it("refuses a size out of range and changes nothing; members may neither read nor change the pool", async () => {
    const repositoryId = await newRepository(`pool-refused-${crypto.randomUUID().slice(0, 8)}`);
    const tooLarge = await call(`/api/sandbox-pool/repositories/${repositoryId}`, withCookie(admin, "PUT", { size: 17 }));
    expect(tooLarge.status).toBe(422);
    expect(await errorCode(tooLarge)).toBe("VALIDATION_FAILED");
    const row = await env.DB.prepare("SELECT size FROM sandbox_pool_settings WHERE repository_id = ?").bind(repositoryId).first();
    expect(row).toBeNull();

    const member = await memberCookie();
    expect((await call("/api/sandbox-pool", withCookie(member))).status).toBe(403);
    expect((await call(`/api/sandbox-pool/repositories/${repositoryId}`, withCookie(member, "PUT", { size: 1 }))).status).toBe(403);
    expect((await call("/api/sandbox-pool/repositories/no-such-repository", withCookie(admin, "PUT", { size: 1 }))).status).toBe(404);
  });
});
