import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { type Repository } from "@lookout/protocol";
import { SecretStore } from "../src/db/secrets";
import { adminCookie, call, errorCode, memberCookie, withCookie } from "./support/auth";

let admin = "";
beforeAll(async () => {
  admin = await adminCookie();
});

interface RepositoryRowSnapshot {
  id: string;
  name: string;
  default_branch: string;
  description: string | null;
  updated_at: number;
}

async function snapshot(): Promise<RepositoryRowSnapshot[]> {
  const { results } = await env.DB.prepare(
    "SELECT id, name, default_branch, description, updated_at FROM repositories ORDER BY id",
  ).all<RepositoryRowSnapshot>();
  return results;
}

async function create(body: unknown): Promise<Response> {
  return call("/api/repositories", withCookie(admin, "POST", body));
}

async function createOk(body: unknown): Promise<Repository> {
  const response = await create(body);
  expect(response.status).toBe(201);
  const json: { repository: Repository } = await response.json();
  return json.repository;
}

describe("repositories CRUD", () => {
  it("registers a local repository with a canonical path and reads it back", async () => {
    const repository = await createOk({ kind: "local", name: "web-app", path: "/home/dev//web-app/", description: "The app" });

    expect(repository).toMatchObject({
      kind: "local",
      name: "web-app",
      fullName: "web-app",
      owner: null,
      path: "/home/dev/web-app",
      defaultBranch: "main",
      description: "The app",
    });
    expect(repository.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(repository).not.toHaveProperty("metadata");

    const read = await call(`/api/repositories/${repository.id}`, withCookie(await memberCookie()));
    expect(read.status).toBe(200);
    expect(await read.json()).toEqual({ repository });
  });

  it("refuses a local path the gateway does not admit, such as /etc, and stores nothing", async () => {
    const before = await snapshot();
    const refused = await create({ kind: "local", name: "etc", path: "/etc" });
    expect(refused.status).toBe(403);
    expect(await errorCode(refused)).toBe("FORBIDDEN");
    expect(await snapshot()).toEqual(before);
  });

  it("registers a GitHub repository as owner/name and lists it", async () => {
    const repository = await createOk({ kind: "github", owner: "acme", name: "widgets", defaultBranch: "trunk" });
    expect(repository).toMatchObject({ fullName: "acme/widgets", owner: "acme", path: null, defaultBranch: "trunk", description: null });

    const list = await call("/api/repositories", withCookie(admin));
    const body: { repositories: Repository[] } = await list.json();
    expect(body.repositories).toContainEqual(repository);
  });

  it("updates name, branch and description, and clears a description with an empty string", async () => {
    const repository = await createOk({ kind: "local", name: "to-update", path: "/srv/to-update", description: "old" });
    const response = await call(
      `/api/repositories/${repository.id}`,
      withCookie(admin, "PATCH", { name: "updated", defaultBranch: "dev" }),
    );
    expect(response.status).toBe(200);
    const { repository: updated }: { repository: Repository } = await response.json();
    expect(updated).toMatchObject({
      id: repository.id,
      name: "updated",
      fullName: "updated",
      defaultBranch: "dev",
      description: "old",
      path: "/srv/to-update",
    });

    const cleared = await call(`/api/repositories/${repository.id}`, withCookie(admin, "PATCH", { description: "" }));
    const { repository: afterClear }: { repository: Repository } = await cleared.json();
    expect(afterClear.description).toBeNull();
  });

  it("deletes a repository with its own secrets", async () => {
    const repository = await createOk({ kind: "local", name: "to-delete", path: "/srv/to-delete" });
    await SecretStore.fromEnv(env).put({ kind: "repository", repositoryId: repository.id }, "DOOMED", "v");

    const response = await call(`/api/repositories/${repository.id}`, withCookie(admin, "DELETE"));
    expect(response.status).toBe(204);
    expect((await call(`/api/repositories/${repository.id}`, withCookie(admin))).status).toBe(404);
    const secrets = await env.DB.prepare("SELECT COUNT(*) AS n FROM secrets WHERE scope = ?").bind(repository.id).first<{ n: number }>();
    expect(secrets?.n).toBe(0);
  });

  it("keeps a repository that sessions use, and its secrets", async () => {
    const repository = await createOk({ kind: "local", name: "in-use", path: "/srv/in-use" });
    await SecretStore.fromEnv(env).put({ kind: "repository", repositoryId: repository.id }, "KEPT", "v");
    const now = Date.now();
    await env.DB.prepare(
      `INSERT INTO sessions (id, title, repository_id, owner_id, owner_name, model, status, created_at, updated_at, last_activity_at)
       VALUES (?, 'uses it', ?, 'admin', 'Admin', 'scripted/demo', 'idle', ?, ?, ?)`,
    )
      .bind(`session-${repository.id}`, repository.id, now, now, now)
      .run();

    const response = await call(`/api/repositories/${repository.id}`, withCookie(admin, "DELETE"));
    expect(response.status).toBe(409);
    expect(await errorCode(response)).toBe("CONFLICT");
    expect((await call(`/api/repositories/${repository.id}`, withCookie(admin))).status).toBe(200);
    expect(Object.keys(await SecretStore.fromEnv(env).resolveForSandbox(repository.id))).toContain("KEPT");
  });
});

describe("repository validation changes nothing", () => {
  it.each([
    ["a relative path", { kind: "local", name: "rel", path: "relative/path" }],
    ["a path that walks up", { kind: "local", name: "walk", path: "/srv/../etc" }],
    ["a '.' segment", { kind: "local", name: "dot", path: "/srv/./x" }],
    ["the root", { kind: "local", name: "root", path: "/" }],
    ["a control character", { kind: "local", name: "ctl", path: "/srv/a\nb" }],
    ["an unknown kind", { kind: "gitlab", name: "x", owner: "y" }],
    ["a name with a slash", { kind: "local", name: "a/b", path: "/srv/a-b" }],
    ["a bad branch", { kind: "local", name: "branch", path: "/srv/branch", defaultBranch: "../main" }],
    ["a GitHub repository without owner", { kind: "github", name: "lonely" }],
  ])("refuses %s with VALIDATION_FAILED", async (_label, body) => {
    const before = await snapshot();
    const response = await create(body);
    expect(response.status).toBe(422);
    expect(await errorCode(response)).toBe("VALIDATION_FAILED");
    expect(await snapshot()).toEqual(before);
  });

  it("refuses malformed JSON", async () => {
    const before = await snapshot();
    const response = await call("/api/repositories", {
      method: "POST",
      headers: { cookie: admin, "content-type": "application/json" },
      body: "{",
    });
    expect(response.status).toBe(400);
    expect(await errorCode(response)).toBe("INVALID_JSON");
    expect(await snapshot()).toEqual(before);
  });

  it("refuses a duplicate name, ignoring case, and a duplicate local path", async () => {
    await createOk({ kind: "github", owner: "acme", name: "dupe" });
    await createOk({ kind: "local", name: "dupe-local", path: "/srv/dupe-local" });
    const before = await snapshot();

    for (const body of [
      { kind: "github", owner: "ACME", name: "Dupe" },
      { kind: "local", name: "DUPE-LOCAL", path: "/srv/elsewhere" },
      { kind: "local", name: "other-name", path: "/srv/dupe-local/" },
    ]) {
      const response = await create(body);
      expect(response.status).toBe(409);
      expect(await errorCode(response)).toBe("REPOSITORY_EXISTS");
    }
    expect(await snapshot()).toEqual(before);
  });

  it("allows a local and a GitHub repository to share a name", async () => {
    await createOk({ kind: "local", name: "shared-name", path: "/srv/shared-name" });
    await createOk({ kind: "github", owner: "acme", name: "shared-name" });
  });

  it("refuses a rename onto a taken name and an empty patch", async () => {
    await createOk({ kind: "local", name: "taken", path: "/srv/taken" });
    const repository = await createOk({ kind: "local", name: "renamer", path: "/srv/renamer" });
    const before = await snapshot();

    const clash = await call(`/api/repositories/${repository.id}`, withCookie(admin, "PATCH", { name: "TAKEN" }));
    expect(clash.status).toBe(409);
    expect(await errorCode(clash)).toBe("REPOSITORY_EXISTS");

    const empty = await call(`/api/repositories/${repository.id}`, withCookie(admin, "PATCH", {}));
    expect(empty.status).toBe(422);
    expect(await snapshot()).toEqual(before);
  });

  it("answers REPOSITORY_NOT_FOUND for unknown and malformed ids", async () => {
    for (const id of ["does-not-exist", "bad%20id"]) {
      for (const [method, body] of [
        ["GET", undefined],
        ["PATCH", { name: "x" }],
        ["DELETE", undefined],
      ] as const) {
        const response = await call(`/api/repositories/${id}`, withCookie(admin, method, body));
        expect(response.status).toBe(404);
        expect(await errorCode(response)).toBe("REPOSITORY_NOT_FOUND");
      }
    }
  });

  it("only admins write repositories", async () => {
    const member = await memberCookie();
    const before = await snapshot();
    const created = await call(
      "/api/repositories",
      withCookie(member, "POST", { kind: "local", name: "by-member", path: "/srv/by-member" }),
    );
    expect(created.status).toBe(403);
    const someId = before[0]?.id ?? "x";
    expect((await call(`/api/repositories/${someId}`, withCookie(member, "PATCH", { name: "hijack" }))).status).toBe(403);
    expect((await call(`/api/repositories/${someId}`, withCookie(member, "DELETE"))).status).toBe(403);
    expect(await snapshot()).toEqual(before);
  });
});
