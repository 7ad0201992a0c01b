// Bundles the bridge into one ESM file that runs with plain `node dist/bridge.mjs`: ws, zod, the MCP SDK, the
// OpenCode SDK and the protocol are inlined; only Node built-ins are loaded at run time.
import { build } from "esbuild";

await build({
  entryPoints: ["src/main.ts"],
  outfile: "dist/bridge.mjs",
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  // ws is CommonJS and calls require() for Node built-ins; ESM output needs a real require.
  banner: {
    js: "import { createRequire as __lookoutCreateRequire } from 'node:module'; const require = __lookoutCreateRequire(import.meta.url);",
  },
  // Optional native speed-ups of ws; ws falls back to JavaScript when they are absent.
  external: ["bufferutil", "utf-8-validate"],
  legalComments: "none",
  logLevel: "warning",
});
