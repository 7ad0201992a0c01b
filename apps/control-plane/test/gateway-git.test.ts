import type { GitMergeRequest } from "@lookout/protocol";
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { GatewayGit } from "../src/scm/gateway-git";
import { GATEWAY_SECRET } from "./fake-gateway";

const BASE = "https://gateway.test";

/** The fake gateway behind the `GATEWAY` binding, keeping what each request carried. */
function bound(): { fetcher: typeof fetch; sent: RequestInit[] } {
  const sent: RequestInit[] = [];
  return {
    fetcher: (input, init) => {
      sent.push(init ?? {});
      return env.GATEWAY!.fetch(input, init);
    },
    sent,
  };
}

/** A gateway that answers every request with `status` and `body`. */
const answering =
  (status: number, body: unknown): typeof fetch =>
  () =>
    Promise.resolve(Response.json(body, { status }));

const PERSON = { name: "Admin", email: "admin@users.lookout.local" };
const MERGE: GitMergeRequest = {
  repositoryPath: "/srv/app",
  base: "main",
  head: "lookout/fix",
  expectedHeadSha: "2".repeat(40),
  message: "Merge lookout/fix",
  author: PERSON,
  committer: PERSON,
};

describe("the control plane's client of the gateway's git operations", () => {
  it("sends signed requests the gateway verifies, with no time limit of its own, and returns the parsed answer", async () => {
    const gateway = bound();
    const git = new GatewayGit(BASE, GATEWAY_SECRET, gateway.fetcher);
    expect(await git.check("/srv/app")).toBe("/srv/app");
    expect(await git.branches("/srv/app")).toEqual([{ name: "main", sha: "1".repeat(40) }]);
    expect(gateway.sent.map((init) => init.signal)).toEqual([undefined, undefined]);
  });

  it("fails closed without GATEWAY_SERVICE_SECRET, sending nothing", async () => {
    const gateway = bound();
    await expect(new GatewayGit(BASE, undefined, gateway.fetcher).check("/srv/app")).rejects.toMatchObject({
      code: "SERVICE_NOT_CONFIGURED",
      message: "GATEWAY_SERVICE_SECRET is not set, so local repositories cannot be reached.",
    });
    expect(gateway.sent).toHaveLength(0);
  });

  it("passes the gateway's registry errors on as the same codes, with their details", async () => {
    await expect(new GatewayGit(BASE, GATEWAY_SECRET, bound().fetcher).check("/etc")).rejects.toMatchObject({ code: "FORBIDDEN" });
    const conflict = answering(409, {
      error: { code: "MERGE_CONFLICT", message: "conflicts in README.md", details: { files: ["README.md"] } },
    });
    await expect(new GatewayGit(BASE, GATEWAY_SECRET, conflict).merge(MERGE)).rejects.toMatchObject({
      code: "MERGE_CONFLICT",
      message: "conflicts in README.md",
      details: { files: ["README.md"] },
    });
    await expect(new GatewayGit(BASE, GATEWAY_SECRET, answering(502, "<html>bad gateway</html>")).check("/srv/app")).rejects.toMatchObject({
      code: "INTERNAL",
      message: "The gateway answered 502.",
    });
  });

  it("names an unreachable gateway SANDBOX_UNAVAILABLE without its address", async () => {
    const unreachable: typeof fetch = () => Promise.reject(new TypeError("connection refused"));
    await expect(new GatewayGit(BASE, GATEWAY_SECRET, unreachable).check("/srv/app")).rejects.toMatchObject({
      code: "SANDBOX_UNAVAILABLE",
      message: "The sandbox gateway is unreachable: TypeError: connection refused",
    });
  });
});
