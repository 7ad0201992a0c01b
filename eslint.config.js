// @ts-check
import tseslint from "typescript-eslint";

/** Which workspace packages each folder may import: dependencies point one way. */
const boundaries = [
  { files: ["packages/protocol/**"], forbid: ["@lookout/*"] },
  {
    files: ["packages/bridge/**"],
    forbid: [
      "@lookout/sandbox",
      "@lookout/control-plane",
      "@lookout/web",
      "@lookout/sandbox-gateway",
      "@lookout/scripted-model",
      "@lookout/e2e",
    ],
  },
  {
    files: ["packages/sandbox/**"],
    forbid: ["@lookout/bridge", "@lookout/control-plane", "@lookout/web", "@lookout/sandbox-gateway", "@lookout/e2e"],
  },
  {
    files: ["packages/scripted-model/**"],
    forbid: ["@lookout/bridge", "@lookout/sandbox", "@lookout/control-plane", "@lookout/web", "@lookout/sandbox-gateway"],
  },
  {
    files: ["apps/control-plane/src/**"],
    forbid: ["@lookout/sandbox", "@lookout/bridge", "@lookout/web", "@lookout/sandbox-gateway", "@lookout/scripted-model", "@lookout/e2e"],
  },
  { files: ["apps/sandbox-gateway/src/**"], forbid: ["@lookout/bridge", "@lookout/control-plane", "@lookout/web", "@lookout/e2e"] },
  {
    files: ["apps/web/src/**"],
    forbid: [
      "@lookout/sandbox",
      "@lookout/bridge",
      "@lookout/control-plane",
      "@lookout/sandbox-gateway",
      "@lookout/scripted-model",
      "@lookout/e2e",
    ],
  },
];

export default tseslint.config(
  { ignores: ["**/node_modules/**", "**/dist/**", "**/.wrangler/**", ".lookout/**", "**/worker-configuration.d.ts", "**/coverage/**"] },
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-console": ["error", { allow: ["error", "warn", "info"] }],
    },
  },
  {
    // Tests and tooling may use `any` for loosely shaped JSON answers and may print.
    files: ["**/test/**", "**/*.test.ts", "**/*.test.tsx", "**/e2e/**", "bench/**", "scripts/**", "**/cli.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off", "no-console": "off" },
  },
  ...boundaries.map(({ files, forbid }) => ({
    files,
    ignores: ["**/test/**", "**/*.test.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [{ group: forbid, message: "Dependencies point one way (see AGENTS.md)." }] }],
    },
  })),
);
