import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubAppClient } from "../../src/scm/github/client";
import { type FakeGitHub, startFakeGitHub } from "../support/fake-github";

/** The GitHub App client against a local fake of GitHub's REST API (Octokit `baseUrl`). */
let github: FakeGitHub;
let client: GitHubAppClient;
const ada = { userId: "gh_1001", name: "Ada Lovelace", github: { id: 1001, login: "ada" } };
const grace = { userId: "u_grace", name: "Grace Hopper", email: "grace@example.com" };

beforeAll(async () => {
  github = await startFakeGitHub();
  github.userTokens.set("ghu_ada_token", { login: "ada", id: 1001 });
  client = new GitHubAppClient({
    appId: github.appId,
    privateKey: github.privateKey,
    installationId: github.installationId,
    apiUrl: github.url,
    webUrl: "https://github.com",
  });
});

afterAll(async () => {
  await github.close();
});

describe("installation tokens", () => {
  it("are minted with an RS256 App JWT, limited to the repository, and cached until near expiry", async () => {
    const first = await client.installationToken({ name: "app" }, { workflows: false });
    const second = await client.installationToken({ name: "app" }, { workflows: false });
    expect(second.token).toBe(first.token);
    expect(github.minted).toHaveLength(1);
    expect(github.minted[0]).toMatchObject({
      repositories: ["app"],
      permissions: { contents: "write", pull_requests: "write", metadata: "read" },
    });
    expect(github.minted[0]?.permissions).not.toHaveProperty("workflows");
    expect(first.expiresAt).toBeGreaterThan(Date.now() + 50 * 60_000);
    expect(github.requests.filter((r) => r.path.endsWith("/access_tokens")).every((r) => r.auth === "app")).toBe(true);
  });

  it("carry the workflows permission only when a workflow change was approved (a separate token)", async () => {
    const approved = await client.installationToken({ name: "app" }, { workflows: true });
    const minted = github.minted.find((m) => m.token === approved.token);
    expect(minted?.permissions).toMatchObject({ workflows: "write" });
    expect(github.minted).toHaveLength(2);
  });

  it("are refused by GitHub for a JWT signed with another key", async () => {
    const { privateKey } = await import("node:crypto").then((crypto) =>
      crypto.generateKeyPairSync("rsa", {
        modulusLength: 2048,
        privateKeyEncoding: { type: "pkcs1", format: "pem" },
        publicKeyEncoding: { type: "spki", format: "pem" },
      }),
    );
    const impostor = new GitHubAppClient({
      appId: github.appId,
      privateKey,
      installationId: github.installationId,
      apiUrl: github.url,
      webUrl: "https://github.com",
    });
    await expect(impostor.installationToken({ name: "app" }, { workflows: false })).rejects.toMatchObject({ code: "FORBIDDEN" });
  });
});

describe("repositories", () => {
  it("lists the installation's repositories with an installation token", async () => {
    const repositories = await client.listRepositories();
    expect(repositories.map((r) => r.full_name)).toEqual(["acme/app", "acme/api"]);
    const listing = github.requests.filter((r) => r.path === "/installation/repositories");
    expect(listing.length).toBeGreaterThan(0);
    expect(listing.every((r) => r.auth === "installation")).toBe(true);
  });
});

describe("pull requests", () => {
  const base = {
    owner: "acme",
    name: "app",
    base: "main",
    title: "Add the feature",
    body: "What changed.\n\n[Session](http://lookout/sessions/ses_1)",
    draft: true,
    knownNumber: null,
  };

  it("are opened as the user with their own token, draft by default", async () => {
    const pr = await client.openOrUpdatePullRequest({ ...base, head: "lookout/ses_1", userToken: "ghu_ada_token", requester: ada });
    expect(pr).toMatchObject({
      number: 1,
      openedAs: "user",
      draft: true,
      state: "open",
      created: true,
      url: "https://github.com/acme/app/pull/1",
    });
    const created = github.pulls[0];
    expect(created?.user).toBe("ada");
    expect(created?.body).not.toContain("Requested by");
    const post = github.requests.find((r) => r.method === "POST" && r.path === "/repos/acme/app/pulls");
    expect(post?.auth).toBe("user");
  });

  it("are opened by the App, naming the requester, when the user has no token", async () => {
    const pr = await client.openOrUpdatePullRequest({ ...base, head: "lookout/ses_2", userToken: null, requester: grace });
    expect(pr).toMatchObject({ openedAs: "app", created: true });
    const created = github.pulls.find((p) => p.head === "lookout/ses_2");
    expect(created?.user).toBe("lookout[bot]");
    expect(created?.body).toContain("Requested by Grace Hopper through Lookout.");
  });

  it("fall back to the App when GitHub refuses the user's token", async () => {
    github.refuseUserCreates = true;
    try {
      const pr = await client.openOrUpdatePullRequest({ ...base, head: "lookout/ses_3", userToken: "ghu_ada_token", requester: ada });
      expect(pr.openedAs).toBe("app");
      expect(github.pulls.find((p) => p.head === "lookout/ses_3")?.body).toContain("Requested by @ada through Lookout.");
    } finally {
      github.refuseUserCreates = false;
    }
  });

  it("are updated, not duplicated, when the branch is pushed again", async () => {
    const before = github.pulls.length;
    const again = await client.openOrUpdatePullRequest({
      ...base,
      head: "lookout/ses_1",
      title: "Add the feature (v2)",
      userToken: "ghu_ada_token",
      requester: ada,
      knownNumber: 1,
    });
    expect(again).toMatchObject({ number: 1, created: false, title: "Add the feature (v2)" });
    expect(github.pulls.length).toBe(before);
    const unknown = await client.openOrUpdatePullRequest({ ...base, head: "lookout/ses_2", userToken: null, requester: grace });
    expect(unknown.created).toBe(false);
    expect(github.pulls.length).toBe(before);
  });

  it("read their state, merged included", async () => {
    const pull = github.pulls[0]!;
    pull.state = "closed";
    pull.merged = true;
    expect(await client.readPullRequest("acme", "app", pull.number)).toMatchObject({ state: "merged" });
  });
});
