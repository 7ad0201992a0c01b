// @ts-check
import tseslint from "typescript-eslint";

/**
 * Type-checked lint for the whole repository (`npm test` runs it before the tests). Which way
 * dependencies point is not checked here but by dependency-cruiser (`.dependency-cruiser.cjs`), so
 * each rule lives in one place.
 */
export default tseslint.config(
  {
    ignores: [
      "**/node_modules/**",
      "**/dist/**",
      "**/.wrangler/**",
      ".lookout/**",
      "**/worker-configuration.d.ts",
      "**/coverage/**",
      "**/.artifacts/**",
    ],
  },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        // Each file is checked with the tsconfig that includes it; the few files no package's
        // tsconfig includes (root scripts, config files beside a tsconfig that covers only src/ and
        // test/) get the shared base options.
        projectService: {
          allowDefaultProject: ["scripts/*.ts", "apps/control-plane/*.ts", "packages/*/scripts/*.ts"],
          defaultProject: "tsconfig.base.json",
          // typescript-eslint's default cap is 8; the root scripts and config files are more than that.
          maximumDefaultProjectFileMatchCount_THIS_WILL_SLOW_DOWN_LINTING: 32,
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // The code defers many promises: each one is awaited, returned, or handed to `void` on purpose.
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-console": ["error", { allow: ["error", "warn", "info"] }],
    },
  },
  {
    // Tests and tooling may use `any` for loosely shaped JSON answers (and so use those values
    // unchecked), may print, and fake async ports with async functions that need not await.
    files: ["**/test/**", "**/*.test.ts", "**/*.test.tsx", "**/e2e/**", "bench/**", "scripts/**", "**/cli.ts"],
    rules: {
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/require-await": "off",
      "no-console": "off",
    },
  },
  {
    // Plain JavaScript (build scripts, bins, config files) has no types to check against.
    files: ["**/*.js", "**/*.mjs", "**/*.cjs"],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    // CommonJS files load their dependencies with require().
    files: ["**/*.cjs"],
    languageOptions: { sourceType: "commonjs" },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
);
