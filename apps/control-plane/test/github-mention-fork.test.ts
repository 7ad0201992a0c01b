import { beforeAll, describe, expect, it } from "vitest";
import { login, sandboxRequestFor } from "./helpers";
import { call, withCookie } from "./support/auth";
import {
  deliver,
  githubEnv,
  githubState,
  mentionPayload,
  openPull,
  recordedDelivery,
  registerRepository,
  setPermissions,
} from "./support/github-mentions";

let cookie: string;
let repositoryId: string;
beforeAll(async () => {
  cookie = await login();
  repositoryId = await registerRepository();
  await setPermissions({ writer: "write", reader: "read" });
  const saved = await call(
    `/api/repositories/${repositoryId}/secrets/DEPLOY_TOKEN`,
    withCookie(cookie, "PUT", { value: "s3cret-deploy-token" }),
  );
  expect(saved.status).toBe(204);
});

async function mentionedSession(fork: boolean): Promise<string> {
  const pull = await openPull({ fork });
  const delivered = await deliver(
    "issue_comment",
    mentionPayload("issue_comment", { number: pull.number, login: "writer", body: "@lookout-app fix it" }),
  );
  const recorded = await recordedDelivery(delivered.deliveryId);
  expect(recorded?.status).toBe("started");
  return recorded!.sessionId!;
}

/** What the session's sandbox may ask for with its own token, with the App pointed at the fake. */
async function asSandbox(sessionId: string, path: "git-credentials" | "pull-request", body: unknown) {
  const sandbox = await sandboxRequestFor(sessionId);
  const response = await call(
    `/api/sessions/${sessionId}/${path}`,
    {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${sandbox.sandboxToken}`,
        "x-lookout-sandbox-id": sandbox.sandboxId,
      },
      body: JSON.stringify(body),
    },
    await githubEnv(),
  );
  return { status: response.status, json: (await response.json()) as any, sandbox };
}

const credentialRequest = { protocol: "https", host: "github.com", path: "acme/widgets.git" };

describe("a mention on a pull request from a fork", () => {
  it("starts a sandbox without the repository's secrets, with git credentials that cannot push, and no pull request", async () => {
    const sessionId = await mentionedSession(true);
    const credential = await asSandbox(sessionId, "git-credentials", credentialRequest);
    expect(credential.sandbox.env).not.toHaveProperty("DEPLOY_TOKEN");
    expect(credential.status).toBe(200);
    const minted = (await githubState()).minted.find((entry) => entry.token === credential.json.password);
    expect(minted).toMatchObject({ permissions: { contents: "read", metadata: "read" }, repositories: ["widgets"] });

    const opened = await asSandbox(sessionId, "pull-request", { title: "Rename it", body: "", draft: true });
    expect(opened.status).toBe(403);
    expect(opened.json.error.message).toContain("pull request from a fork");
  });

  it("while a same-repository pull request's session gets the secrets and a token that can push", async () => {
    const sessionId = await mentionedSession(false);
    const credential = await asSandbox(sessionId, "git-credentials", credentialRequest);
    expect(credential.sandbox.env).toMatchObject({ DEPLOY_TOKEN: "s3cret-deploy-token" });
    const minted = (await githubState()).minted.find((entry) => entry.token === credential.json.password);
    expect(minted?.permissions).toMatchObject({ contents: "write" });
  });
});
