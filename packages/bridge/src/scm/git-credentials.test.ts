import { describe, expect, it } from "vitest";
import { bodyText, requestUrl } from "../../test/support/fetch-request";
import { authorizationConfig, controlPlaneCredentials, credentialRequestFor } from "./git-credentials";
import { remoteScheme } from "./remote";

describe("git credentials", () => {
  it("asks the control plane for the remote git is about to use, with the sandbox token", async () => {
    const seen: { url: string; headers: Headers; body: unknown }[] = [];
    const fetcher: typeof fetch = async (input, init) => {
      seen.push({ url: requestUrl(input), headers: new Headers(init?.headers), body: JSON.parse(bodyText(init)) });
      return Response.json({ username: "lookout", password: "lgc1.claims.sig", expiresAt: 1_900_000_000_000 });
    };
    const credentials = controlPlaneCredentials({
      controlPlaneUrl: "http://cp/",
      sessionId: "ses_1",
      sandboxId: "sbx_1",
      sandboxToken: "tok",
      fetcher,
    });
    const request = credentialRequestFor("http://127.0.0.1:8788/git/ses_1.git");
    expect(request).toEqual({ protocol: "http", host: "127.0.0.1:8788", path: "git/ses_1.git" });
    expect(await credentials(request ?? { protocol: "http", host: "x" })).toEqual({
      username: "lookout",
      password: "lgc1.claims.sig",
      expiresAt: 1_900_000_000_000,
    });
    expect(seen[0]?.url).toBe("http://cp/api/sessions/ses_1/git-credentials");
    expect(seen[0]?.headers.get("authorization")).toBe("Bearer tok");
    expect(seen[0]?.headers.get("x-lookout-sandbox-id")).toBe("sbx_1");
    expect(seen[0]?.body).toEqual({ protocol: "http", host: "127.0.0.1:8788", path: "git/ses_1.git" });
    expect(credentialRequestFor("https://github.com/acme/app.git")).toEqual({
      protocol: "https",
      host: "github.com",
      path: "acme/app.git",
    });
    // Local paths (tests, development) need no credential from Lookout.
    expect(credentialRequestFor("/srv/repos/app.git")).toBeUndefined();
    expect(credentialRequestFor("file:///srv/repos/app.git")).toBeUndefined();
  });

  it("fails when the control plane refuses, and never lets a value start another header", async () => {
    const refused = controlPlaneCredentials({
      controlPlaneUrl: "http://cp",
      sessionId: "s",
      sandboxId: "b",
      sandboxToken: "t",
      fetcher: async () => new Response("no", { status: 401 }),
    });
    await expect(refused({ protocol: "https", host: "github.com" })).rejects.toThrow(/401/);
    expect(() => authorizationConfig("http://gw/git/s.git", { username: "x", password: "a\r\nX-Evil: 1", expiresAt: 1 })).toThrow(
      /control character/,
    );
  });

  it("becomes basic auth for the session's remote only, as config for the environment", () => {
    expect(authorizationConfig("http://gw/git/ses_1.git", { username: "lookout", password: "p", expiresAt: 1 })).toEqual([
      ["http.extraHeader", ""],
      ["http.http://gw/git/ses_1.git.extraHeader", `Authorization: Basic ${Buffer.from("lookout:p").toString("base64")}`],
    ]);
  });

  it("allows git the remote's protocol only", () => {
    expect(remoteScheme("https://github.com/a/b.git")).toBe("https");
    expect(remoteScheme("http://127.0.0.1:4480/git/s.git")).toBe("http");
    expect(remoteScheme("/srv/a.git")).toBe("file");
    expect(remoteScheme("git@github.com:a/b.git")).toBe("ssh");
  });
});
