import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { mkdirSync as makeDir, writeFileSync } from "node:fs";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { DaytonaProvider, LocalProvider, ModalProvider, VercelProvider, type SandboxProvider } from "../src/index";
import { runProviderContract } from "./contract";
import { DaytonaFake } from "./fakes/daytona-fake";
import { ModalFake } from "./fakes/modal-fake";
import { VercelFake } from "./fakes/vercel-fake";
import { readIfExists, startUplinkStub, tempDir } from "./helpers";

/** The gateway hands every bubblewrap sandbox its relay socket; here a stub stands in for the relay. */
function withUplink(provider: LocalProvider, uplinkSocket: string): SandboxProvider {
  return {
    name: provider.name,
    capabilities: provider.capabilities,
    create: (config) => provider.create({ ...config, uplinkSocket }),
    restore: (snapshotId, config) => provider.restore(snapshotId, { ...config, uplinkSocket }),
    status: (providerId) => provider.status(providerId),
    snapshot: (providerId) => provider.snapshot(providerId),
    deleteSnapshot: (snapshotId) => provider.deleteSnapshot(snapshotId),
    terminate: (providerId) => provider.terminate(providerId),
    close: () => provider.close(),
  };
}

function parseEnvFile(text: string | undefined): Record<string, string> | undefined {
  if (text === undefined) return undefined;
  const env: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

runProviderContract({
  name: "local",
  async setup() {
    const dataDir = tempDir("contract-local");
    // Stands in for the bridge: records its env and, once per lineage, which sandbox it began in.
    const script = [
      '[ -f /workspace/origin ] || echo "$LOOKOUT_SANDBOX_ID" > /workspace/origin',
      "env > /workspace/env.tmp && mv /workspace/env.tmp /workspace/env",
      "sleep 600",
    ].join("; ");
    const provider = await LocalProvider.start({
      dataDir,
      bridgeBundle: join(dataDir, "no-bridge.mjs"),
      opencodeBin: undefined,
      command: ["/bin/sh", "-c", script],
    });
    const uplink = await startUplinkStub(dataDir);
    const file = (providerId: string, name: string) => join(provider.sandboxDir(providerId), "workspace", name);
    return {
      provider: withUplink(provider, uplink.path),
      launchedEnv: async (providerId) => parseEnvFile(readIfExists(file(providerId, "env"))),
      restoredFrom: async (providerId) => readIfExists(file(providerId, "origin"))?.trim(),
      failNextCreatePermanently: () => mkdirSync(provider.sandboxDir("contract-permanent"), { recursive: true }),
      teardown: async () => {
        await provider.close();
        await uplink.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  },
});

runProviderContract({
  name: "daytona",
  async setup() {
    const fake = await new DaytonaFake().start();
    const provider = new DaytonaProvider({ apiKey: "dtn_test_key", apiUrl: fake.http.url, target: "us" });
    return {
      provider,
      launchedEnv: async (providerId) => {
        const sandbox = fake.sandboxes.get(providerId);
        return sandbox?.commands.some((command) => command.includes("node /opt/lookout/bridge.mjs")) ? sandbox.env : undefined;
      },
      restoredFrom: async (providerId) => fake.snapshots.get(fake.sandboxes.get(providerId)?.snapshot ?? ""),
      failNextCreatePermanently: () =>
        fake.http.failNext("POST", /^\/sandbox$/, { status: 403, body: { statusCode: 403, message: "Forbidden", code: "FORBIDDEN" } }),
      failNextCreateTransiently: () =>
        fake.http.failNext("POST", /^\/sandbox$/, { status: 503, body: { statusCode: 503, message: "Service Unavailable" } }),
      failSnapshotDeletesTransiently: () => {
        fake.http.failNext(
          "DELETE",
          /^\/snapshots\/[^/]+$/,
          { status: 503, body: { statusCode: 503, message: "Service Unavailable" } },
          20,
        );
        return () => fake.http.clearFailures();
      },
      teardown: async () => {
        await provider.close();
        await fake.stop();
      },
    };
  },
});

runProviderContract({
  name: "vercel",
  async setup() {
    const fake = await new VercelFake("vercel_test_token").start();
    const provider = new VercelProvider({
      token: "vercel_test_token",
      teamId: "team_1",
      projectId: "prj_1",
      baseSnapshotId: "snap_base",
      fetch: fake.fetch,
    });
    const byName = (providerId: string) => fake.sandboxes.get(providerId);
    return {
      provider,
      launchedEnv: async (providerId) => {
        const sandbox = byName(providerId);
        const launched = sandbox?.commands.some((c) => c.command === "node" && c.args.join(" ") === "/opt/lookout/bridge.mjs");
        return launched ? sandbox?.env : undefined;
      },
      restoredFrom: async (providerId) => fake.snapshots.get(byName(providerId)?.sourceSnapshotId ?? ""),
      failNextCreatePermanently: () =>
        fake.http.failNext("POST", /^\/v[23]\/sandboxes$/, {
          status: 400,
          body: { error: { code: "bad_request", message: "Invalid timeout" } },
        }),
      failNextCreateTransiently: () =>
        fake.http.failNext(
          "POST",
          /^\/v[23]\/sandboxes$/,
          { status: 503, body: { error: { code: "unavailable", message: "Try later" } } },
          20,
        ),
      failSnapshotDeletesTransiently: () => {
        fake.http.failNext(
          "DELETE",
          /^\/v2\/sandboxes\/snapshots\/[^/]+$/,
          { status: 503, body: { error: { code: "unavailable", message: "Try later" } } },
          20,
        );
        return () => fake.http.clearFailures();
      },
      teardown: async () => {
        await provider.close();
        await fake.stop();
      },
    };
  },
});

runProviderContract({
  name: "modal",
  async setup() {
    const fake = await new ModalFake().start();
    const repoRoot = tempDir("contract-modal");
    makeDir(join(repoRoot, "packages", "bridge", "dist"), { recursive: true });
    writeFileSync(join(repoRoot, "packages", "bridge", "dist", "bridge.mjs"), "// the bridge bundle\n");
    // The SDK takes its endpoint from its profile; MODAL_SERVER_URL is the documented override.
    const previousServerUrl = process.env.MODAL_SERVER_URL;
    process.env.MODAL_SERVER_URL = fake.url;
    const provider = new ModalProvider({ tokenId: "ak-test", tokenSecret: "as-test", appName: "lookout", repoRoot });
    return {
      provider,
      launchedEnv: async (providerId) => {
        const sandbox = fake.sandboxes.get(providerId);
        return sandbox?.command.join(" ") === "node /opt/lookout/bridge.mjs" ? sandbox.env : undefined;
      },
      restoredFrom: async (providerId) => fake.images.get(fake.sandboxes.get(providerId)?.imageId ?? "")?.replace(/^lookout-/, ""),
      failNextCreatePermanently: () => fake.failNext("SandboxCreateV2", GrpcStatus.PERMISSION_DENIED),
      failNextCreateTransiently: () => fake.failNext("SandboxCreateV2", GrpcStatus.UNAVAILABLE, 10),
      failSnapshotDeletesTransiently: () => {
        fake.failNext("ImageDelete", GrpcStatus.UNAVAILABLE, 20);
        return () => fake.clearFailures();
      },
      teardown: async () => {
        await provider.close();
        await fake.stop();
        rmSync(repoRoot, { recursive: true, force: true });
        if (previousServerUrl === undefined) delete process.env.MODAL_SERVER_URL;
        else process.env.MODAL_SERVER_URL = previousServerUrl;
      },
    };
  },
});
