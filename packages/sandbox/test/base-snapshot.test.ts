import { SANDBOX_IMAGE } from "@lookout/sandbox-image";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DaytonaProvider, daytonaSnapshotName, SandboxProviderError, VercelProvider } from "../src/index";
import { DaytonaFake } from "./fakes/daytona-fake";
import { VercelFake } from "./fakes/vercel-fake";

/**
 * Every sandbox of a Daytona or Vercel gateway starts from the provider's base snapshot, so
 * `deleteSnapshot` refuses it before asking the vendor anything.
 */
describe("deleting the base snapshot", () => {
  let daytona: DaytonaFake;
  let vercel: VercelFake;

  beforeAll(async () => {
    daytona = await new DaytonaFake().start();
    vercel = await new VercelFake("vercel_test_token").start();
  });

  afterAll(async () => {
    await daytona.stop();
    await vercel.stop();
  });

  it("is refused by the Daytona provider, and the vendor is not asked", async () => {
    const provider = new DaytonaProvider({ apiKey: "dtn_test_key", apiUrl: daytona.http.url, target: "us" });
    const base = daytonaSnapshotName(SANDBOX_IMAGE);
    const error = await provider.deleteSnapshot(base).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SandboxProviderError);
    expect(error).toMatchObject({ kind: "permanent", reason: "invalid_request" });
    expect(daytona.http.requests.filter((request) => request.path.startsWith("/snapshots"))).toEqual([]);
    await provider.close();
  });

  it("is refused by the Vercel provider, and the vendor is not asked", async () => {
    const provider = new VercelProvider({
      token: "vercel_test_token",
      teamId: "team_1",
      projectId: "prj_1",
      baseSnapshotId: "snap_base",
      fetch: vercel.fetch,
    });
    const error = await provider.deleteSnapshot("snap_base").catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SandboxProviderError);
    expect(error).toMatchObject({ kind: "permanent", reason: "invalid_request" });
    expect(vercel.http.requests.filter((request) => request.path.includes("/snapshots/"))).toEqual([]);
    await provider.close();
  });
});
