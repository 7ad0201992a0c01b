import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { SANDBOX_TOKEN_API_KEY } from "@lookout/protocol";
import { silentLogger } from "@lookout/sandbox";
import { describe, expect, it } from "vitest";
import { loadGatewaySettings } from "../src/config";
import { sandboxModelProviders } from "../src/model-providers";

const ROOT = "/srv/lookout";

describe("gateway settings", () => {
  it("defaults to the local provider on 127.0.0.1:8788 with data under the repository", () => {
    const settings = loadGatewaySettings({ LOOKOUT_OPENCODE_BIN: "/opt/opencode" }, ROOT);
    expect(settings).toMatchObject({
      host: "127.0.0.1",
      port: 8788,
      dataDir: "/srv/lookout/.lookout/gateway",
      serviceSecret: undefined,
      provider: {
        kind: "local",
        bridgeBundle: "/srv/lookout/packages/bridge/dist/bridge.mjs",
        opencodeBin: "/opt/opencode",
        opencodeConfigDir: "/srv/lookout/.lookout/image/opencode-config",
        unsafeNoSandbox: false,
      },
      models: { scriptedUrl: undefined, anthropic: undefined, openai: undefined, openaiCompatible: undefined },
    });
  });

  it("refuses the local provider in a deployed environment, chosen or by default", () => {
    for (const env of [{ LOOKOUT_ENVIRONMENT: "production" }, { LOOKOUT_ENVIRONMENT: "staging", LOOKOUT_SANDBOX_PROVIDER: "local" }]) {
      expect(() => loadGatewaySettings(env, ROOT)).toThrow(
        expect.objectContaining({ code: "CONFIGURATION_INVALID", message: expect.stringMatching(/local sandbox provider does not run/) }),
      );
    }
    const deployed = loadGatewaySettings(
      { LOOKOUT_ENVIRONMENT: "production", LOOKOUT_SANDBOX_PROVIDER: "modal", MODAL_TOKEN_ID: "ak-1", MODAL_TOKEN_SECRET: "as-1" },
      ROOT,
    );
    expect(deployed.provider.kind).toBe("modal");
    expect(loadGatewaySettings({ LOOKOUT_ENVIRONMENT: "local" }, ROOT).provider.kind).toBe("local");
  });

  it("says which setting a remote provider is missing", () => {
    expect(() => loadGatewaySettings({ LOOKOUT_SANDBOX_PROVIDER: "modal", MODAL_TOKEN_ID: "ak-1" }, ROOT)).toThrow(/MODAL_TOKEN_SECRET/);
    expect(() => loadGatewaySettings({ LOOKOUT_SANDBOX_PROVIDER: "nope" }, ROOT)).toThrow(/LOOKOUT_SANDBOX_PROVIDER/);
  });

  it("caps running sandboxes at 32 unless told otherwise, and refuses a cap that is not a positive whole number", () => {
    expect(loadGatewaySettings({}, ROOT).maxRunningSandboxes).toBe(32);
    expect(loadGatewaySettings({ LOOKOUT_MAX_RUNNING_SANDBOXES: "3" }, ROOT).maxRunningSandboxes).toBe(3);
    for (const bad of ["0", "-1", "2.5", "many"]) {
      expect(() => loadGatewaySettings({ LOOKOUT_MAX_RUNNING_SANDBOXES: bad }, ROOT)).toThrow(/LOOKOUT_MAX_RUNNING_SANDBOXES/);
    }
  });

  it("reads model keys and lists from the environment", () => {
    const settings = loadGatewaySettings(
      {
        ANTHROPIC_API_KEY: "sk-ant",
        OPENAI_API_KEY: "sk-oai",
        LOOKOUT_OPENAI_MODELS: "gpt-a, gpt-b",
        LOOKOUT_OPENAI_COMPATIBLE_BASE_URL: "http://127.0.0.1:11434/v1",
        LOOKOUT_OPENAI_COMPATIBLE_ID: "ollama",
        LOOKOUT_OPENAI_COMPATIBLE_MODELS: "llama3",
      },
      ROOT,
    );
    expect(settings.models.anthropic).toMatchObject({ apiKey: "sk-ant", baseUrl: "https://api.anthropic.com/v1" });
    expect(settings.models.openai).toMatchObject({ apiKey: "sk-oai", models: ["gpt-a", "gpt-b"] });
    expect(settings.models.openaiCompatible).toEqual({
      id: "ollama",
      baseUrl: "http://127.0.0.1:11434/v1",
      apiKey: undefined,
      models: ["llama3"],
    });
  });
});

describe("sandbox model providers", () => {
  it("offers every provider through the model proxy with a placeholder key, the scripted model listed with its token", async () => {
    const seenAuthorization: (string | undefined)[] = [];
    const server = createServer((request, response) => {
      seenAuthorization.push(request.headers.authorization);
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ object: "list", data: request.url === "/v1/models" ? [{ id: "demo" }, { id: "pr-review" }] : [] }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    try {
      const providers = await sandboxModelProviders(
        {
          scriptedUrl: url,
          scriptedToken: "offline-model-token-0123456789",
          anthropic: undefined,
          openai: { apiKey: "sk-real", baseUrl: "https://api.openai.com/v1", models: ["gpt-5"] },
          openaiCompatible: { id: "ollama", baseUrl: "http://127.0.0.1:11434/v1", apiKey: undefined, models: ["llama3"] },
        },
        {
          proxyBaseUrl: "http://127.0.0.1:8788/model-proxy",
          requestedModel: "scripted/demo",
          logger: silentLogger,
        },
      );
      expect(providers).toEqual([
        {
          id: "scripted",
          kind: "openai-compatible",
          baseUrl: "http://127.0.0.1:8788/model-proxy/scripted",
          apiKey: SANDBOX_TOKEN_API_KEY,
          models: ["demo", "pr-review"],
        },
        {
          id: "openai",
          kind: "openai",
          baseUrl: "http://127.0.0.1:8788/model-proxy/openai",
          apiKey: SANDBOX_TOKEN_API_KEY,
          models: ["gpt-5"],
        },
        {
          id: "ollama",
          kind: "openai-compatible",
          baseUrl: "http://127.0.0.1:8788/model-proxy/ollama",
          apiKey: SANDBOX_TOKEN_API_KEY,
          models: ["llama3"],
        },
      ]);
      expect(JSON.stringify(providers)).not.toContain("sk-real");
      expect(JSON.stringify(providers)).not.toContain("offline-model-token");
      expect(seenAuthorization).toEqual(["Bearer offline-model-token-0123456789"]);
    } finally {
      server.close();
    }
  });
});
