import { describe, expect, it } from "vitest";
import { modelsFromEnv } from "../src/routes/models";
import packageJson from "../package.json";
import { adminCookie, call, withCookie } from "./support/auth";

describe("GET /api/health", () => {
  it("is public and reports the version once D1 answers", async () => {
    const response = await call("/api/health");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true, version: packageJson.version });
  });
});

describe("GET /api/models", () => {
  it("offers the configured models and labels the scripted one as the offline demo", async () => {
    const response = await call("/api/models", withCookie(await adminCookie()));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      models: [{ id: "scripted/demo", label: "Offline demo (demo)", offline: true }],
      defaultModel: "scripted/demo",
    });
  });

  it("keeps the default in the list, skips malformed entries and removes duplicates", () => {
    expect(
      modelsFromEnv({
        MODELS: "anthropic/claude-sonnet-4-5, not a model ,openai/gpt-5,anthropic/claude-sonnet-4-5,",
        DEFAULT_MODEL: "scripted/demo",
      }),
    ).toEqual({
      models: [
        { id: "scripted/demo", label: "Offline demo (demo)", offline: true },
        { id: "anthropic/claude-sonnet-4-5", label: "claude-sonnet-4-5 (anthropic)", offline: false },
        { id: "openai/gpt-5", label: "gpt-5 (openai)", offline: false },
      ],
      defaultModel: "scripted/demo",
    });
  });

  it("falls back to the offline demo when nothing usable is configured", () => {
    expect(modelsFromEnv({ MODELS: "", DEFAULT_MODEL: "nonsense" })).toEqual({
      models: [{ id: "scripted/demo", label: "Offline demo (demo)", offline: true }],
      defaultModel: "scripted/demo",
    });
    expect(modelsFromEnv({ MODELS: "openai/gpt-5", DEFAULT_MODEL: "" }).defaultModel).toBe("openai/gpt-5");
  });
});
