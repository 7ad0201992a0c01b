import { env } from "cloudflare:test";
import { LookoutError } from "@lookout/protocol";
import { describe, expect, it } from "vitest";
import { RepositoryStore } from "../src/db/repositories";
import { githubCloneUrl } from "../src/scm/github/settings";
import { GitHubScmProvider } from "../src/scm/providers";
import { githubEnv, githubState, registerRepository } from "./support/github-mentions";

/**
 * `GITHUB_WEB_URL` (a GitHub Enterprise Server, default `https://github.com`): sandboxes clone from
 * it, and git credentials are issued for its origin and the session's repository only.
 */
describe("the GitHub web and git base", () => {
  it("builds clone URLs on GITHUB_WEB_URL, github.com by default", () => {
    expect(githubCloneUrl(env, "acme/widgets")).toBe("https://github.com/acme/widgets.git");
    expect(githubCloneUrl({ ...env, GITHUB_WEB_URL: "https://ghe.example.com/" }, "acme/widgets")).toBe(
      "https://ghe.example.com/acme/widgets.git",
    );
  });

  it("issues git credentials for that origin and the session's repository only", async () => {
    const provider = new GitHubScmProvider({ ...env, ...(await githubEnv()), GITHUB_WEB_URL: "http://ghe.internal:8080" });
    const repository = await new RepositoryStore(env.DB).getOrThrow(await registerRepository());
    const credential = (request: { protocol: "http" | "https"; host: string; path?: string }) =>
      provider.gitCredential({
        repository,
        session: { id: "ses_weburl", branch: "lookout/ses_weburl", origin: { kind: "dashboard" } },
        request,
        approvedWorkflowSha: null,
        now: Date.now(),
      });
    const refusals: { protocol: "http" | "https"; host: string; path: string }[] = [
      { protocol: "https", host: "github.com", path: "acme/widgets.git" },
      { protocol: "https", host: "ghe.internal:8080", path: "acme/widgets.git" },
      { protocol: "http", host: "ghe.internal", path: "acme/widgets.git" },
      { protocol: "http", host: "ghe.internal:8080", path: "acme/other.git" },
    ];
    for (const refused of refusals) {
      const error = await credential(refused).catch((caught: unknown) => caught);
      expect(error, JSON.stringify(refused)).toBeInstanceOf(LookoutError);
      expect((error as LookoutError).code).toBe("FORBIDDEN");
    }
    const issued = await credential({ protocol: "http", host: "ghe.internal:8080", path: "acme/widgets.git" });
    expect(issued.username).toBe("x-access-token");
    expect((await githubState()).minted.map((minted) => minted.token)).toContain(issued.password);
  });
});
