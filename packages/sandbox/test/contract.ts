import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SandboxProviderError, type SandboxCreateConfig, type SandboxProvider } from "../src/index";
import { waitFor } from "./helpers";

/** What the shared contract needs to know about one provider under test. */
export interface ContractSubject {
  readonly provider: SandboxProvider;
  /** The environment the bridge was launched with in this sandbox, once it has been launched. */
  launchedEnv(providerId: string): Promise<Record<string, string> | undefined>;
  /** The `sandboxId` of the sandbox whose snapshot this one was restored from, if any. */
  restoredFrom(providerId: string): Promise<string | undefined>;
  /** Makes the next create fail the way the vendor fails transiently (503, UNAVAILABLE, …). */
  failNextCreateTransiently?(): void;
  /** Makes the next create fail the way the vendor refuses a request (400, 403, …). */
  failNextCreatePermanently(): void;
  /**
   * Makes snapshot deletions fail the way the vendor fails transiently (503, UNAVAILABLE, …), past
   * the SDK's own retries, until the returned function is called.
   */
  failSnapshotDeletesTransiently?(): () => void;
  teardown(): Promise<void>;
}

export interface ContractHarness {
  readonly name: string;
  setup(): Promise<ContractSubject>;
}

export function createConfig(sandboxId: string): SandboxCreateConfig {
  return {
    sandboxId,
    env: { LOOKOUT_SANDBOX_ID: sandboxId, LOOKOUT_SESSION_ID: "session-1", USER_SECRET: "s3cret" },
    source: { kind: "image" },
    timeoutMs: 10 * 60_000,
  };
}

/**
 * The provider contract every backend passes: create → running (with the bridge launched and the
 * sandbox layout in its env) → snapshot → restore → terminate, snapshots deleted idempotently, and
 * vendor failures classified as transient or permanent from structured fields.
 */
export function runProviderContract(harness: ContractHarness): void {
  describe(`${harness.name} provider contract`, () => {
    let subject: ContractSubject;

    beforeAll(async () => {
      subject = await harness.setup();
    });

    afterAll(async () => {
      await subject.teardown();
    });

    it("creates a running sandbox, launches the bridge, snapshots, restores and terminates", async () => {
      const { provider } = subject;
      const created = await provider.create(createConfig("contract-a"));
      expect(created.providerId).not.toBe("");
      await waitFor(async () => (await provider.status(created.providerId)) === "running", "the sandbox to run");

      const env = await waitFor(() => subject.launchedEnv(created.providerId), "the bridge to launch");
      expect(env.LOOKOUT_SANDBOX_ID).toBe("contract-a");
      expect(env.USER_SECRET).toBe("s3cret");
      expect(env.LOOKOUT_WORKDIR).toBe("/workspace/repo");
      expect(env.LOOKOUT_OPENCODE_BIN).toBe("/opt/lookout/opencode");
      expect(env.LOOKOUT_HOME).toBe("/home/sandbox");

      const { snapshotId } = await provider.snapshot(created.providerId);
      expect(snapshotId).not.toBe("");

      const restored = await provider.restore(snapshotId, { ...createConfig("contract-b") });
      expect(restored.providerId).not.toBe(created.providerId);
      await waitFor(async () => (await provider.status(restored.providerId)) === "running", "the restored sandbox to run");
      expect(await waitFor(() => subject.restoredFrom(restored.providerId), "the restored sandbox's origin")).toBe("contract-a");

      await provider.terminate(created.providerId);
      await provider.terminate(restored.providerId);
      const after = await provider.status(restored.providerId).catch((error: unknown) => error);
      if (after instanceof SandboxProviderError) expect(after.reason).toBe("not_found");
      else expect(after).toBe("stopped");
      // Terminating what is already gone succeeds: the control plane may retry.
      await provider.terminate(restored.providerId);
    });

    it("deletes a snapshot for good, and deleting it again succeeds", async () => {
      const { provider } = subject;
      const created = await provider.create(createConfig("contract-c"));
      await waitFor(async () => (await provider.status(created.providerId)) === "running", "the sandbox to run");
      const { snapshotId } = await provider.snapshot(created.providerId);
      await provider.terminate(created.providerId);

      if (subject.failSnapshotDeletesTransiently) {
        const recover = subject.failSnapshotDeletesTransiently();
        const failed = await provider.deleteSnapshot(snapshotId).catch((caught: unknown) => caught);
        recover();
        expect(failed).toBeInstanceOf(SandboxProviderError);
        expect(failed).toMatchObject({ kind: "transient", provider: provider.name });
      }
      await provider.deleteSnapshot(snapshotId);
      const restored = await provider.restore(snapshotId, createConfig("contract-d")).catch((caught: unknown) => caught);
      expect(restored).toBeInstanceOf(SandboxProviderError);
      expect(restored).toMatchObject({ kind: "permanent", reason: "not_found" });
      // The control plane retries a deletion whose answer it did not get: a gone snapshot is deleted.
      await provider.deleteSnapshot(snapshotId);
    });

    it("classifies a vendor refusal as a permanent failure", async () => {
      subject.failNextCreatePermanently();
      const error = await subject.provider.create(createConfig("contract-permanent")).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(SandboxProviderError);
      expect(error).toMatchObject({ kind: "permanent", provider: subject.provider.name });
    });

    it.skipIf(harness.name === "local")("classifies a vendor outage as a transient failure", async () => {
      subject.failNextCreateTransiently?.();
      const error = await subject.provider.create(createConfig("contract-transient")).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(SandboxProviderError);
      expect(error).toMatchObject({ kind: "transient", provider: subject.provider.name });
    });
  });
}
