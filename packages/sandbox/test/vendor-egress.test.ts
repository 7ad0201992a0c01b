import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allowedDomains, DaytonaProvider, lookoutHosts, PRIVATE_CIDRS, VercelProvider, type SandboxCreateConfig } from "../src/index";
import { VercelFake } from "./fakes/vercel-fake";

const env = {
  LOOKOUT_CONTROL_PLANE_URL: "https://lookout.example.com",
  LOOKOUT_REPO_URL: "https://github.com/acme/app.git",
  LOOKOUT_MODEL_PROVIDERS: JSON.stringify([
    { id: "anthropic", kind: "anthropic", baseUrl: "https://gateway.example.com/model-proxy/anthropic", apiKey: "k", models: ["m"] },
  ]),
};

function config(egress: SandboxCreateConfig["egress"]): SandboxCreateConfig {
  return { sandboxId: "sbx-egress", env, source: { kind: "image" }, timeoutMs: 60_000, ...(egress ? { egress } : {}) };
}

describe("vendor egress rules", () => {
  it("always keep the hosts the bridge dials: the control plane, the repository and the model proxy", () => {
    expect(lookoutHosts(env)).toEqual(["lookout.example.com", "github.com", "gateway.example.com"]);
  });

  it("public puts no domain restriction; allowlist adds its hosts; none leaves Lookout's own", () => {
    expect(allowedDomains(config(undefined))).toBeUndefined();
    expect(allowedDomains(config({ mode: "public" }))).toBeUndefined();
    expect(allowedDomains(config({ mode: "allowlist", hosts: ["registry.npmjs.org", "*.pypi.org"] }))).toEqual([
      "lookout.example.com",
      "github.com",
      "gateway.example.com",
      "registry.npmjs.org",
      "*.pypi.org",
    ]);
    expect(allowedDomains(config({ mode: "none" }))).toEqual(["lookout.example.com", "github.com", "gateway.example.com"]);
  });

  it("Daytona, which filters by CIDR only, refuses a domain policy with a clear permanent error", async () => {
    const daytona = new DaytonaProvider({ apiKey: "k", apiUrl: "http://127.0.0.1:1/api" });
    await expect(daytona.create(config({ mode: "none" }))).rejects.toMatchObject({
      kind: "permanent",
      reason: "unsupported",
      message: expect.stringMatching(/CIDR only/),
    });
  });
});

describe("the Vercel provider's firewall", () => {
  let fake: VercelFake;
  beforeAll(async () => {
    fake = await new VercelFake("vercel_test_token").start();
  });
  afterAll(async () => {
    await fake.stop();
  });

  it("denies private ranges always and sends the allowlist's domains", async () => {
    const provider = new VercelProvider({
      token: "vercel_test_token",
      teamId: "team_1",
      projectId: "prj_1",
      baseSnapshotId: "snap_base",
      fetch: fake.fetch,
    });
    const { providerId } = await provider.create(config({ mode: "allowlist", hosts: ["registry.npmjs.org"] }));
    const policy = JSON.stringify(fake.sandboxes.get(providerId)?.networkPolicy);
    for (const cidr of PRIVATE_CIDRS) expect(policy).toContain(cidr);
    expect(policy).toContain("registry.npmjs.org");
    expect(policy).toContain("lookout.example.com");
    await provider.close();
  });
});
