// @ts-check
/**
 * Which way dependencies may point (AGENTS.md, "Rules that tests enforce"). `npm test` runs
 * `depcruise` with this file over every workspace package, and then over a throwaway tree that breaks
 * each rule once, so a rule that stops matching fails the run instead of passing quietly.
 *
 * Paths are relative to the repository root. Workspace packages resolve through their
 * `node_modules` symlinks to their real folders, so `@lookout/sandbox` is `packages/sandbox/...`.
 */

/** Folders whose files are source of a workspace package. */
const WORKSPACE = "^(apps|packages|infra|bench)/";

/** @type {import("dependency-cruiser").IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "apps-are-leaves",
      comment: "An app never imports another app; what two apps share belongs in a package.",
      severity: "error",
      from: { path: "^apps/([^/]+)/" },
      to: { path: "^apps/", pathNot: "^apps/$1/" },
    },
    {
      name: "packages-never-import-apps",
      comment: "Libraries are below the deployables: packages/* and infra/* never import apps/*.",
      severity: "error",
      from: { path: "^(packages|infra)/" },
      to: { path: "^apps/" },
    },
    {
      name: "protocol-stands-alone",
      comment: "protocol ← everything: it imports no other workspace package.",
      severity: "error",
      from: { path: "^packages/protocol/" },
      to: { path: WORKSPACE, pathNot: "^packages/protocol/" },
    },
    {
      name: "bridge-only-protocol",
      comment: "The bridge runs inside sandboxes: of the workspace it imports only protocol (its tests may use the scripted model).",
      severity: "error",
      from: { path: "^packages/bridge/", pathNot: "^packages/bridge/test/" },
      to: { path: WORKSPACE, pathNot: "^packages/(bridge|protocol)/" },
    },
    {
      name: "bridge-ships-few-packages",
      comment:
        "What the bridge runs in the sandbox (bundled into dist/bridge.mjs) uses these npm packages alone: the OpenCode SDK, the MCP SDK (the create_pull_request tool's server), ws and zod.",
      severity: "error",
      from: { path: "^packages/bridge/src/", pathNot: "\\.test\\.ts$" },
      to: { path: "node_modules/", pathNot: "node_modules/(@opencode-ai/sdk|@modelcontextprotocol/sdk|ws|zod)/" },
    },
    {
      name: "sandbox-only-from-gateway",
      comment: "sandbox ← gateway: only the sandbox gateway starts sandboxes.",
      severity: "error",
      from: { pathNot: "^(packages/sandbox|apps/sandbox-gateway)/" },
      to: { path: "^packages/sandbox/" },
    },
    {
      name: "sandbox-image-only-from-sandbox",
      comment: "The image definition is turned into each provider's form by packages/sandbox alone.",
      severity: "error",
      from: { pathNot: "^(infra/sandbox-image|packages/sandbox)/" },
      to: { path: "^infra/sandbox-image/" },
    },
    {
      name: "test-harness-only-from-tests",
      comment: "The e2e stack, the dev stack and the scripted model are test and demo tooling; shipped source never imports them.",
      severity: "error",
      from: { path: "^(apps/[^/]+|packages/(protocol|bridge|sandbox))/src/" },
      to: { path: "^packages/(e2e|dev-stack|scripted-model)/" },
    },
    {
      name: "no-hidden-edges",
      comment: "A package reaches another only by its name (a dependency in its package.json), never by a relative path into its folder.",
      severity: "error",
      from: { path: "^(apps|packages|infra)/([^/]+)/" },
      to: { path: WORKSPACE, pathNot: "^$1/$2/", dependencyTypes: ["local"] },
    },
    {
      name: "no-hidden-edges-from-bench",
      comment: "The benchmarks are a package too: they reach the others by name.",
      severity: "error",
      from: { path: "^bench/" },
      to: { path: "^(apps|packages|infra)/", dependencyTypes: ["local"] },
    },
    {
      name: "no-unlisted-packages",
      comment: "Every npm package a workspace package imports is listed in its own package.json.",
      severity: "error",
      from: { path: WORKSPACE },
      to: { dependencyTypes: ["npm-no-pkg", "npm-unknown"] },
    },
    {
      name: "no-dev-dependencies-in-shipped-source",
      comment: "What src/ runs in production comes from dependencies, not devDependencies (types alone may come from either).",
      severity: "error",
      from: { path: "^(apps|packages|infra)/[^/]+/src/" },
      to: { dependencyTypes: ["npm-dev"], dependencyTypesNot: ["type-only"] },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^|/)(dist|\\.wrangler|\\.turbo|coverage)/" },
    // Type-only imports are edges too: a package that names another's types depends on it.
    tsPreCompilationDeps: true,
    // Tooling the root lists (vitest, tsx, typescript) is available to every package in the workspace.
    combinedDependencies: true,
    tsConfig: { fileName: "tsconfig.base.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      extensions: [".ts", ".tsx", ".d.ts", ".js", ".mjs", ".cjs", ".json"],
      mainFields: ["module", "main", "types", "typings"],
    },
  },
};
